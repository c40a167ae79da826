"""Benchmark: ``syncd plan`` of a large Catalog V1 store, wall and CPU time per run.

Serves a generated store from ``syncd emulator`` in its own process (the harness's seed, so
the store of the ``v1-12k-*`` scenarios), writes a source with a share of the tracked
variants drifted, and runs ``syncd plan`` as a user would, ``--runs`` times. The client's
budget equals the emulator's limit (50 requests per second by default: the walk's 122 reads
then wait about 2 s for the budget, the rest is CPU). Prints each run's wall time and the
CPU time (user + system) of the ``syncd plan`` process. Not collected by pytest. Example::

    .venv/bin/python -m tests.bench.bench_plan
    .venv/bin/python -m tests.bench.bench_plan --runs 5 --profile plan.prof

``--profile FILE`` runs the last run under cProfile and writes its statistics to FILE.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.bench import harness
from tests.bench.run import SEED


def run_plan(config: Path, *, profile: Path | None) -> tuple[float, float, int]:
    """One ``syncd plan``: (wall seconds, CPU seconds, exit status)."""
    prefix = [sys.executable]
    if profile is not None:
        prefix += ["-m", "cProfile", "-o", str(profile)]
    command = [*prefix, "-m", "syncd", "plan", "--config", str(config),
               "--log-level", "warning"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False,
                          env={**os.environ, harness.KEY_ENV: harness.KEY}, timeout=600)
    wall_s = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_s = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall_s, cpu_s, done.returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.bench_plan", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--products", type=int, default=12_000)
    parser.add_argument("--drift", type=float, default=0.05, help="share of variants changed")
    parser.add_argument("--rate", type=int, default=50, help="requests per second (both sides)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--profile", type=Path, help="cProfile the last run into this file")
    args = parser.parse_args(argv)
    with harness.emulator_process(catalog="v1", products=args.products, seed=SEED,
                                  rate_limit=f"{args.rate}/1") as url, \
            tempfile.TemporaryDirectory(prefix="bench-plan-") as work:
        directory = Path(work)
        rows = harness.state(url)
        drift = harness.drifted_source(rows, drift=args.drift, seed=SEED)
        harness.write_csv(directory / "stock.csv", drift.desired)
        config = harness.write_config(directory, url=url, limit=(args.rate, 1.0),
                                      source=directory / "stock.csv")
        print(f"syncd plan: {args.products:,} V1 products, {len(rows):,} variants, "
              f"{args.drift:.0%} drift, {args.rate} requests/s")
        for number in range(1, args.runs + 1):
            profile = args.profile if number == args.runs else None
            wall_s, cpu_s, status = run_plan(config, profile=profile)
            note = " (profiled)" if profile is not None else ""
            print(f"  run {number}: wall {wall_s:5.1f} s  cpu {cpu_s:5.1f} s  "
                  f"exit {status}{note}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
