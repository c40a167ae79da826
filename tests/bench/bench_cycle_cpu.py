"""CPU one steady cycle of one store costs the daemon: what 10,000 stores a round are made of.

Not a test (pytest does not collect bench_*.py). Run:

    .venv/bin/python tests/bench/bench_cycle_cpu.py                    # 20 stores x 300, 10 cycles
    .venv/bin/python tests/bench/bench_cycle_cpu.py --profile          # + cProfile top 25
    .venv/bin/python tests/bench/bench_cycle_cpu.py --profile-first    # the first cycles
    .venv/bin/python tests/bench/bench_cycle_cpu.py --sites 5 --cycles 3   # quick

The multi-site emulator runs in its own process, so only syncd's CPU is counted. This
process loads a ``sites_dir`` fleet the way ``syncd run`` does (logging configured as the
daemon configures it, JSON at ``--level``, written to /dev/null; the garbage collector
paced as ``syncd run`` paces it), opens the daemon's cycle
runner (``syncd.frontends.daemon.runner``: approval check, ``SiteSync.sync``, the console's
board) and runs one warm-up full cycle per store, which writes the few drifted SKUs, then
``--cycles`` full cycles per store where the source equals the store: nothing to write, the
steady state of an agency's fleet. It prints the process CPU (user + system) per steady
cycle (over all rounds, and the best and median round: other work on the machine makes
single rounds noisy) and, with ``--profile``, cProfile's top functions by cumulative and
by own time.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import os
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_agency import http_json, start_emulator

from support.agency import stock_of, write_fleet
from syncd.base.logs import configure_logging
from syncd.cycle.metrics import Metrics
from syncd.edges.config import load_settings
from syncd.frontends.daemon.collector import pace_collector
from syncd.frontends.daemon.cycle import CycleKind, CycleResult
from syncd.frontends.daemon.runner import open_cycle_runner
from syncd.frontends.daemon.site_board import Board

CONCURRENT = 8


async def run_round(runner: Any, sites: list[Any]) -> list[str]:
    """One full cycle of every site, ``CONCURRENT`` at a time; the sites that did not end ok."""
    slots = asyncio.Semaphore(CONCURRENT)
    stop = asyncio.Event()
    bad: list[str] = []

    async def one(site: Any) -> None:
        async with slots:
            outcome = await runner(site, kind=CycleKind.FULL, changed_keys=None, stop=stop)
            if outcome.result is not CycleResult.OK:
                bad.append(f"{site.name}: {outcome.result} {outcome.summary}")

    await asyncio.gather(*(one(s) for s in sites))
    return bad


async def measure(args: argparse.Namespace, url: str, sink: io.TextIOBase) -> None:
    site_ids = [f"site-{n:04d}" for n in range(1, args.sites + 1)]
    stocks = {}
    for site_id in site_ids:
        rows = http_json(f"{url}/__emulator/state?site={site_id}")
        assert isinstance(rows, list)
        stocks[site_id] = stock_of(rows)
    with tempfile.TemporaryDirectory() as tmp:
        path = write_fleet(Path(tmp), url=url, stocks=stocks, interval_s=300, level=args.level)
        settings = load_settings(path, per_site_file=True)
        configure_logging(level=args.level, json=True)
        pace_collector()  # as syncd run does
        metrics = Metrics()
        board = Board(history=settings.console.history)
        stderr = sys.stderr
        async with open_cycle_runner(settings, metrics=metrics, board=board) as runner:
            sites = list(settings.sites)
            sys.stderr = sink
            first_profiler = cProfile.Profile() if args.profile_first else None
            try:
                cpu0 = time.process_time()
                if first_profiler is not None:
                    first_profiler.enable()
                bad = await run_round(runner, sites)  # writes the drifted SKUs
                if first_profiler is not None:
                    first_profiler.disable()
                first_cpu = time.process_time() - cpu0
                bad += await run_round(runner, sites)  # settles what the writes left
            finally:
                sys.stderr = stderr
            print(f"first cycles (source parsed, store probed, journal opened): "
                  f"{first_cpu * 1000 / args.sites:.1f} CPU-ms per cycle")
            if first_profiler is not None:
                print_profile(first_profiler)
            if bad:
                print("warm-up:", *bad, sep="\n  ")
            bad = []
            profiler = cProfile.Profile() if args.profile else None
            sys.stderr = sink
            rounds: list[float] = []
            wall0 = time.monotonic()
            try:
                if profiler is not None:
                    profiler.enable()
                for _ in range(args.cycles):
                    cpu0 = time.process_time()
                    bad += await run_round(runner, sites)
                    rounds.append(time.process_time() - cpu0)
                if profiler is not None:
                    profiler.disable()
            finally:
                sys.stderr = stderr
            cpu, wall = sum(rounds), time.monotonic() - wall0
    cycles = args.sites * args.cycles
    if bad:
        print(f"{len(bad)} cycle(s) not ok:", *bad[:5], sep="\n  ")
    print(f"{cycles} steady cycles ({args.sites} stores x {args.products} products, "
          f"{args.cycles} each, log level {args.level}): "
          f"{cpu * 1000 / cycles:.1f} CPU-ms per cycle (best round "
          f"{min(rounds) * 1000 / args.sites:.1f}, median "
          f"{statistics.median(rounds) * 1000 / args.sites:.1f}), {wall:.1f} s wall"
          + (" (profiled)" if profiler is not None else ""))
    print(f"10,000 stores a round: {cpu / cycles * 10_000:.0f} CPU-s")
    if profiler is not None:
        print_profile(profiler)


def print_profile(profiler: cProfile.Profile) -> None:
    for order in ("cumulative", "tottime"):
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).strip_dirs().sort_stats(order).print_stats(25)
        text = out.getvalue()
        print(f"\n## top 25 by {order}\n" + text[text.find("   ncalls"):].rstrip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sites", type=int, default=20)
    parser.add_argument("--products", type=int, default=300)
    parser.add_argument("--cycles", type=int, default=10, help="steady cycles per store")
    parser.add_argument("--level", default="info", help="log level (the daemon's default: info)")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--profile-first", action="store_true",
                        help="cProfile the first cycles (the start-up round) instead")
    args = parser.parse_args()
    emulator, url = start_emulator(argparse.Namespace(sites=args.sites,
                                                      products=args.products))
    try:
        with open(os.devnull, "w") as sink:
            asyncio.run(measure(args, url, sink))
    finally:
        emulator.terminate()
        emulator.wait(timeout=60)


if __name__ == "__main__":
    main()
