"""Two replicas, one store, a cycle paced at one request a second: the replica that holds the
store loses its lease in the middle of a cycle, and never writes the store once the other
has started to; a replica that takes its lease back writes again.

The owner's lease connection goes through a proxy the test controls (``tcpproxy``), the
rest of its database access does not (``lease_replica.py``). Requests are told apart by
the ``x-syncd-replica`` header the emulator records with every write.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import yaml
from deploy.daemon_process import DaemonProcess, base_env

from support.agency import KEY, owners, stock_of, write_source
from syncd.edges.backend.leases import owner_of
from syncd_emulator.config import EmulatorConfig
from syncd_emulator.multisite import MultiSiteConfig, WriteRecord, serve_multisite

from .tcpproxy import FreezableProxy
from .test_postgres import cli

pytestmark = pytest.mark.timeout(120)

SITE = "shop"
TTL_S = 6.0
LAUNCHER = Path(__file__).with_name("lease_replica.py")


async def eventually(predicate: Callable[[], Awaitable[bool]], *, timeout_s: float,
                     what: str) -> float:
    """Poll until ``predicate`` holds; returns when (monotonic)."""
    deadline = time.monotonic() + timeout_s
    while not await predicate():
        assert time.monotonic() < deadline, f"not within {timeout_s:g} s: {what}"
        await asyncio.sleep(0.2)
    return time.monotonic()


@dataclass
class Store:
    """One emulated store, its source file, and the two replicas' configuration."""

    running: Any
    site_id: str
    stock: dict[str, int]
    rows: list[dict[str, Any]]
    source: Path
    config: Path
    dsn: str

    def bump(self, products: int, *, by: int, skip: int = 0) -> None:
        """New quantities for one SKU of each of ``products`` products (after ``skip``):
        one write request each."""
        seen: list[str] = []
        for row in self.rows:
            if row["sku"] in self.stock and row["product_id"] not in seen:
                seen.append(str(row["product_id"]))
                if len(seen) > skip:
                    self.stock[str(row["sku"])] += by
                if len(seen) == skip + products:
                    break
        write_source(self.source, self.stock)

    def exact(self) -> bool:
        store = {r["sku"]: r["quantity"] for r in self.running.site(self.site_id).store
                 .state_rows()}
        return all(store[sku] == q for sku, q in self.stock.items())

    def writes(self, replica: str, *, since: float = 0.0) -> list[WriteRecord]:
        return [w for w in self.running.emulator.writes.get(self.site_id, [])
                if w.replica == replica and w.started_s >= since]

    def replica(self, name: str, *, lease_dsn: str | None = None) -> DaemonProcess:
        env = base_env(SYNCD_DATABASE_URL=self.dsn, SYNCD_REPLICA_ID=name)
        argv = [sys.executable, "-m", "syncd"]
        if lease_dsn is not None:
            env["SYNCD_TEST_LEASE_DSN"] = lease_dsn
            argv = [sys.executable, str(LAUNCHER)]
        return DaemonProcess([*argv, "run", "--config", str(self.config)], env=env,
                             cwd=self.config.parent)


@asynccontextmanager
async def one_store(pg_dsn: str, work: Path, *, products: int = 30,
                    drift: int = 0) -> AsyncIterator[Store]:
    assert (await cli("db", "migrate", dsn=pg_dsn, cwd=work))[0] == 0
    config = MultiSiteConfig(sites=1, template=EmulatorConfig(generate_products=products,
                                                              api_key=KEY))
    async with serve_multisite(config) as running:
        site_id = config.site_ids()[0]
        rows = running.site(site_id).store.state_rows()
        stock = stock_of(rows, drift=drift)
        source = work / "stock.csv"
        write_source(source, stock)
        (work / "key").write_text(KEY)
        path = work / "syncd.yaml"
        path.write_text(yaml.safe_dump({
            "sites": [{"name": SITE, "site_id": site_id, "api_key_file": str(work / "key"),
                       "base_url": running.url, "catalog": "v1",
                       # one request a second: a cycle of a dozen writes takes seconds,
                       # most of them waiting for the budget
                       "rate_limit": {"requests": 1, "per_seconds": 1}}],
            "source": {"path": str(source)},
            # one write request per product changed (no Increment batches across them)
            "policy": {"max_changed_fraction": 1.0, "max_zeroed": 100000,
                       "write_mode": "absolute"},
            "schedule": {"interval_seconds": 1, "jitter_seconds": 0, "watch_source": False},
            "http": {"listen": "127.0.0.1:0", "ready_max_age_seconds": 3600},
            "shutdown_grace_seconds": 5,
            "log": {"level": "info", "format": "json"},
            "state_backend": "postgres",
            "lease_ttl_seconds": TTL_S,
        }))
        yield Store(running=running, site_id=site_id, stock=stock, rows=rows, source=source,
                    config=path, dsn=pg_dsn)


@asynccontextmanager
async def started(*replicas: DaemonProcess) -> AsyncIterator[None]:
    try:
        yield
    finally:
        for replica in replicas:
            if replica.proc is not None and replica.proc.returncode is None:
                replica.signal(signal.SIGTERM)
        for replica in replicas:
            if replica.proc is not None:
                try:
                    await replica.wait(timeout_s=20)
                except TimeoutError:
                    await replica.kill()


async def fetch(dsn: str, query: str, *args: Any) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(dsn)
    try:
        return list(await conn.fetch(query, *args))
    finally:
        await conn.close()


async def lease_sessions(dsn: str) -> list[int]:
    """The backends holding a site's advisory lock: the owner's lease session."""
    return [r["pid"] for r in await fetch(
        dsn, "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted")]


async def terms(dsn: str) -> list[tuple[str, int]]:
    """Who journaled the site's writes, term after term, in the order of the rows."""
    rows = await fetch(dsn, "SELECT replica, epoch FROM syncd_journal WHERE site = $1 "
                            "ORDER BY id", SITE)
    out: list[tuple[str, int]] = []
    for row in rows:
        term = (row["replica"], row["epoch"])
        if not out or out[-1] != term:
            out.append(term)
    return out


def names() -> tuple[str, str]:
    """(the replica the store goes to when both are live, the other one)."""
    first = owner_of(SITE, ("r1", "r2"))
    assert first is not None
    return first, "r2" if first == "r1" else "r1"


async def test_a_replica_that_loses_its_lease_and_takes_it_back_writes_again(pg_dsn, tmp_path):
    async with one_store(pg_dsn, tmp_path, drift=3) as store:
        replica = store.replica("r1")
        async with started(replica):
            await replica.start()
            await eventually(lambda: _now(store.exact()), timeout_s=30,
                             what="the first cycle converges the store")
            [first] = await lease_sessions(pg_dsn)
            await fetch(pg_dsn, "SELECT pg_terminate_backend($1)", first)
            lost_at = time.monotonic()

            async def taken_back() -> bool:
                return any(pid != first for pid in await lease_sessions(pg_dsn))

            back_at = await eventually(taken_back, timeout_s=20, what="the lease taken back")
            store.bump(3, by=2)
            done_at = await eventually(lambda: _now(store.exact()), timeout_s=30,
                                       what="a cycle after the lease came back writes")
        print(f"lease taken back {back_at - lost_at:.1f} s after pg_terminate_backend; "
              f"new quantities written {done_at - back_at:.1f} s later")
        assert len(store.writes("r1", since=back_at)) >= 3
        journaled = await terms(pg_dsn)
        assert [replica for replica, _ in journaled] == ["r1", "r1"], journaled
        assert journaled[0][1] < journaled[1][1], "the term after the loss is a new epoch"


async def owner_writing(store, pg_dsn: str, owner, other, *, skus: int) -> float:
    """Start the ``owner`` replica (it takes the store), then the ``other`` (each a
    ``(name, process)``), change ``skus`` SKUs and wait until the owner has written twice;
    returns when the change was made."""
    (owner_name, owner_process), (other_name, other_process) = owner, other
    await owner_process.start()
    await eventually(lambda: _held_by(pg_dsn, owner_name), timeout_s=30,
                     what=f"{owner_name} holds the store")
    await other_process.start()
    await eventually(lambda: _live(pg_dsn, other_name), timeout_s=30,
                     what=f"{other_name} is live")
    bumped_at = time.monotonic()
    store.bump(skus, by=1)
    await eventually(lambda: _now(len(store.writes(owner_name, since=bumped_at)) >= 2),
                     timeout_s=30, what=f"{owner_name} is writing")
    return bumped_at


async def test_an_owner_whose_lease_session_is_terminated_mid_cycle_sends_nothing_once_the_other_replica_writes(  # noqa: E501
        pg_dsn, tmp_path):
    owner, other = names()
    async with one_store(pg_dsn, tmp_path) as store, \
            FreezableProxy("127.0.0.1", int(pg_dsn.rsplit(":", 1)[1].split("/")[0])
                           ).running() as proxy:
        first = store.replica(owner, lease_dsn=proxy.dsn(pg_dsn))
        second = store.replica(other)
        async with started(first, second):
            bumped_at = await owner_writing(
                store, pg_dsn, (owner, first), (other, second), skus=12)
            # The database is out of reach for the owner's lease connection: its session
            # is ended by the server, and it cannot connect again for now.
            proxy.refuse()
            [session] = await lease_sessions(pg_dsn)
            await fetch(pg_dsn, "SELECT pg_terminate_backend($1)", session)
            cut_at = time.monotonic()
            await eventually(lambda: _now(bool(store.writes(other))), timeout_s=30,
                             what=f"{other} takes the store over and writes")
            # The owner comes back: the store is its own again (rendezvous), it takes the
            # lease back with a new epoch and writes what changes next.
            proxy.forward()
            back_at = time.monotonic()
            await eventually(lambda: _held_by(pg_dsn, owner), timeout_s=30,
                             what=f"{owner} takes the store back")
            store.bump(3, by=1, skip=20)
            await eventually(lambda: _now(store.exact()), timeout_s=40,
                             what="the store converges")
        first_other = min(w.started_s for w in store.writes(other))
        late = [w for w in store.writes(owner, since=first_other) if w.started_s < back_at]
        last_before = max(w.started_s for w in store.writes(owner, since=bumped_at)
                          if w.started_s < back_at)
        print(f"{owner} last wrote {last_before - cut_at:+.1f} s from the cut; {other} first "
              f"wrote {first_other - cut_at:+.1f} s from it")
        assert late == [], f"{owner} wrote after {other} had started to: {late}"
        assert store.running.emulator.overlapping_writes() == {}
        assert store.writes(owner, since=back_at), f"{owner} writes again after coming back"
        journaled = await terms(pg_dsn)
        assert [replica for replica, _ in journaled] == [owner, other, owner], journaled
        epochs = [epoch for _, epoch in journaled]
        assert epochs == sorted(epochs) and len(set(epochs)) == 3, journaled


async def test_an_owner_whose_lease_connection_goes_silent_stops_writing_before_the_other_replica_starts(  # noqa: E501
        pg_dsn, tmp_path):
    owner, other = names()
    async with one_store(pg_dsn, tmp_path) as store, \
            FreezableProxy("127.0.0.1", int(pg_dsn.rsplit(":", 1)[1].split("/")[0])
                           ).running() as proxy:
        first = store.replica(owner, lease_dsn=proxy.dsn(pg_dsn))
        second = store.replica(other)
        async with started(first, second):
            bumped_at = await owner_writing(
                store, pg_dsn, (owner, first), (other, second), skus=14)
            # A pooler that lost its server connection: the server ends the session (the
            # lock is free), the owner's socket stays open and hears nothing, ever.
            proxy.freeze(drop_upstream=True)
            frozen_at = time.monotonic()
            await eventually(lambda: _now(bool(store.writes(other))), timeout_s=30,
                             what=f"{other} takes the store over and writes")
            await eventually(lambda: _now(store.exact()), timeout_s=40,
                             what="the store converges")
        first_other = min(w.started_s for w in store.writes(other))
        last_owner = max(w.started_s for w in store.writes(owner, since=bumped_at))
        print(f"{owner} last wrote {last_owner - frozen_at:+.1f} s after the freeze; {other} "
              f"first wrote {first_other - frozen_at:+.1f} s after it")
        late = store.writes(owner, since=first_other)
        assert late == [], f"{owner} wrote after {other} had started to: {late}"
        assert store.running.emulator.overlapping_writes() == {}
        assert first.find("lease_connection_lost") is not None, first.log_text()
        journaled = await terms(pg_dsn)
        assert [replica for replica, _ in journaled] == [owner, other], journaled
        assert journaled[0][1] < journaled[1][1]


async def _now(value: bool) -> bool:
    return value


async def _held_by(dsn: str, replica: str) -> bool:
    return (await owners(dsn)).get(SITE) == replica and bool(await lease_sessions(dsn))


async def _live(dsn: str, replica: str) -> bool:
    return bool(await fetch(dsn, "SELECT 1 FROM syncd_replicas WHERE replica = $1", replica))
