"""What one store costs a daemon between cycles: retained bytes per store, by component.

Not a test (pytest does not collect bench_*.py). Run:

    .venv/bin/python tests/bench/bench_site_memory.py                  # 200 stores x 300
    .venv/bin/python tests/bench/bench_site_memory.py --sites 50 --products 100   # quick

The multi-site emulator runs in its own process; this process loads a ``sites_dir`` fleet
the way ``syncd run`` does, opens a ``SiteSync`` per store on one session and one metrics
registry, and runs full cycles of every store (16 at a time). After start-up and after each
round it collects garbage and prints, with tracemalloc, the bytes still held per store:
in total, by the file that allocated them (which module keeps what), and by attribute of a
``SiteSync`` (a walk of what each attribute alone reaches: the client, its limiter, the
journal follower, the product index, the source cache...). Memory that grows from the
first round to the second is what a store keeps of its walks; memory that does not is the
state a store needs.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import structlog

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_agency import http_json, start_emulator

from support.agency import stock_of, write_fleet
from syncd.cycle.metrics import Metrics
from syncd.cycle.sync import SiteSync
from syncd.cycle.wiring import open_site_syncs
from syncd.edges.config import load_settings

CONCURRENT = 16


def deep_size(root: object, *, stop: set[int]) -> int:
    """Bytes of every object reachable from ``root`` and not from ``stop`` (ids)."""
    seen = set(stop)
    todo = [root]
    total = 0
    while todo:
        obj = todo.pop()
        if id(obj) in seen or isinstance(obj, type):
            continue
        seen.add(id(obj))
        total += sys.getsizeof(obj)
        todo.extend(gc.get_referents(obj))
    return total


def shared_roots(syncs: Iterable[SiteSync], extra: Iterable[object]) -> set[int]:
    """Objects every store reaches but none owns: the session, metrics, settings, modules."""
    stop: set[int] = set()
    for obj in extra:
        stop.add(id(obj))
    for module in list(sys.modules.values()):
        stop.add(id(module))
        stop.add(id(getattr(module, "__dict__", None)))
    for sync in syncs:
        stop.update({id(sync.backend), id(sync.feeds), id(sync.site)})
        session = getattr(sync.client, "_session", None)
        if session is not None:
            stop.add(id(session))
    return stop


def by_attribute(syncs: list[SiteSync], stop: set[int]) -> dict[str, float]:
    """Mean bytes per store reached from each attribute of its ``SiteSync``."""
    sizes: dict[str, int] = {}
    for sync in syncs:
        parts = [(name, value) for name, value in vars(sync).items()]
        # The client one level down: its limiter, retry policy, observers, logger...
        parts += [(f"client.{name}", value) for name, value in vars(sync.client).items()]
        for name, value in parts:
            sizes[name] = sizes.get(name, 0) + deep_size(value, stop=stop)
    return {name: total / len(syncs) for name, total in sizes.items()}


def report(title: str, base: tracemalloc.Snapshot, syncs: dict[str, SiteSync],
           shared: list[object]) -> None:
    gc.collect()
    snapshot = tracemalloc.take_snapshot()
    n = len(syncs)
    diff = snapshot.compare_to(base, "filename")
    total = sum(d.size_diff for d in diff)
    print(f"\n## {title}: {total / n / 1024:.1f} KB per store retained ({n} stores)")
    print("| allocated in | KB per store |")
    print("|---|---|")
    for d in sorted(diff, key=lambda d: -d.size_diff)[:12]:
        where = d.traceback[0].filename.split("site-packages/")[-1].split("/wt-fleet10k/")[-1]
        print(f"| {where} | {d.size_diff / n / 1024:.1f} |")
    stop = shared_roots(syncs.values(), shared)
    print("| SiteSync attribute | KB per store (reached from it alone) |")
    print("|---|---|")
    for name, size in sorted(by_attribute(list(syncs.values()), stop).items(),
                             key=lambda kv: -kv[1]):
        print(f"| {name} | {size / 1024:.1f} |")


async def run_round(syncs: dict[str, SiteSync]) -> tuple[int, float]:
    slots = asyncio.Semaphore(CONCURRENT)
    failed = 0
    started = time.monotonic()

    async def one(sync: SiteSync) -> None:
        nonlocal failed
        async with slots:
            try:
                await sync.sync()
            except Exception as e:
                failed += 1
                print(f"{sync.site.name}: {type(e).__name__}: {e}", file=sys.stderr)

    await asyncio.gather(*(one(s) for s in syncs.values()))
    return failed, time.monotonic() - started


async def measure(args: argparse.Namespace, url: str) -> None:
    site_ids = [f"site-{n:04d}" for n in range(1, args.sites + 1)]
    stocks: dict[str, Any] = {}
    for site_id in site_ids:
        rows = http_json(f"{url}/__emulator/state?site={site_id}")
        assert isinstance(rows, list)
        stocks[site_id] = stock_of(rows)
    with tempfile.TemporaryDirectory() as tmp:
        path = write_fleet(Path(tmp), url=url, stocks=stocks, interval_s=300, level="warning")
        tracemalloc.start(1)
        gc.collect()
        empty = tracemalloc.take_snapshot()
        settings = load_settings(path, per_site_file=True)
        gc.collect()
        loaded = tracemalloc.take_snapshot()
        per_site = sum(d.size_diff for d in loaded.compare_to(empty, "filename"))
        print(f"settings: {per_site / args.sites / 1024:.1f} KB per store")
        metrics = Metrics()
        async with open_site_syncs(settings, metrics=metrics) as syncs:
            for sync in syncs.values():
                await sync.__aenter__()
            shared: list[object] = [settings, metrics, metrics.registry]
            report("at start-up, before any cycle", loaded, syncs, shared)
            for round_no in range(1, args.rounds + 1):
                failed, took_s = await run_round(syncs)
                print(f"\nround {round_no}: {failed} failed, {took_s:.0f} s")
                report(f"after round {round_no}", loaded, syncs, shared)
            for sync in syncs.values():
                await sync.__aexit__(None, None, None)


def main() -> None:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR))
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sites", type=int, default=200)
    parser.add_argument("--products", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    emulator, url = start_emulator(argparse.Namespace(sites=args.sites,
                                                      products=args.products))
    try:
        asyncio.run(measure(args, url))
    finally:
        emulator.terminate()
        emulator.wait(timeout=60)


if __name__ == "__main__":
    main()
