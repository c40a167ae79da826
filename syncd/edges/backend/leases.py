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
reconnects. A replica killed mid-cycle is replaced within ``TTL + TTL/4``.

Fencing. A replica that stops hearing from the database (a partition, a pooler holding a
dead socket) cannot learn that another replica took its stores, so it stops on its own
first, and the others wait longer than that:

- every lease round runs under a deadline of ``TTL/6`` (and a server-side
  ``statement_timeout``); a round that misses it counts as a lost connection;
- each site held has a ``SiteLease`` (``syncd.edges.backend.fence``) valid until the *start* of
  the last successful round plus ``3/4 TTL``. Every request to the store checks it right
  before it goes on the wire, so a silent replica sends nothing after that, while the
  others see its heartbeat stale only ``TTL`` after that round;
- the server ends the lease session once it has been idle for ``TTL``
  (``idle_session_timeout``) or its socket is dead (TCP keepalives), so the advisory locks
  of a silent replica are freed rather than held for hours;
- when the connection closes (``pg_terminate_backend``, a server restart) every lease
  ends at once, before the next round notices;
- each term of a site has an epoch (``syncd_site_owners.epoch``, from a sequence), and a
  journal line is inserted only while the owner row names this replica and epoch
  (``PgJournal``): a replica whose store was taken can neither journal nor, since a write
  is journaled before it is sent, send one more write.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from collections.abc import Awaitable, Callable, Collection
from typing import Any

import structlog

from syncd.edges.backend.fence import SiteLease
from syncd.edges.backend.postgres import site_key

log = structlog.get_logger("syncd.leases")


def owner_of(site: str, replicas: Collection[str]) -> str | None:
    """The rendezvous owner of ``site`` among ``replicas`` (None when there are none)."""
    best: tuple[bytes, str] | None = None
    for replica in replicas:
        score = hashlib.blake2b(f"{site}\0{replica}".encode(), digest_size=8).digest()
        if best is None or (score, replica) > best:
            best = (score, replica)
    return best[1] if best else None


ROUND_TIMEOUT_FRACTION = 1 / 6
"""A lease round must finish within this share of the TTL, or the connection counts as lost."""

POLL_FRACTION = 1 / 4
"""Lease rounds run this share of the TTL apart."""

VALID_FRACTION = 3 / 4
"""A lease is valid this share of the TTL after the start of the last successful round.
Two rounds as slow as their deadline and the pause between them (1/6 + 1/4 + 1/6 of the
TTL) fit inside it; the others take a site over only a whole TTL after that round."""


class PgOwnership:
    """The daemon's ``Ownership`` on PostgreSQL (see the module docstring)."""

    def __init__(self, connect: Callable[[], Awaitable[Any]], *, replica: str,
                 ttl_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._connect = connect
        self.replica = replica
        self.ttl_s = ttl_s
        self.poll_s = ttl_s * POLL_FRACTION
        self.round_timeout_s = ttl_s * ROUND_TIMEOUT_FRACTION
        self.valid_for_s = ttl_s * VALID_FRACTION
        self._clock = clock
        self.changed = asyncio.Event()
        self._sites: frozenset[str] = frozenset()
        self._held: set[str] = set()
        self._releasing: set[str] = set()
        self._leases: dict[str, SiteLease] = {}
        self._conn: Any = None
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()

    def set_sites(self, names: Collection[str]) -> None:
        self._sites = frozenset(names)
        self.changed.set()

    def runnable(self) -> frozenset[str]:
        return frozenset(self._held - self._releasing) & self._sites

    def lease(self, site: str) -> SiteLease | None:
        return self._leases.get(site) if site in self.runnable() else None

    async def stopped(self, running: frozenset[str]) -> None:
        async with self._lock:
            done = {s for s in self._held if s not in running
                    and (s in self._releasing or s not in self._sites)}
            if not done or self._conn is None:
                return
            try:
                async with asyncio.timeout(self.round_timeout_s):
                    await self._conn.execute(
                        "SELECT pg_advisory_unlock(key) FROM unnest($1::bigint[]) key",
                        [site_key(site) for site in sorted(done)])
                    await self._conn.execute(
                        "DELETE FROM syncd_site_owners "
                        "WHERE site = ANY($1::text[]) AND replica = $2",
                        sorted(done), self.replica)
            except Exception as e:
                log.warning("lease_release_failed", error=f"{type(e).__name__}: {e}")
                self._lose_connection("lease release failed")
                return
            for site in done:
                lease = self._leases.pop(site, None)
                if lease is not None:
                    lease.end("released")
            self._held -= done
            self._releasing -= done
            log.info("sites_released", sites=len(done), held=len(self._held))

    async def run(self, stop: asyncio.Event) -> None:
        try:
            while not stop.is_set():
                try:
                    await self._open()
                    async with self._lock:
                        started = self._clock()
                        async with asyncio.timeout(self.round_timeout_s):
                            await self._round()
                        self._extend(started + self.valid_for_s)
                except (TimeoutError, OSError) as e:
                    log.warning("lease_connection_lost", error=f"{type(e).__name__}: {e}",
                                round_timeout_s=round(self.round_timeout_s, 3))
                    self._lose_connection("lease round timed out or failed")
                except Exception as e:  # asyncpg's errors: keep trying, never crash the daemon
                    log.warning("lease_round_failed", error=f"{type(e).__name__}: {e}")
                    self._lose_connection("lease round failed")
                await self._pause(stop)
        finally:
            self._end_leases("replica stopping")
            await self._leave()
            await self._close()

    async def _pause(self, stop: asyncio.Event) -> None:
        """Until the next round: ``poll_s``, or less when stopping or the connection closed."""
        self._wake.clear()
        waits = [asyncio.ensure_future(event.wait()) for event in (stop, self._wake)]
        try:
            await asyncio.wait(waits, timeout=self.poll_s, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()

    async def _open(self) -> None:
        """Connect (bounded by the connection's own timeout) and set the lease session up."""
        if self._conn is not None and self._conn.is_closed():
            self._lose_connection("lease connection closed")
        if self._conn is not None:
            return
        conn = await self._connect()
        try:
            async with asyncio.timeout(self.round_timeout_s * 2):
                await conn.execute(
                    "SELECT set_config('application_name', $1, false), "
                    "set_config('statement_timeout', $2, false), "
                    "set_config('tcp_keepalives_idle', $3, false), "
                    "set_config('tcp_keepalives_interval', $3, false), "
                    "set_config('tcp_keepalives_count', '3', false)",
                    f"syncd lease {self.replica}"[:63], f"{self.round_timeout_s * 1000:.0f}",
                    str(max(1, int(self.ttl_s / 4))))
                if conn.get_server_version() >= (14, 0):
                    await conn.execute("SELECT set_config('idle_session_timeout', $1, false)",
                                       f"{self.ttl_s * 1000:.0f}")
        except BaseException:
            conn.terminate()
            raise
        conn.add_termination_listener(self._closed)
        self._conn = conn
        log.info("lease_connected", replica=self.replica)

    def _closed(self, conn: Any) -> None:
        """The lease connection closed (the server ended it, a reset): every lock it held is
        gone, so every lease ends now rather than at the next round."""
        if conn is not self._conn:
            return
        if self._leases:
            log.error("lease_connection_closed", sites=len(self._leases))
        # Nothing is held any more: ``runnable`` and ``lease`` say so now, and the next
        # round connects again and takes the sites back under new epochs.
        self._conn = None
        self._lose_connection("lease connection closed")
        self._wake.set()

    async def _leave(self) -> None:
        """A replica stopping on purpose leaves the live set at once, so that the others
        take its sites now rather than after the TTL (its locks are released already)."""
        if self._conn is None:
            return
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._conn.execute(
                "DELETE FROM syncd_replicas WHERE replica = $1", self.replica), timeout=5)

    async def _round(self) -> None:
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
        wanted = sorted(mine - self._held)
        # One statement for every lock tried: a round must fit its deadline with 1,000 sites.
        taken = [r["site"] for r in await conn.fetch(
            "SELECT site FROM unnest($1::text[], $2::bigint[]) AS t(site, key) "
            "WHERE pg_try_advisory_lock(key)",
            wanted, [site_key(site) for site in wanted])] if wanted else []
        self._held.update(taken)
        if taken:
            # A new term for each: a new epoch, which the journal inserts check.
            rows = await conn.fetch(
                "INSERT INTO syncd_site_owners (site, replica, epoch) "
                "SELECT site, $2, nextval('syncd_owner_epoch') FROM unnest($1::text[]) site "
                "ON CONFLICT (site) DO UPDATE SET replica = EXCLUDED.replica, since = now(), "
                "epoch = EXCLUDED.epoch RETURNING site, epoch", taken, self.replica)
            # Valid from now on only until the round's deadline: the round's success moves
            # it on, from the round's start.
            until = self._clock() + self.round_timeout_s
            for row in rows:
                self._leases[row["site"]] = SiteLease(row["site"], replica=self.replica,
                                                      epoch=int(row["epoch"]),
                                                      valid_until=until, clock=self._clock)
            epochs = {r["site"]: int(r["epoch"]) for r in rows}
            log.info("sites_taken", sites=len(epochs), epochs=epochs if len(epochs) <= 10
                     else f"{min(epochs.values())}..{max(epochs.values())}")
        giving_up = (self._held - mine) - self._releasing
        self._releasing |= giving_up
        if taken or giving_up:
            log.info("sites_rebalanced", replicas=len(live), taken=len(taken),
                     giving_up=len(giving_up), held=len(self._held - self._releasing))
            self.changed.set()

    def _extend(self, until: float) -> None:
        for lease in self._leases.values():
            lease.extend(until)

    def _end_leases(self, reason: str) -> None:
        for lease in self._leases.values():
            lease.end(reason)

    def _lose_connection(self, reason: str) -> None:
        """Every lock died with the connection (or may have): stop every site now."""
        if self._held:
            log.error("leases_lost", sites=len(self._held), reason=reason)
        self._end_leases(reason)
        self._leases.clear()
        self._held.clear()
        self._releasing.clear()
        self.changed.set()
        conn, self._conn = self._conn, None
        if conn is not None:
            # Not a polite close: on a silent connection that would wait for an answer.
            conn.terminate()

    async def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close(timeout=5)
