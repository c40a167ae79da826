"""Benchmark of replicas on one PostgreSQL: 300 stores, 3 replicas, kill -9 of one.

Not a test (pytest does not collect bench_*.py; ``tests/agency/test_replicas.py`` is the
CI-sized version, 30 stores). Run:

    .venv/bin/python tests/bench/bench_replicas.py                 # 300 stores x 3 replicas
    .venv/bin/python tests/bench/bench_replicas.py --sites 60      # quicker

A throwaway PostgreSQL cluster is started from the system's binaries (``apt-get install
postgresql``), the schema created with ``syncd db migrate``, the multi-site emulator
served in this process (``--products`` per store, Wix's 200/minute per store) and three
``syncd run`` processes started on one ``sites_dir``, full cycles every ``--interval``
seconds (a compressed schedule), leases with a ``--ttl`` second TTL. Once every store has
converged, every source is changed and replica r1 is killed with SIGKILL in the middle of
one of its cycles. Printed: how the stores were shared, how long until r1's stores were
held by the others (target: 30 s), how long until every store converged again, whether
any store was written by two replicas at once (target: never), and the journal check
(every write the emulator accepted is journaled, none twice).

Measured (2 shared cores, other work running; defaults: 300 stores x 30 products, cycles
every 10 s, TTL 15 s): stores shared 106 / 105 / 89; after kill -9 of r1 mid-cycle its
106 stores were held by r2/r3 12.3 s later and every store had converged to the changed
sources 6 s after that; 0 stores written by two replicas at once; journal 4,800 lines for
2,400 writes, 0 duplicated, 0 outcomes without their pending line, 0 writes missing.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import asyncpg
from deploy.daemon_process import DaemonProcess, base_env

from support.agency import KEY, converged, owners, stock_of, write_fleet, write_source
from support.pg import postgres_cluster
from syncd_emulator.config import EmulatorConfig
from syncd_emulator.multisite import MultiSiteConfig, serve_multisite


async def until(check, *, timeout_s: float) -> float:
    started = time.monotonic()
    while not await check():
        if time.monotonic() - started > timeout_s:
            raise TimeoutError
        await asyncio.sleep(0.5)
    return time.monotonic() - started


async def bench(args: argparse.Namespace, dsn: str, work: Path) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "syncd", "db", "migrate", env=base_env(SYNCD_DATABASE_URL=dsn))
    assert await proc.wait() == 0
    config = MultiSiteConfig(sites=args.sites, template=EmulatorConfig(
        generate_products=args.products, api_key=KEY))
    async with serve_multisite(config) as running:
        ids = config.site_ids()
        stocks = {i: stock_of(running.site(i).store.state_rows()) for i in ids}
        path = write_fleet(work, url=running.url, stocks=stocks, interval_s=args.interval,
                           extra={"state_backend": "postgres", "lease_ttl_seconds": args.ttl})
        replicas = {name: DaemonProcess(
            [sys.executable, "-m", "syncd", "run", "--config", str(path)],
            env=base_env(SYNCD_DATABASE_URL=dsn, SYNCD_REPLICA_ID=name), cwd=work)
            for name in ("r1", "r2", "r3")}
        try:
            for replica in replicas.values():
                await replica.start()

            async def in_sync() -> bool:
                return converged(running, stocks)

            first_s = await until(in_sync, timeout_s=args.interval * 10 + 300)
            shares = Counter((await owners(dsn)).values())
            print(f"{args.sites} stores x {args.products} products converged in "
                  f"{first_s:.0f} s; shares {dict(sorted(shares.items()))}", flush=True)
            for site_id, stock in stocks.items():
                for sku in list(stock)[:3]:
                    stock[sku] += 2
                write_source(work / "sources" / f"{site_id}.csv", stock)
            victim = replicas["r1"]
            seen = len(victim.events)

            async def r1_in_cycle() -> bool:
                return any(e.get("event") == "cycle_started" for e in victim.events[seen:])

            await until(r1_in_cycle, timeout_s=120)
            orphans = {s for s, r in (await owners(dsn)).items() if r == "r1"}
            victim.signal(signal.SIGKILL)

            async def taken_over() -> bool:
                held = await owners(dsn)
                return all(held.get(s) in ("r2", "r3") for s in orphans)

            takeover_s = await until(taken_over, timeout_s=120)
            print(f"kill -9 of r1 mid-cycle: its {len(orphans)} stores held by r2/r3 after "
                  f"{takeover_s:.1f} s (target 30 s)", flush=True)
            again_s = await until(in_sync, timeout_s=args.interval * 10 + 300)
            print(f"every store converged to the new sources {again_s:.0f} s after that")
        finally:
            for replica in replicas.values():
                if replica.proc is not None and replica.proc.returncode is None:
                    replica.signal(signal.SIGTERM)
            for replica in replicas.values():
                try:
                    await replica.wait(timeout_s=60)
                except TimeoutError:
                    await replica.kill()
        overlaps = running.emulator.overlapping_writes()
        print(f"stores written by two replicas at the same time: {len(overlaps)} (target 0)")
        handed = sum(1 for s in orphans
                     if {w.replica for w in running.emulator.writes.get(s, [])} > {"r1"})
        print(f"r1's stores written by another replica after the kill: {handed}/{len(orphans)}")
        written = {i: running.site(i).stats.variants_written for i in ids}
    await journal_report(dsn, written)


async def journal_report(dsn: str, written: dict[str, int]) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch("SELECT site, write_id, outcome FROM syncd_journal")
    finally:
        await conn.close()
    pending = Counter((r["site"], r["write_id"]) for r in rows if r["outcome"] == "pending")
    settled = Counter((r["site"], r["write_id"]) for r in rows if r["outcome"] != "pending")
    applied = Counter(r["site"] for r in rows if r["outcome"] == "applied")
    unsettled = Counter(site for site, wid in pending if (site, wid) not in settled)
    duplicated = sum(1 for n in [*pending.values(), *settled.values()] if n > 1)
    orphan_outcomes = len(set(settled) - set(pending))
    lost = sum(1 for site, n in written.items() if n > applied[site] + unsettled[site])
    print(f"journal: {len(rows)} lines, {len(pending)} writes; duplicated lines {duplicated}, "
          f"outcomes without their pending line {orphan_outcomes}, stores with a write the "
          f"journal lacks {lost}, writes left pending by the kill {sum(unsettled.values())}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sites", type=int, default=300)
    parser.add_argument("--products", type=int, default=30)
    parser.add_argument("--interval", type=float, default=10.0)
    parser.add_argument("--ttl", type=float, default=15.0)
    args = parser.parse_args()
    with postgres_cluster() as cluster_dsn, tempfile.TemporaryDirectory() as tmp:
        asyncio.run(bench(args, cluster_dsn, Path(tmp)))


if __name__ == "__main__":
    main()
