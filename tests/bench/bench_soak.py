"""Soak benchmark: one daemon over three stores for an hour, sampled for slow leaks.

Not a test (pytest does not collect bench_*.py). Run:

    .venv/bin/python tests/bench/bench_soak.py                       # one hour
    .venv/bin/python tests/bench/bench_soak.py --minutes 4 --out soak.json   # a check

``syncd run`` (a child process) syncs three stores, each served by its own ``syncd
emulator`` process with Wix's 200 requests/minute and simulated orders: a Catalog V1 store
and a Catalog V3 store whose sources are local CSV files, and a V1 store whose source is an
HTTP feed served by this script. The daemon runs incremental cycles every 15 s, a full
resync every 5 minutes, watches the files, polls the feed and serves its console with a
token. During the run:

- orders take stock on every store all the time (``--orders-per-second`` each);
- every ``--edit-minutes`` a few rows of every source change;
- every ``--reload-minutes`` the daemon gets SIGHUP (half an interval after the edits);
- once, halfway, the V1 store's emulator is killed (SIGKILL), restarted on the same port
  after ``--down-seconds`` and given back the stock it had (see ``soak_world``).

Every ``--sample-seconds`` one line is printed: the daemon's RSS and open files (/proc),
its event loop's tasks (``syncd_asyncio_tasks`` on /metrics), the journal (bytes and
lines) and the whole state directory on disk, and the wall time of one console page (a
site's page, with the token). At the end orders stop, every store must come back equal to
its source (the emulator's state, then ``syncd plan --output json`` showing 0 changes), and
each series gets its slope per hour with the standard error, the means of the run's first
and last thirds (after ``--warmup-minutes`` of start-up), and a verdict (``soak_stats``).
The exit status is 1 when a store is not exact, a reload was not taken, or a series that
should be flat grows.

Every process started here is stopped on the way out, also on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.bench.soak_stats import Trend, judge
from tests.bench.soak_world import (
    CONSOLE_TOKEN,
    STORES,
    TIMEOUT,
    Emulator,
    FeedServer,
    desired_stock,
    differences,
    edit_rows,
    stop_process,
    write_config,
    write_source,
)
from tests.support.agency import DaemonLog

SERIES = (
    ("rss_mb", "RSS (MB)", True),
    ("fds", "open fds", True),
    ("tasks", "asyncio tasks", True),
    ("journal_bytes", "journal (B)", False),
    ("journal_lines", "journal lines", False),
    ("state_bytes", "state dir (B)", False),
    ("console_ms", "console page (ms)", True),
)
"""(field, heading, must stay flat): the journal grows with every write, by design."""


@dataclass(frozen=True, slots=True)
class Sample:
    t_s: float
    rss_mb: float
    fds: int
    tasks: int
    journal_bytes: int
    journal_lines: int
    state_bytes: int
    console_ms: float
    cycles_ok: int
    cycles_failed: int




def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=60.0, help="run length (default 60)")
    parser.add_argument("--sample-seconds", type=float, default=30.0,
                        help="seconds between samples (default 30)")
    parser.add_argument("--out", type=Path, help="write the samples and verdicts as JSON")
    parser.add_argument("--keep", type=Path, metavar="DIR",
                        help="run in DIR (new) and keep it: logs, state, sources; default: "
                             "a temporary directory, removed at the end")
    parser.add_argument("--products", type=int, default=300,
                        help="products per store (default 300)")
    parser.add_argument("--orders-per-second", type=float, default=0.3,
                        help="simulated orders per store (default 0.3)")
    parser.add_argument("--edit-minutes", type=float, default=3.0,
                        help="minutes between source edits (default 3; at most a third "
                             "of the run)")
    parser.add_argument("--reload-minutes", type=float, default=5.0,
                        help="minutes between SIGHUPs (default 5; at most a third of the run)")
    parser.add_argument("--warmup-minutes", type=float, default=5.0,
                        help="samples left out of the slopes: start-up (default 5; at most "
                             "a quarter of the run)")
    parser.add_argument("--down-seconds", type=float, default=10.0,
                        help="how long the V1 emulator stays down (default 10)")
    return parser.parse_args()


async def main(args: argparse.Namespace) -> int:
    if args.keep is not None:
        args.keep.mkdir(parents=True)
        return await soak(args, args.keep)
    with tempfile.TemporaryDirectory(prefix="syncd-soak-") as tmp:
        return await soak(args, Path(tmp))


async def soak(args: argparse.Namespace, work: Path) -> int:
    (work / "sources").mkdir()
    emulators = {s.name: Emulator(s, args.products, args.orders_per_second, work)
                 for s in STORES}
    feed = FeedServer(work / "sources" / "feed.csv")
    daemon: asyncio.subprocess.Process | None = None
    try:
        async with aiohttp.ClientSession() as http:
            await asyncio.gather(*(e.start() for e in emulators.values()))
            stocks = {name: desired_stock(await e.state(http)) for name, e in emulators.items()}
            for name, stock in stocks.items():
                write_source(work / "sources" / f"{name}.csv", stock)
            await feed.start()
            config = write_config(work, emulators, feed.url, interval_s=15, resync_s=300,
                                  feed_poll_s=10)
            log = DaemonLog(work / "daemon.log")
            with log.path.open("wb") as out:
                daemon = await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "syncd", "run", "--config", str(config),
                    cwd=work, stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=out,
                    env={**os.environ, "PYTHONUNBUFFERED": "1"}, start_new_session=True)
            base = await listen_url(daemon, log)
            print(f"daemon pid {daemon.pid} at {base}; stores "
                  + ", ".join(f"{n} ({e.store.catalog}{', feed' if e.store.feed else ''}, "
                              f"{len(stocks[n])} SKUs) at {e.url}"
                              for n, e in emulators.items()), flush=True)
            samples, reloads = await run_timeline(args, work, http, daemon, base, log,
                                                  emulators, stocks)
            exact = await final_check(work, http, emulators, stocks, config)
            log.read()
            return report(args, samples, reloads, log, exact)
    finally:
        await stop_process(daemon, grace_s=20.0)
        await asyncio.gather(*(e.stop() for e in emulators.values()))
        await feed.stop()


async def listen_url(daemon: asyncio.subprocess.Process, log: DaemonLog) -> str:
    async with asyncio.timeout(60):
        while True:
            for event in await asyncio.to_thread(log.read):
                if event.get("event") == "daemon_started":
                    return f"http://{event['listen']}"
            if daemon.returncode is not None:
                raise RuntimeError(f"the daemon exited ({daemon.returncode}); "
                                   f"see {log.path}")
            await asyncio.sleep(0.2)


async def run_timeline(args: argparse.Namespace, work: Path, http: aiohttp.ClientSession,
                       daemon: asyncio.subprocess.Process, base: str, log: DaemonLog,
                       emulators: dict[str, Emulator], stocks: dict[str, dict[str, int]],
                       ) -> tuple[list[Sample], int]:
    total_s = args.minutes * 60
    edit_s = min(args.edit_minutes * 60, total_s / 3)
    reload_s = min(args.reload_minutes * 60, total_s / 3)
    rng = random.Random("soak")
    started = time.monotonic()
    next_sample, next_edit, next_reload = 0.0, edit_s, reload_s + edit_s / 2
    restart_at: float | None = total_s / 2
    samples: list[Sample] = []
    reloads = 0
    while (now := time.monotonic() - started) < total_s:
        if daemon.returncode is not None:
            raise RuntimeError(f"the daemon exited ({daemon.returncode}); see {log.path}")
        if now >= next_sample:
            samples.append(await sample(now, work, http, daemon.pid, base, log))
            print(progress(samples[-1]), flush=True)
            next_sample += args.sample_seconds
        if now >= next_edit:
            for name, stock in stocks.items():
                edit_rows(stock, rng)
                await asyncio.to_thread(write_source, work / "sources" / f"{name}.csv", stock)
            print(f"[{now:6.0f} s] edited 3 rows of each source", flush=True)
            next_edit += edit_s
        if now >= next_reload:
            daemon.send_signal(signal.SIGHUP)
            reloads += 1
            print(f"[{now:6.0f} s] SIGHUP", flush=True)
            next_reload += reload_s
        if restart_at is not None and now >= restart_at:
            restart_at = None
            await restart(http, emulators["v1"], args.down_seconds, now)
        await asyncio.sleep(0.5)
    return samples, reloads


async def restart(http: aiohttp.ClientSession, emulator: Emulator, down_s: float,
                  now: float) -> None:
    """Kill the emulator, start it again on its port, give it back its stock.

    Before the snapshot, orders stop and every Wix request is answered 5xx before it is
    done (``fail_rate`` 1), and requests in flight get a moment to end: a write of the
    daemon landing between the snapshot and the kill would otherwise be undone by the
    restore, which the daemon rightly takes for a write Wix ignored."""
    await emulator.admin(http, "faults", {"shopper_rate": 0.0, "fail_rate": 1.0})
    await asyncio.sleep(2.0)
    snapshot = await emulator.state(http)
    await emulator.kill()
    print(f"[{now:6.0f} s] emulator {emulator.store.name} killed on port {emulator.port}; "
          f"down for {down_s:g} s", flush=True)
    await asyncio.sleep(down_s)
    await emulator.start()
    recent = await asyncio.to_thread(written_since, emulator.work / "state" / "journal"
                                     / f"{emulator.store.name}.jsonl", RECENT_WRITES_S)
    calls = await emulator.restore(http, snapshot, recent)
    print(f"[{now + down_s:6.0f} s] emulator {emulator.store.name} back on {emulator.url}, "
          f"stock of {calls} products written back ({len(recent)} variants the daemon wrote "
          f"in the last {RECENT_WRITES_S:.0f} s among them)", flush=True)


JOURNAL_NOT_ENTRIES = frozenset({"index.jsonl", "rotating.jsonl"})
"""Files of a journal directory that hold no journal lines of their own."""

RECENT_WRITES_S = 120.0
"""Writes of the daemon this recent before an emulator's kill are stamped again after it."""


def written_since(journal: Path, age_s: float) -> set[tuple[str, str]]:
    """(product id, variant id) of the journal's writes of the last ``age_s`` seconds."""
    if not journal.exists():
        return set()
    since = datetime.now(UTC) - timedelta(seconds=age_s)
    keys = set()
    for line in journal.read_text(encoding="utf-8").splitlines():
        with contextlib.suppress(ValueError, KeyError, TypeError):
            entry = json.loads(line)
            if datetime.fromisoformat(entry["time"].replace("Z", "+00:00")) >= since:
                keys.add((str(entry["product_id"]), str(entry["variant_id"])))
    return keys


async def sample(t_s: float, work: Path, http: aiohttp.ClientSession, pid: int, base: str,
                 log: DaemonLog) -> Sample:
    rss_kb, fds, journal_bytes, journal_lines, state_bytes = await asyncio.to_thread(
        measure, pid, work / "state")
    async with http.get(f"{base}/metrics", timeout=TIMEOUT) as r:
        text = await r.text()
    tasks = next(int(f.samples[0].value) for f in text_string_to_metric_families(text)
                 if f.name == "syncd_asyncio_tasks")
    headers = {"Authorization": f"Bearer {CONSOLE_TOKEN}"}
    begun = time.perf_counter()
    async with http.get(f"{base}/ui/site/v1", headers=headers, timeout=TIMEOUT) as r:
        await r.read()
        r.raise_for_status()
    console_ms = (time.perf_counter() - begun) * 1000
    await asyncio.to_thread(log.read)
    return Sample(t_s=round(t_s, 1), rss_mb=round(rss_kb / 1024, 1), fds=fds, tasks=tasks,
                  journal_bytes=journal_bytes, journal_lines=journal_lines,
                  state_bytes=state_bytes, console_ms=round(console_ms, 1),
                  cycles_ok=log.count("cycle_finished", result="ok"),
                  cycles_failed=log.count("cycle_finished", result="failed"))


def measure(pid: int, state: Path) -> tuple[int, int, int, int, int]:
    """The daemon's RSS (kB) and open fds, the journal's bytes (every file under
    ``journal/``) and lines, the state directory's bytes."""
    rss_kb = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss_kb = int(line.split()[1])
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    files = [p for p in (state / "journal").rglob("*") if p.is_file()]
    journal_bytes = sum(p.stat().st_size for p in files)
    # Entries: the current file of each site and its closed segments, if any
    # (``<site>.jsonl.d/NNNNNN.jsonl``), not a segment index.
    journal_lines = sum(p.read_bytes().count(b"\n") for p in files
                        if p.suffix == ".jsonl" and p.name not in JOURNAL_NOT_ENTRIES)
    state_bytes = sum(p.stat().st_size for p in state.rglob("*") if p.is_file())
    return rss_kb, fds, journal_bytes, journal_lines, state_bytes


def progress(s: Sample) -> str:
    return (f"[{s.t_s:6.0f} s] rss {s.rss_mb:.1f} MB  fds {s.fds}  tasks {s.tasks}  "
            f"journal {s.journal_bytes:,} B / {s.journal_lines} lines  state "
            f"{s.state_bytes:,} B  console {s.console_ms:.1f} ms  cycles ok {s.cycles_ok} "
            f"failed {s.cycles_failed}")


async def final_check(work: Path, http: aiohttp.ClientSession, emulators: dict[str, Emulator],
                      stocks: dict[str, dict[str, int]], config: Path,
                      timeout_s: float = 120.0) -> dict[str, str]:
    """Stop the orders, wait for every store to equal its source, then ask ``syncd plan``."""
    for emulator in emulators.values():
        await emulator.set_orders(http, 0.0)
    started = time.monotonic()
    verdicts: dict[str, str] = {}
    pending = set(emulators)
    while pending and time.monotonic() - started < timeout_s:
        for name in sorted(pending):
            wrong = differences(await emulators[name].state(http), stocks[name])
            verdicts[name] = (f"{len(wrong)} SKUs differ, e.g. {wrong[:3]}" if wrong
                              else f"exact ({len(stocks[name])} SKUs) after "
                                   f"{time.monotonic() - started:.0f} s")
            if not wrong:
                pending.discard(name)
        if pending:
            await asyncio.sleep(5.0)
    plan = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "syncd", "plan", "--config", str(config), "--output", "json",
        "--log-level", "warning", cwd=work, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    out, err = await plan.communicate()
    try:
        sites = {d["site"]: d["plan"]["counts"]["changes"] for d in json.loads(out)["sites"]}
    except (ValueError, KeyError, TypeError):
        sites = {}
        print(f"syncd plan exited {plan.returncode}: {(err or out).decode()[-2000:]}",
              flush=True)
    for name in emulators:
        verdicts[name] += f"; syncd plan: {sites.get(name, '?')} changes"
    return verdicts


def report(args: argparse.Namespace, samples: list[Sample], reloads: int, log: DaemonLog,
           exact: dict[str, str]) -> int:
    print()
    print("| t (s) | RSS (MB) | fds | tasks | journal (B) | journal lines | state dir (B) "
          "| console (ms) | cycles ok | cycles failed |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for s in samples:
        print(f"| {s.t_s:.0f} | {s.rss_mb:.1f} | {s.fds} | {s.tasks} | {s.journal_bytes:,} "
              f"| {s.journal_lines:,} | {s.state_bytes:,} | {s.console_ms:.1f} "
              f"| {s.cycles_ok} | {s.cycles_failed} |")
    warmup_s = min(args.warmup_minutes * 60, args.minutes * 15)
    judged = [s for s in samples if s.t_s >= warmup_s]
    print()
    print(f"slopes from the {len(judged)} samples after a warm-up of {warmup_s:.0f} s:")
    print("| series | slope per hour | std. error | first third | last third | verdict |")
    print("|---|---|---|---|---|---|")
    times = [s.t_s for s in judged]
    trends: dict[str, Trend] = {}
    leaking = []
    for key, heading, must_be_flat in SERIES:
        values = [float(getattr(s, key)) for s in judged]
        trend = trends[key] = judge(times, values)
        note = "" if must_be_flat else " (expected: every write is journaled)"
        if must_be_flat and trend.growing:
            leaking.append(heading)
        print(f"| {heading} | {trend.slope_per_h:+,.1f} | {trend.stderr_per_h:,.1f} "
              f"| {trend.first_third:,.1f} | {trend.last_third:,.1f} "
              f"| {trend.verdict}{note} |")
    print()
    taken = log.count("config_reloaded")
    cycles = Counter((e.get("site"), e.get("kind"), e.get("result")) for e in log.events
                     if e.get("event") == "cycle_finished")
    problems = Counter(str(e.get("event")) for e in log.events
                       if e.get("level") in ("warning", "error"))
    print(f"SIGHUP sent {reloads}, reloads logged {taken}")
    print("cycles: " + ", ".join(f"{site}/{kind} {result} {n}"
                                 for (site, kind, result), n in sorted(cycles.items(),
                                                                       key=str)))
    print("warnings and errors logged: "
          + (", ".join(f"{e} x{n}" for e, n in problems.most_common()) or "none"))
    for name, verdict in exact.items():
        print(f"store {name}: {verdict}")
    ignored = [f"{e.get('site')}:{e.get('sku')}" for e in log.events
               if e.get("event") == "write_ignored"]
    if ignored:
        print(f"writes the daemon took for ignored by Wix, not sent again while source and "
              f"store keep their values (write_ignored): {', '.join(ignored[:10])}")
    ok = (not leaking and taken >= reloads
          and all(v.startswith("exact") and v.endswith(": 0 changes") for v in exact.values()))
    print("verdict: " + ("ok" if ok else "NOT ok"
                         + (f" (growing: {', '.join(leaking)})" if leaking else "")))
    if args.out is not None:
        args.out.write_text(json.dumps({
            "minutes": args.minutes, "sample_seconds": args.sample_seconds,
            "warmup_seconds": warmup_s,
            "products": args.products, "orders_per_second": args.orders_per_second,
            "samples": [asdict(s) for s in samples],
            "trends": {k: {**asdict(t), "verdict": t.verdict} for k, t in trends.items()},
            "reloads": {"sent": reloads, "logged": taken}, "stores": exact, "ok": ok,
        }, indent=2) + "\n", encoding="utf-8")
    return 0 if ok else 1


def run() -> None:
    args = parse_args()
    loop = asyncio.new_event_loop()
    task = loop.create_task(main(args))

    def stop(signum: int) -> None:  # the first signal stops the run; more would cut the
        for other in (signal.SIGINT, signal.SIGTERM):  # clean-up short
            loop.add_signal_handler(other, lambda: None)
        print(f"{signal.Signals(signum).name}: stopping every process started",
              file=sys.stderr)
        task.cancel()

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop, signum)
    try:
        code = loop.run_until_complete(task)
    except asyncio.CancelledError:
        print("interrupted; every process started was stopped", file=sys.stderr)
        code = 130
    finally:
        loop.close()
    raise SystemExit(code)


if __name__ == "__main__":
    run()
