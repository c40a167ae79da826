"""Benchmark: the journal's reads on a year of history (1,000,000 lines, one site).

Generates a journal as a store syncing every 5 minutes for a year would leave it (a few
writes a run, now and then a failure, an unknown, a killed run settled by the next one, a
rollback), closed into segments as rotations would have closed it, and times:

- ``syncd journal`` (the newest runs), ``syncd rollback --list``, ``syncd journal --run``
  (a run of six months ago) and ``syncd journal --pending``: each command run in this
  process (``syncd.frontends.cli.main``, output to /dev/null), timed around the call:
  configuration, backend, read and render, without the interpreter's start-up and imports;
- ``syncd explain SKU``'s journal part: the newest lines it reads (10,000) and
  ``explain_sku`` over them (the store walk it also makes is the emulator's, not the
  journal's, and is left out);
- a console page (``/ui/site/SITE``, the site page with its journal table): the request's
  time seen by a client against the console listening on loopback in this process.

Each is run ``--repeat`` times after one warm-up; the median and the worst are printed in
ms, as CPU time of this process (all its threads: what the work costs, whatever else the
machine runs) and as wall-clock time. Not collected by pytest. Run:

    .venv/bin/python tests/bench/bench_journal.py
    .venv/bin/python tests/bench/bench_journal.py --lines 200000 --keep /tmp/journal-bench
    .venv/bin/python tests/bench/bench_journal.py --postgres   # the same on PostgreSQL too

With ``--postgres`` the same lines are copied into a throwaway cluster (started from the
system's initdb, as the tests do) and every read is timed again on ``state_backend:
postgres``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make ``syncd`` importable from the checkout
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/support

import aiohttp
from aiohttp import web

from syncd.base.model import Catalog, StoreSnapshot, StoreVariant
from syncd.core.explain import JOURNAL_FOUND, JOURNAL_LINES, explain_sku, sku_needles
from syncd.core.journal import JournalEntry, Outcome, StockState
from syncd.core.plan import Plan
from syncd.core.policy import Policy
from syncd.edges.backend import StateBackend, backend_for
from syncd.edges.backend.local import LocalBackend
from syncd.edges.backend.local.journal import journal_path, read_segments
from syncd.edges.backend.local.segments import (
    SegmentPolicy,
    read_index,
    rotate_if_due,
    segment_dir,
    segment_files,
)
from syncd.edges.config import Settings
from syncd.frontends.cli import main
from syncd.frontends.console import mount_console
from syncd.frontends.daemon.site_board import Board

SITE = "shop"
RUN_EVERY = timedelta(minutes=5)
HOT_SKU = "MUG-CLASSIC"


def _entry(run_id: str, n: int, sku: str, at: datetime, outcome: Outcome, *,
           before: int, after: int, rollback_of: str | None = None,
           delta: int | None = None) -> JournalEntry:
    return JournalEntry(
        write_id=f"{run_id}/{n}", run_id=run_id, site=SITE, product_id=f"prod-{sku}",
        variant_id="00000000-0000-0000-0000-000000000000", sku=sku,
        inventory_item_id=f"item-{sku}",
        before=StockState(before, before > 0, True), after=StockState(after, after > 0, True),
        revision=None, outcome=outcome, time=at, rollback_of=rollback_of, delta=delta)


def generate(state_dir: Path, lines: int, *, seed: int = 7) -> dict[str, object]:
    """Write ``lines`` journal lines ending now, as a year of 5-minute runs; returns what
    the timings need (an old run, the hot SKU)."""
    rng = random.Random(seed)
    path = journal_path(state_dir, SITE)
    path.parent.mkdir(parents=True, exist_ok=True)
    runs = lines // 10
    start = datetime.now(UTC) - RUN_EVERY * runs
    skus = [HOT_SKU, *(f"SKU-{i:05d}" for i in range(5_000))]
    written = 0
    killed: list[JournalEntry] = []
    old_run = ""
    last_sync = ""
    with path.open("w", encoding="utf-8") as f:
        run = 0
        while written < lines:
            at = start + RUN_EVERY * run
            run_id = f"{at:%Y%m%dT%H%M%SZ}-{rng.randrange(1 << 24):06x}"
            if run == runs // 2:
                old_run = run_id
            out: list[JournalEntry] = []
            for entry in killed:  # the next run settles a killed run's writes by a re-read
                out.append(entry.settled(Outcome.APPLIED, at=at, error="confirmed by re-read"))
            killed = []
            rollback = run % 997 == 996 and last_sync
            count = rng.randint(1, 8)
            for n in range(1, count + 1):
                sku = HOT_SKU if rng.random() < 0.05 else rng.choice(skus)
                before = rng.randrange(0, 50)
                pending = _entry(run_id, n, sku, at, Outcome.PENDING, before=before,
                                 after=max(0, before + rng.randint(-5, 5)),
                                 rollback_of=last_sync if rollback else None)
                out.append(pending)
                roll = rng.random()
                if roll < 0.002:
                    killed.append(pending)
                    continue
                outcome = (Outcome.APPLIED if roll < 0.95 else Outcome.FAILED if roll < 0.97
                           else Outcome.CONFLICT if roll < 0.99 else Outcome.UNKNOWN)
                out.append(pending.settled(outcome, at=at + timedelta(seconds=2),
                                           error=None if outcome is Outcome.APPLIED
                                           else "HTTP 500 from Wix after 3 attempts"))
            if not rollback:
                last_sync = run_id
            f.write("".join(e.to_json() + "\n" for e in out))
            written += len(out)
            run += 1
    # A year of rotations closed the file into segments of about 1 MiB at run boundaries:
    # the split of this one file makes the same segments (and their index) at once.
    rotate_if_due(path, SegmentPolicy(), now=datetime.now(UTC))
    return {"old_run": old_run, "runs": run, "lines": written,
            "segments": len(segment_files(segment_dir(path)))}


def write_config(directory: Path, state_dir: Path, *, postgres: bool = False) -> Path:
    config = directory / ("syncd-pg.yaml" if postgres else "syncd.yaml")
    (directory / "stock.csv").write_text(f"sku,quantity\n{HOT_SKU},5\n")
    config.write_text(
        "sites:\n"
        f"  - name: {SITE}\n"
        "    site_id: bench-site\n"
        "    api_key_env: BENCH_WIX_KEY\n"
        "    base_url: http://127.0.0.1:9\n"
        "source:\n  path: stock.csv\n"
        f"state_dir: {state_dir}\n"
        + ("state_backend: postgres\n" if postgres else "")
        + "log: {level: error, format: json}\n", encoding="utf-8")
    return config


Spent = list[tuple[float, float]]
"""(wall ms, CPU ms of this process, all its threads) per repetition."""


def timed(repeat: int, work: Callable[[], object]) -> Spent:
    work()  # warm-up: the page cache and lazy imports, as a second call would find them
    spent = []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        work()
        spent.append(((time.perf_counter() - t0) * 1000, (time.process_time() - c0) * 1000))
    return spent


async def timed_async(repeat: int, work: Callable[[], Awaitable[object]]) -> Spent:
    await work()
    spent = []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        await work()
        spent.append(((time.perf_counter() - t0) * 1000, (time.process_time() - c0) * 1000))
    return spent


def command(argv: list[str]) -> Callable[[], object]:
    def run() -> object:
        with contextlib.redirect_stdout(io.StringIO()):
            code = main(argv)
        assert code == 0, (argv, code)
        return code
    return run


async def explain_part(backend: StateBackend) -> object:
    variant = StoreVariant(product_id=f"prod-{HOT_SKU}",
                           variant_id="00000000-0000-0000-0000-000000000000",
                           inventory_item_id=f"item-{HOT_SKU}", sku=HOT_SKU, tracked=True,
                           quantity=5, in_stock=True, hidden=False)
    plan = Plan(catalog=Catalog.V1, changes=(), store_variants=1, source_rows=0, matched=0,
                managed=0)
    snapshot = StoreSnapshot(Catalog.V1, (variant,))
    entries = await backend.read_recent_about(SITE, sku_needles(HOT_SKU, snapshot),
                                              limit=JOURNAL_FOUND, window=JOURNAL_LINES)
    found = explain_sku(HOT_SKU, plan=plan, snapshot=snapshot, rows=(), policy=Policy(),
                        journal=entries)
    assert found.writes, "the hot SKU has journaled writes"
    return found


class _Control:
    statuses: dict[str, object] = {}
    config_errors: dict[str, str] = {}

    def request_cycle(self, site: str, reason: str) -> bool:
        return False


async def console_page(settings: Settings, repeat: int) -> Spent:
    board = Board()
    board.adopt(list(settings.sites))
    app = web.Application()
    mount_console(app, board=board, control=_Control(), settings=settings)  # type: ignore[arg-type]
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    url = f"http://127.0.0.1:{port}/ui/site/{SITE}"
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
            async def get() -> None:
                async with http.get(url) as resp:
                    body = await resp.text()
                    assert resp.status == 200 and "journal" in body, resp.status
            return await timed_async(repeat, get)
    finally:
        await runner.cleanup()


def report(name: str, spent: Spent) -> None:
    wall = [w for w, _ in spent]
    cpu = [c for _, c in spent]
    print(f"  {name:<44} CPU median {statistics.median(cpu):6.1f} ms, worst {max(cpu):6.1f}"
          f" | wall median {statistics.median(wall):6.1f} ms, worst {max(wall):6.1f}")


def time_all(config: Path, backend: StateBackend, old_run: str, repeat: int) -> None:
    base = ["--config", str(config)]
    print(f"timings (of {repeat}, after a warm-up):")
    report("syncd journal", timed(repeat, command(["journal", *base])))
    report("syncd rollback --list", timed(repeat, command(["rollback", "--list", *base])))
    report("syncd journal --run <a run 6 months old>",
           timed(repeat, command(["journal", "--run", old_run, *base])))
    report("syncd journal --pending", timed(repeat, command(["journal", "--pending", *base])))
    settings = Settings.from_file(config)

    async def explain_on_backend() -> Spent:
        async with backend_for(settings) as opened:
            return await timed_async(repeat, lambda: explain_part(opened))

    report("syncd explain SKU (journal read + explain)", asyncio.run(explain_on_backend()))
    report("console /ui/site/SITE (request time)", asyncio.run(console_page(settings, repeat)))


async def copy_to_postgres(dsn: str, state: Path) -> None:
    import asyncpg

    from syncd.edges.backend.schema import migrate

    conn = await asyncpg.connect(dsn)
    try:
        await migrate(conn)
        rows = [(e.site, e.write_id, e.run_id, e.outcome.value, e.to_json(), e.time)
                for e in read_segments(journal_path(state, SITE))]
        await conn.copy_records_to_table(
            "syncd_journal", records=rows,
            columns=["site", "write_id", "run_id", "outcome", "entry", "at"])
        await conn.execute(
            "INSERT INTO syncd_journal_open (site, write_id, id) SELECT p.site, p.write_id, "
            "p.id FROM syncd_journal p WHERE p.outcome = 'pending' AND NOT EXISTS (SELECT 1 "
            "FROM syncd_journal s WHERE s.site = p.site AND s.write_id = p.write_id "
            "AND s.outcome <> 'pending')")
        await conn.execute("ANALYZE syncd_journal")
    finally:
        await conn.close()


def main_bench() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", type=Path, help="generate into (or reuse) this directory")
    parser.add_argument("--postgres", action="store_true",
                        help="time the reads on PostgreSQL as well")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        directory = args.keep or Path(tmp)
        directory.mkdir(parents=True, exist_ok=True)
        state = directory / "state"
        t0 = time.perf_counter()
        if journal_path(state, SITE).parent.exists():
            info: dict[str, object] = {"old_run": None}
            print(f"reusing the journal in {state}")
        else:
            info = generate(state, args.lines)
            print(f"generated {info['lines']:,} lines, {info['runs']:,} runs, "
                  f"{info['segments']} segments in {time.perf_counter() - t0:.0f} s")
        os.environ["BENCH_WIX_KEY"] = "bench-key-0123456789"
        index = list(read_index(segment_dir(journal_path(state, SITE))).values())
        old_run = str(info["old_run"] or index[len(index) // 2].runs[0])
        print("local journal (state_dir):")
        time_all(write_config(directory, state), LocalBackend(state), old_run, args.repeat)
        if args.postgres:
            from support.pg import postgres_cluster

            with postgres_cluster() as dsn:
                t0 = time.perf_counter()
                asyncio.run(copy_to_postgres(dsn, state))
                print(f"PostgreSQL (rows copied in {time.perf_counter() - t0:.0f} s):")
                os.environ["SYNCD_DATABASE_URL"] = dsn
                time_all(write_config(directory, state, postgres=True), LocalBackend(state),
                         old_run, args.repeat)
    return 0


if __name__ == "__main__":
    raise SystemExit(main_bench())
