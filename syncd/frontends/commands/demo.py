"""``syncd demo``: the whole main job, offline, in one command.

Starts the built-in Wix emulator with the demo store, writes a throw-away configuration
pointing at it, and runs what a user would run against a real store: ``plan`` (what would
change), ``sync`` (write it, journaled), and ``plan`` again, which must find nothing to
do. It finishes with the emulator's own count of the API calls made, beside the minimum
the Wix API allows for that store.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import tempfile
from pathlib import Path
from typing import Any

import yaml

from syncd.base.logs import configure_logging
from syncd.core.deltas import split_plan
from syncd.cycle.sync import SiteSync
from syncd.edges.backend import backend_for
from syncd.edges.config import Settings
from syncd.frontends.commands.common import ExitCode
from syncd.frontends.render import apply_text, plan_text
from syncd_emulator import EmulatorConfig, serve

REPO_CONFIG = Path(__file__).resolve().parents[3] / "config"
"""``config/`` of the source checkout the package runs from."""

DESCRIPTION = """\
Run the main job end to end against the built-in Wix emulator, without network or
credentials: start the emulator with the demo store (a few dozen products: T-shirts with
size and colour, mugs without options, a hidden product, an untracked product and a SKU
shared by two variants), then plan, sync and plan again with config/stock.example.csv as
the source of truth. Nothing outside a temporary directory is written.
"""

EPILOG = """\
next steps:
  syncd emulator                                   keep an emulator running on :8787
  WIX_API_KEY=demo-key syncd plan -c config/syncd.example.yaml
  syncd sync --help                                the safety guards and exit codes
"""


def register(subparsers: Any) -> None:
    """Add the ``demo`` sub-command."""
    parser = subparsers.add_parser(
        "demo", help="plan and sync the demo stock file into the built-in emulator",
        description=DESCRIPTION, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", type=Path, default=REPO_CONFIG / "stock.example.csv",
                        metavar="FILE",
                        help="the stock file to sync (default: config/stock.example.csv)")
    parser.add_argument("--catalog", choices=("v1", "v3"), default="v1",
                        help="the catalog the emulated store runs (default v1)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """``syncd demo``."""
    source: Path = args.source.resolve()
    if not source.is_file():
        print(f"syncd demo: {source}: no such file (run from a clone of the repository, or "
              "give --source)")
        return ExitCode.FAILED
    configure_logging(level="warning")
    return asyncio.run(_demo(source, args.catalog))


async def _demo(source: Path, catalog: str) -> int:
    api_key = "demo-key"
    async with serve(EmulatorConfig(catalog=catalog, api_key=api_key)) as emu:
        print(f"== Wix emulator (catalog {catalog}) with the demo store on {emu.url}")
        with tempfile.TemporaryDirectory(prefix="syncd-demo-") as tmp:
            config = Path(tmp) / "syncd.yaml"
            config.write_text(yaml.safe_dump({
                "sites": [{"name": "demo", "site_id": "demo-site", "api_key_env": "WIX_API_KEY",
                           "base_url": emu.url, "catalog": "auto"}],
                "source": {"path": str(source)},
                "state_dir": str(Path(tmp) / "state"),
            }))
            settings = Settings.from_file(config, env={"WIX_API_KEY": api_key})
            site = settings.sites[0]
            async with backend_for(settings) as backend, \
                    SiteSync(site, state_dir=settings.state_dir, backend=backend) as sync:
                print(f"\n== syncd plan  (source {source.name})\n")
                first = await sync.plan(force=True)
                print(plan_text("demo", first))

                print("\n== syncd sync\n")
                result = await sync.sync()
                print(apply_text("demo", result))

                print("\n== syncd plan again: the store now says what the file says\n")
                second = await sync.plan()
                print(plan_text("demo", second))
                lines = len(await backend.read_journal(site.name))
                print(f"\njournal: {lines} lines "
                      "(each write as pending, then its outcome)")
        stats = emu.stats()
        split = split_plan(first.plan, settings.sites[0].policy.write_mode)
        v1_writes = (split.delta_calls + len({c.variant.product_id for c in split.absolute})
                     if split.deltas else len(first.plan.by_product()))
        products = len({v.product_id for v in first.snapshot.variants})
        minimum = _minimum_calls(catalog, products, len(first.snapshot.variants),
                                 v1_writes, len(first.plan.changes))
        requests = stats["requests"]
        assert isinstance(requests, dict)
        print(f"\nAPI requests the emulator served ({stats['requests_total']} in all, "
              f"{stats['rate_limited']} answered 429):")
        for endpoint, count in requests.items():
            print(f"  {count:>4}  {endpoint}")
        print(f"The least any sync of this store can make is {minimum} calls (catalog version, "
              f"one read per {'100 products' if catalog == 'v1' else '1000 items'}, "
              f"{_write_words(catalog, bool(split.deltas))}); "
              f"this sync made {result.api_calls}, the catalog version having been asked "
              "once by the first plan.")
        applied = result.applied
        ok = applied is not None and applied.complete and not second.plan.changes
        print("demo " + ("succeeded" if ok else "FAILED"))
        return ExitCode.OK if ok else ExitCode.FAILED


def _write_words(catalog: str, deltas: bool) -> str:
    if catalog == "v3":
        return "one bulk write"
    if deltas:
        return ("Increment/Decrement batches of 300 and their verifying re-read, plus one write "
                "per product they cannot take")
    return "one write per changed product"


def _minimum_calls(catalog: str, products: int, items: int, v1_writes: int,
                   changed: int) -> int:
    """The fewest calls one sync can make (contract section 9); a V1 walk reads on to an
    empty page, one more when the product count is a multiple of 100."""
    if catalog == "v1":
        return 1 + math.ceil((products + 1) / 100) + v1_writes
    return 1 + math.ceil(items / 1000) + math.ceil(changed / 1000)
