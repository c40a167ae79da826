"""The lease side of fencing, on a real PostgreSQL: a silent lease connection lapses the
leases before the TTL and the server frees its locks within it; a closed one ends them at
once; a journal line of a term another replica took over is never inserted."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import pytest

from support.backends import migrated
from syncd.base.errors import LeaseLost
from syncd.base.model import StoreVariant
from syncd.core.plan import ChangeReason, StockChange
from syncd.edges.backend.fence import SiteLease
from syncd.edges.backend.leases import PgOwnership
from syncd.edges.backend.postgres import connect, open_postgres, site_key

from .tcpproxy import FreezableProxy

pytestmark = pytest.mark.timeout(60)

TTL_S = 4.0


async def until(value: Callable[[], Any], *, timeout_s: float, what: str) -> Any:
    deadline = time.monotonic() + timeout_s
    while not (found := value()):
        assert time.monotonic() < deadline, f"not within {timeout_s:g} s: {what}"
        await asyncio.sleep(0.05)
    return found


@asynccontextmanager
async def owning(dsn: str, site: str = "shop") -> AsyncIterator[PgOwnership]:
    """A replica's ownership running on ``dsn`` until the block ends."""
    own = PgOwnership(lambda: connect(dsn), replica="r1", ttl_s=TTL_S)
    own.set_sites([site])
    task = asyncio.create_task(own.run(asyncio.Event()), name="ownership")
    try:
        yield own
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_a_silent_lease_connection_lapses_the_lease_before_the_ttl_and_frees_its_lock(
        pg_dsn):
    await migrated(pg_dsn)
    port = int(pg_dsn.rsplit(":", 1)[1].split("/")[0])
    async with FreezableProxy("127.0.0.1", port).running() as proxy, \
            owning(proxy.dsn(pg_dsn)) as own:
        lease: SiteLease = await until(lambda: own.lease("shop"), timeout_s=10,
                                       what="the site is held")
        renewed = lease.valid_until
        await until(lambda: lease.valid_until > renewed, timeout_s=5, what="a round renews it")
        proxy.freeze()  # a partition: both sockets stay open, nothing passes
        frozen_at = time.monotonic()
        await asyncio.wait_for(lease.lapsed(), timeout=TTL_S)
        lapsed_s = time.monotonic() - frozen_at
        await until(lambda: lease.ended, timeout_s=TTL_S, what="the lease ends")
        ended_s = time.monotonic() - frozen_at
        assert own.lease("shop") is None and own.runnable() == frozenset()
        # The server ends the session that went quiet: another replica can take the site.
        other = await asyncpg.connect(pg_dsn)
        try:
            while not await other.fetchval("SELECT pg_try_advisory_lock($1)",
                                           site_key("shop")):
                assert time.monotonic() - frozen_at < TTL_S + 3, "the lock is still held"
                await asyncio.sleep(0.2)
            freed_s = time.monotonic() - frozen_at
        finally:
            await other.close()
    print(f"TTL {TTL_S:g} s: lease lapsed {lapsed_s:.2f} s after the freeze, ended "
          f"{ended_s:.2f} s after it, lock freed by the server {freed_s:.2f} s after it")
    assert lapsed_s <= own.valid_for_s
    assert ended_s <= own.poll_s + own.round_timeout_s + 0.5


async def test_a_lease_connection_closed_by_the_server_ends_the_leases_at_once(pg_dsn):
    await migrated(pg_dsn)
    async with owning(pg_dsn) as own:
        lease: SiteLease = await until(lambda: own.lease("shop"), timeout_s=10,
                                       what="the site is held")
        # What the daemon sees right after the ownership hears of the close: asyncpg calls
        # every termination listener in one pass of the loop, in no set order, so this looks
        # one pass later, before a round could have connected again.
        seen_at_close: list[tuple[frozenset[str], SiteLease | None]] = []
        loop = asyncio.get_running_loop()
        own._conn.add_termination_listener(lambda _: loop.call_soon(
            lambda: seen_at_close.append((own.runnable(), own.lease("shop")))))
        conn = await asyncpg.connect(pg_dsn)
        try:
            [session] = [r["pid"] for r in await conn.fetch(
                "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted")]
            await conn.execute("SELECT pg_terminate_backend($1)", session)
            cut_at = time.monotonic()
        finally:
            await conn.close()
        await asyncio.wait_for(lease.lapsed(), timeout=own.poll_s)
        assert lease.ended == "lease connection closed"
        # Not held from the close on, so nothing runs the site until a round takes it back.
        assert seen_at_close == [(frozenset(), None)]
        assert time.monotonic() - cut_at < 0.5, "ended by the close, not by the next round"
        taken_back: SiteLease = await until(lambda: own.lease("shop"), timeout_s=10,
                                            what="the site is taken back")
        assert taken_back.epoch > lease.epoch


def change(product: int) -> StockChange:
    variant = StoreVariant(product_id=f"p{product}", variant_id="v0",
                           inventory_item_id=f"i{product}", sku=f"SKU-{product}",
                           tracked=True, quantity=1, in_stock=True, hidden=False)
    return StockChange(variant=variant, quantity=5, in_stock=None, track=True,
                       reason=ChangeReason.QUANTITY, row=None)


async def test_a_journal_line_of_a_term_another_replica_took_over_is_never_inserted(pg_dsn):
    await migrated(pg_dsn)
    async with open_postgres(pg_dsn) as backend:
        await backend.pool.execute("INSERT INTO syncd_site_owners (site, replica, epoch) "
                                   "VALUES ('shop', 'r1', 5)")
        lease = SiteLease("shop", replica="r1", epoch=5, valid_until=time.monotonic() + 60)
        journal = backend.journal("shop", run_id="run-1", lease=lease)
        async with journal:
            await journal.write_pending([change(1)])
            # r1's session went silent; r2 took the site over
            await backend.pool.execute("UPDATE syncd_site_owners SET replica = 'r2', "
                                       "epoch = 6 WHERE site = 'shop'")
            with pytest.raises(LeaseLost, match="held by replica 'r2', epoch 6"):
                await journal.write_pending([change(2)])
        rows = await backend.pool.fetch("SELECT write_id, replica, epoch FROM syncd_journal")
    assert [(r["replica"], r["epoch"]) for r in rows] == [("r1", 5)]
    assert lease.ended is not None, "the term is over for every later check too"
