"""Site ownership among replicas on one PostgreSQL: a fair share each, never two at once.

Each replica keeps one dedicated connection and, on it:

- a heartbeat row in ``syncd_replicas`` every ``ttl/3`` seconds; the live replicas are
  those whose heartbeat is younger than the TTL;
- a *session advisory lock* per site it cycles (``pg_try_advisory_lock``, keyed by the
  site's 64-bit hash). The server drops every one of them the moment the connection
  dies, so a replica killed with SIGKILL leaves no lock behind; a lock is never taken by
  two sessions, so no store is ever cycled by two replicas at once.

Who should own a site is decided by rendezvous hashing over the live replicas (each
site goes to the replica with the highest ``hash(site, replica)``): every replica computes
the same answer without talking to the others, each gets about ``sites / replicas``, and
when a replica joins or leaves only the sites that must move do. A replica takes the lock
of each site that is now its own (retrying until the previous owner lets go), and gives
up a site that is no longer its own in two steps: the site leaves ``runnable()`` (the
daemon stops its loop, letting a cycle in flight finish), and only when the daemon
reports the loop ended (``stopped``) is the lock released. ``syncd_site_owners`` mirrors
who holds what, for operators and tests.

If the connection is lost, the replica stops every site at once (its locks are gone) and
reconnects. A replica killed mid-cycle is replaced within ``TTL + TTL/3``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import Awaitable, Callable, Collection
from typing import Any

import structlog

from syncd.backend.postgres import site_key

log = structlog.get_logger("syncd.leases")


def owner_of(site: str, replicas: Collection[str]) -> str | None:
    """The rendezvous owner of ``site`` among ``replicas`` (None when there are none)."""
    best: tuple[bytes, str] | None = None
    for replica in replicas:
        score = hashlib.blake2b(f"{site}\0{replica}".encode(), digest_size=8).digest()
        if best is None or (score, replica) > best:
            best = (score, replica)
    return best[1] if best else None


class PgOwnership:
    """The daemon's ``Ownership`` on PostgreSQL (see the module docstring)."""

    def __init__(self, connect: Callable[[], Awaitable[Any]], *, replica: str,
                 ttl_s: float) -> None:
        self._connect = connect
        self.replica = replica
        self.ttl_s = ttl_s
        self.poll_s = ttl_s / 3
        self.changed = asyncio.Event()
        self._sites: frozenset[str] = frozenset()
        self._held: set[str] = set()
        self._releasing: set[str] = set()
        self._conn: Any = None
        self._lock = asyncio.Lock()

    def set_sites(self, names: Collection[str]) -> None:
        self._sites = frozenset(names)
        self.changed.set()

    def runnable(self) -> frozenset[str]:
        return frozenset(self._held - self._releasing) & self._sites

    async def stopped(self, running: frozenset[str]) -> None:
        async with self._lock:
            done = {s for s in self._held if s not in running
                    and (s in self._releasing or s not in self._sites)}
            if not done or self._conn is None:
                return
            try:
                for site in sorted(done):
                    await self._conn.execute("SELECT pg_advisory_unlock($1)", site_key(site))
                await self._conn.execute(
                    "DELETE FROM syncd_site_owners WHERE site = ANY($1::text[]) AND replica = $2",
                    sorted(done), self.replica)
            except Exception as e:
                log.warning("lease_release_failed", error=str(e))
                await self._lose_connection()
                return
            self._held -= done
            self._releasing -= done
            log.info("sites_released", sites=len(done), held=len(self._held))

    async def run(self, stop: asyncio.Event) -> None:
        try:
            while not stop.is_set():
                try:
                    async with self._lock:
                        await self._round()
                except (TimeoutError, OSError) as e:
                    log.warning("lease_connection_lost", error=str(e))
                    await self._lose_connection()
                except Exception as e:  # asyncpg's errors: keep trying, never crash the daemon
                    log.warning("lease_round_failed", error=f"{type(e).__name__}: {e}")
                    await self._lose_connection()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=self.poll_s)
        finally:
            await self._leave()
            await self._close()

    async def _leave(self) -> None:
        """A replica stopping on purpose leaves the live set at once, so that the others
        take its sites now rather than after the TTL (its locks are released already)."""
        if self._conn is None:
            return
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._conn.execute(
                "DELETE FROM syncd_replicas WHERE replica = $1", self.replica), timeout=5)

    async def _round(self) -> None:
        if self._conn is None:
            self._conn = await self._connect()
            log.info("lease_connected", replica=self.replica)
        conn = self._conn
        await conn.execute(
            "INSERT INTO syncd_replicas (replica, heartbeat_at) VALUES ($1, now()) "
            "ON CONFLICT (replica) DO UPDATE SET heartbeat_at = now()", self.replica)
        await conn.execute("DELETE FROM syncd_replicas "
                           "WHERE heartbeat_at < now() - make_interval(secs => $1)",
                           self.ttl_s * 20)
        live = [r["replica"] for r in await conn.fetch(
            "SELECT replica FROM syncd_replicas "
            "WHERE heartbeat_at > now() - make_interval(secs => $1)", self.ttl_s)]
        if self.replica not in live:
            live.append(self.replica)
        mine = {s for s in self._sites if owner_of(s, live) == self.replica}
        taken = []
        for site in sorted(mine - self._held):
            if await conn.fetchval("SELECT pg_try_advisory_lock($1)", site_key(site)):
                self._held.add(site)
                taken.append(site)
        if taken:
            await conn.execute(
                "INSERT INTO syncd_site_owners (site, replica) SELECT unnest($1::text[]), $2 "
                "ON CONFLICT (site) DO UPDATE SET replica = EXCLUDED.replica, since = now()",
                taken, self.replica)
        giving_up = (self._held - mine) - self._releasing
        self._releasing |= giving_up
        if taken or giving_up:
            log.info("sites_rebalanced", replicas=len(live), taken=len(taken),
                     giving_up=len(giving_up), held=len(self._held - self._releasing))
            self.changed.set()

    async def _lose_connection(self) -> None:
        """Every lock died with the connection: stop every site now."""
        if self._held:
            log.error("leases_lost", sites=len(self._held))
        self._held.clear()
        self._releasing.clear()
        self.changed.set()
        await self._close()

    async def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close(timeout=5)
