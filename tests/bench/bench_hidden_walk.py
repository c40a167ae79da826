"""A large V1 store with hidden products, read while Wix cuts pages short mid-stream and
leaves default values out of its JSON: is every variant seen, and none written twice?

Run from the repository root (not collected by pytest; about two and a half minutes on a
loaded two-core machine)::

    .venv/bin/python tests/bench/bench_hidden_walk.py          # 25,000 products, 1,000 hidden
    .venv/bin/python tests/bench/bench_hidden_walk.py --products 5000 --hidden 200

The emulator runs in-process with the ``short_pages`` and ``sparse_json`` switches
(``syncd_emulator.variants``), no rate limit; a source drifted by 0.2 % is synced once,
then planned again. Prints the walk's calls, the first sync's time, variants seen against the store,
writes planned and made, writes repeated, variants left wrong, and the second plan's
changes (which must be 0). ``tests/test_unconfirmed.py`` runs the same check at 2,500
products.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make syncd and the test helpers importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from support.sync import API_KEY, drifted_source, load_site, state_by_key, write_config
from syncd.core.journal import Outcome
from syncd.cycle.sync import SiteSync
from syncd.edges.backend.local.journal import read_journal
from syncd_emulator import EmulatorConfig, serve
from syncd_emulator.generate import generate_store
from syncd_emulator.variants import WixVariants


@dataclasses.dataclass(frozen=True, slots=True)
class Report:
    """What one run found."""

    products: int
    hidden_products: int
    variants_in_store: int
    variants_seen: int
    hidden_variants_in_store: int
    hidden_variants_seen: int
    walk_calls: int
    sync_s: float
    planned: int
    written: int
    written_twice: int
    wrong: int
    changes_after: int


async def hidden_walk(products: int, hidden: int, *, work: Path, drift: float = 0.002,
                      seed: int = 31) -> Report:
    """Generate, hide exactly ``hidden`` products (spread evenly), sync, plan again."""
    spec = generate_store(products, seed=seed)
    step = products // hidden
    hide = set(range(step // 2, products, step)[:hidden])
    spec = dataclasses.replace(spec, products=tuple(
        dataclasses.replace(p, visible=n not in hide) for n, p in enumerate(spec.products)))
    config = EmulatorConfig(catalog="v1", api_key=API_KEY, rate_limit=None,
                            variants=WixVariants(short_pages=True, sparse_json=True))
    async with serve(config, spec=spec) as emu:
        before = emu.state()
        source = work / "stock.csv"
        desired = drifted_source(before, source, drift=drift)
        settings, site = load_site(write_config(work, url=emu.url, source=source,
                                                rate_limit=(1_000_000, 1.0)))
        async with SiteSync(site, state_dir=settings.state_dir) as sync:
            started = time.perf_counter()
            result = await sync.sync(force=True)
            sync_s = time.perf_counter() - started
            again = await sync.plan()
        after = emu.state()
    snapshot = result.planned.snapshot
    seen = {(v.product_id, v.variant_id) for v in snapshot.variants}
    hidden_keys = {(r["product_id"], r["variant_id"]) for r in before if r["hidden"]}
    applied = [(e.product_id, e.variant_id)
               for e in read_journal(Path(settings.state_dir) / "journal" / "shop.jsonl")
               if e.outcome is Outcome.APPLIED]
    after_by_key = state_by_key(after)
    wrong = sum(
        1 for key, row in state_by_key(before).items()
        if after_by_key[key]["quantity"] != desired.get(str(row["sku"]), row["quantity"]))
    return Report(
        products=products, hidden_products=len(hide), variants_in_store=len(before),
        variants_seen=len(seen & {(r["product_id"], r["variant_id"]) for r in before}),
        hidden_variants_in_store=len(hidden_keys), hidden_variants_seen=len(seen & hidden_keys),
        walk_calls=snapshot.api_calls, sync_s=sync_s, planned=len(result.planned.plan.changes),
        written=len(applied), written_twice=sum(n - 1 for n in Counter(applied).values()),
        wrong=wrong, changes_after=len(again.plan.changes))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--products", type=int, default=25_000)
    parser.add_argument("--hidden", type=int, default=1_000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="syncd-hidden-walk-") as tmp:
        report = asyncio.run(hidden_walk(args.products, args.hidden, work=Path(tmp)))
    for field in dataclasses.fields(report):
        value = getattr(report, field.name)
        print(f"{field.name:<26} {value:,.1f}" if isinstance(value, float)
              else f"{field.name:<26} {value:,}")
    ok = (report.variants_seen == report.variants_in_store and report.written_twice == 0
          and report.wrong == 0 and report.changes_after == 0)
    print("result                     " + ("ok" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
