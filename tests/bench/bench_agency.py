"""Benchmark of one daemon holding many stores: memory, CPU per round, lateness.

Not a test (pytest does not collect bench_*.py). Run:

    .venv/bin/python tests/bench/bench_agency.py                    # 1,000 sites x 300 products
    .venv/bin/python tests/bench/bench_agency.py --sites 50 --interval 30 --rounds 2   # quick

The multi-site emulator (``syncd emulator --sites N``) runs in its own process with one
generated store of ``--products`` products per site (about 2,000 variants each at 300) and
Wix's 200 requests/minute budget per site. ``syncd run`` runs in another process with a
``sites_dir`` of one file per site, full cycles every ``--interval`` seconds (300 s = the
5 minutes of a real deployment; shorter is a compressed schedule, the rate window stays
Wix's real 60 s), and no source watching. Site ``site-0001`` is rate limited to 10 requests
per minute by the emulator and ``site-0002`` drops every connection (unreachable); the
other sites must not be delayed by them.

Printed: peak RSS of the daemon (VmHWM) and of its source workers (``source_processes``,
started for a fleet above ``spread_first_round_above``), CPU seconds of the daemon, of its
workers and of the emulator per round of all sites, and per round the worst and
99th-percentile lateness of a healthy site's scheduled cycle start against its schedule.
With more sites than ``spread_first_round_above`` (256) the first round is spread over the
first 90% of the interval, each site due at its own offset; a smaller fleet's first round
is a backlog: every site is due at once and waits for one of ``--max-concurrent`` slots
and for the CPU. ``--sites 10000`` is the ten-thousand-store run. README.md ("Ten
thousand stores") has the measured tables for 1,000 and 10,000 stores.

tests/agency/test_isolation.py shows, with a throttled (429s asserted) and an unreachable
store among six, every other store starting within 5 s of its schedule.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from support.agency import (
    KEY,
    Cycle,
    DaemonLog,
    cycles_by_site,
    descendants,
    proc_usage,
    stock_of,
    write_fleet,
)


def http_json(url: str, data: dict[str, object] | None = None) -> object:
    body = json.dumps(data).encode() if data is not None else None
    request = urllib.request.Request(url, data=body, method="POST" if body else "GET",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=120) as response:
        return json.loads(response.read())


def start_emulator(args: argparse.Namespace) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "syncd", "emulator", "--sites", str(args.sites),
         "--generate-products", str(args.products), "--port", "0", "--api-key", KEY,
         "--rate-limit", "200/60"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    url = line.split(" on ", 1)[1].split(";", 1)[0].strip()
    return proc, url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sites", type=int, default=1000)
    parser.add_argument("--products", type=int, default=300)
    parser.add_argument("--interval", type=float, default=300.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--max-concurrent", type=int, default=32)
    args = parser.parse_args()

    emulator, url = start_emulator(args)
    daemon: subprocess.Popen[str] | None = None
    try:
        site_ids = [f"site-{n:04d}" for n in range(1, args.sites + 1)]
        t0 = time.monotonic()
        stocks = {}
        for site_id in site_ids:
            rows = http_json(f"{url}/__emulator/state?site={site_id}")
            assert isinstance(rows, list)
            stocks[site_id] = stock_of(rows)
        variants = sum(len(s) for s in stocks.values())
        print(f"{args.sites} stores generated ({variants} tracked unique SKUs in the sources)"
              f" in {time.monotonic() - t0:.0f} s", flush=True)
        throttled, unreachable = site_ids[0], site_ids[1]
        http_json(f"{url}/__emulator/faults?site={throttled}", {"rate_limit": "10/60"})
        http_json(f"{url}/__emulator/faults?site={unreachable}", {"drop_rate": 1.0})
        healthy = set(site_ids[2:])
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            path = write_fleet(work, url=url, stocks=stocks, interval_s=args.interval,
                               extra={"max_concurrent_cycles": args.max_concurrent})
            log_path = work / "daemon.log"
            with log_path.open("w") as log_file:
                daemon = subprocess.Popen(
                    [sys.executable, "-m", "syncd", "run", "--config", str(path)],
                    stdout=subprocess.DEVNULL, stderr=log_file, cwd=work,
                    env={**os.environ, "PYTHONUNBUFFERED": "1"})
                rounds = run_rounds(daemon.pid, emulator.pid, log_path, healthy, args)
                PEAK["rss"] = max(PEAK["rss"], proc_usage(daemon.pid)[1])
                daemon.terminate()
                daemon.wait(timeout=60)
            report(args, rounds, cycles_by_site(DaemonLog(log_path, only=CYCLE).read()),
                   healthy, throttled, unreachable)
    finally:
        for proc in (daemon, emulator):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=60)


PEAK: dict[str, int] = {"rss": 0, "workers_rss": 0}
CYCLE = b'"cycle_'
"""The log lines read: cycle_started and cycle_finished."""


def workers_usage(pid: int) -> tuple[float, int]:
    """CPU seconds of the daemon's live descendants, and the largest peak RSS among them."""
    cpu, peak = 0.0, 0
    for child in descendants(pid):
        with contextlib.suppress(OSError):
            child_cpu, child_peak = proc_usage(child)
            cpu, peak = cpu + child_cpu, max(peak, child_peak)
    return cpu, peak


def run_rounds(pid: int, emulator_pid: int, log_path: Path, healthy: set[str],
               args: argparse.Namespace) -> list[tuple[float, float, float, float]]:
    """(wall seconds, daemon CPU seconds, emulator CPU seconds, source workers' CPU
    seconds) at the end of each round of every healthy site; the emulator's CPU counts
    from the daemon's start (not the stores' generation)."""
    started = time.monotonic()
    emulator_start_s = proc_usage(emulator_pid)[0]
    ends: list[tuple[float, float, float, float]] = []
    deadline = started + args.interval * (args.rounds + 2) + 600
    log = DaemonLog(log_path, only=CYCLE)
    finished: dict[str, int] = {}
    while len(ends) < args.rounds and time.monotonic() < deadline:
        time.sleep(2.0)
        cpu_s, peak = proc_usage(pid)
        workers_cpu_s, workers_peak = workers_usage(pid)
        emulator_cpu_s = proc_usage(emulator_pid)[0] - emulator_start_s
        PEAK["rss"] = max(PEAK["rss"], peak)
        PEAK["workers_rss"] = max(PEAK["workers_rss"], workers_peak)
        seen = len(log.events)
        for event in log.read()[seen:]:
            if event.get("event") == "cycle_finished":
                finished[str(event.get("site"))] = finished.get(str(event.get("site")), 0) + 1
        done = min((finished.get(s, 0) for s in healthy), default=0)
        while len(ends) < min(done, args.rounds):
            ends.append((time.monotonic() - started, cpu_s, emulator_cpu_s, workers_cpu_s))
            print(f"round {len(ends)} done after {ends[-1][0]:.0f} s, daemon CPU "
                  f"{cpu_s:.1f} s, source workers CPU {workers_cpu_s:.1f} s, emulator CPU "
                  f"{emulator_cpu_s:.1f} s, peak RSS {peak / 2**20:.0f} MB", flush=True)
    return ends


def report(args: argparse.Namespace, ends: list[tuple[float, float, float, float]],
           cycles: dict[str, list[Cycle]], healthy: set[str], throttled: str,
           unreachable: str) -> None:
    print()
    print(f"sites {args.sites} x {args.products} products, full cycle every "
          f"{args.interval:g} s, max {args.max_concurrent} cycles at once, 200/60 s per site")
    print(f"peak RSS of the daemon: {PEAK['rss'] / 2**20:.0f} MB, of its largest source "
          f"worker: {PEAK['workers_rss'] / 2**20:.0f} MB")
    print("| round | ended at (s) | daemon CPU (s) | source workers CPU (s) "
          "| emulator CPU (s) | worst late (s) | p99 late (s) | not ok |")
    print("|---|---|---|---|---|---|---|---|")
    previous_cpu = previous_emulator = previous_workers = 0.0
    for i, (wall, cpu, emulator_cpu, workers_cpu) in enumerate(ends):
        late = [c.late_s or 0.0 for s in healthy for c in cycles.get(s, [])[i:i + 1]]
        bad = sum(1 for s in healthy for c in cycles.get(s, [])[i:i + 1] if c.result != "ok")
        p99 = statistics.quantiles(late, n=100)[98] if len(late) >= 2 else max(late or [0])
        print(f"| {i + 1}{' (start-up)' if i == 0 else ''} | {wall:.0f} | "
              f"{cpu - previous_cpu:.1f} | {workers_cpu - previous_workers:.1f} | "
              f"{emulator_cpu - previous_emulator:.1f} | "
              f"{max(late or [0]):.2f} | {p99:.2f} | {bad} |")
        previous_cpu, previous_emulator, previous_workers = cpu, emulator_cpu, workers_cpu
    for name, site in (("rate limited 10/min", throttled), ("unreachable", unreachable)):
        results = [c.result for c in cycles.get(site, [])]
        print(f"{site} ({name}): cycles {results}")


if __name__ == "__main__":
    main()
