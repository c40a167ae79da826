"""The PostgreSQL backend: the journal, run state and site locks of every replica in one
database (asyncpg; ``pip install 'syncd[postgres]'``).

The journal is one row per journal line (``syncd_journal``, the line's JSON in ``entry``),
inserted in one transaction per batch before the batch is sent, exactly where the local
journal appends and fsyncs; a committed insert is as durable as an fsynced line. A replica
inserts only while its lease term is the site's (``PgJournal``). Approvals are the
console's on a replica: ``syncd sync --force`` cannot signal a process on another machine. A
``(site, write_id, outcome)`` unique key makes a duplicated line impossible. Site locks
are session advisory locks, keyed by a 64-bit hash of the site name: the server drops
them when their connection dies, even when the process holding them was killed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import AsyncIterator, Sequence
from datetime import UTC
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import asyncpg

from syncd.base.errors import LeaseLost, StateError
from syncd.core.findings import ProbeReport, report_from_dict, report_to_dict
from syncd.core.journal import BadLine, Journal, JournalEntry, JournalTail
from syncd.edges.backend.base import SiteLocked
from syncd.edges.backend.fence import SiteLease
from syncd.edges.backend.runstate import RunState
from syncd.edges.backend.schema import check_version

if TYPE_CHECKING:
    from syncd.edges.backend.leases import PgOwnership

CONNECT_TIMEOUT_S = 10.0
COMMAND_TIMEOUT_S = 30.0


def site_key(site: str) -> int:
    """The advisory-lock key of a site: a signed 64-bit hash of its name."""
    digest = hashlib.blake2b(f"syncd-site:{site}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


async def read_rows(pool: Any, site: str, bad_lines: list[BadLine] | None, *,
                    after: int = 0) -> tuple[list[JournalEntry], int]:
    """The journal rows of ``site`` whose id is over ``after``, oldest first, and the last
    id read (``after`` when none); unreadable rows go to ``bad_lines``."""
    rows = await pool.fetch("SELECT id, entry FROM syncd_journal WHERE site = $1 AND id > $2 "
                            "ORDER BY id", site, after)
    return _entries(rows, bad_lines), int(rows[-1]["id"]) if rows else after


def _entries(rows: Sequence[Any], bad_lines: list[BadLine] | None) -> list[JournalEntry]:
    entries = []
    for row in rows:
        try:
            entries.append(JournalEntry.from_json(row["entry"]))
        except (ValueError, KeyError, TypeError) as e:
            if bad_lines is not None:
                bad_lines.append(BadLine(int(row["id"]), f"unreadable: {e}", False))
    return entries


class PgJournal:
    """A ``JournalStore`` whose lines are rows of one site.

    With a ``lease`` (a daemon replica), each batch of rows is inserted in a transaction
    that first locks the site's owner row, if it still names this replica and the lease's
    epoch (``FOR SHARE``: a replica taking the site over waits for that transaction, and
    every later one finds the new epoch). Otherwise nothing is inserted and ``LeaseLost``
    is raised: the batch is never sent. Rows carry the replica and epoch that wrote them.
    """

    def __init__(self, pool: Any, *, site: str, lease: SiteLease | None = None) -> None:
        self._pool = pool
        self.site = site
        self._lease = lease

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def read_all(self, bad_lines: list[BadLine] | None = None) -> list[JournalEntry]:
        return (await read_rows(self._pool, self.site, bad_lines))[0]

    async def read_since(self, position: object | None) -> JournalTail:
        # A site's rows are inserted under its lock, one holder at a time, and every
        # insert is awaited: their ids grow in the order they were committed.
        entries, last = await read_rows(self._pool, self.site, None,
                                        after=position if isinstance(position, int) else 0)
        return JournalTail(tuple(entries), last, restarted=position is None)

    async def append(self, entries: Sequence[JournalEntry]) -> None:
        if not entries:
            return
        lease = self._lease
        replica, epoch = (lease.replica, lease.epoch) if lease is not None else (None, None)
        rows = [(e.site, e.write_id, e.run_id, e.outcome.value, e.to_json(), replica, epoch)
                for e in entries]
        if lease is not None:
            lease.check()  # lapsed or ended here: no need to ask the database
        async with self._pool.acquire() as conn, conn.transaction():
            if lease is not None and await conn.fetchval(
                    "SELECT epoch FROM syncd_site_owners WHERE site = $1 AND replica = $2 "
                    "AND epoch = $3 FOR SHARE", self.site, replica, epoch) is None:
                owner = await conn.fetchrow("SELECT replica, epoch FROM syncd_site_owners "
                                            "WHERE site = $1", self.site)
                now = f"replica {owner['replica']!r}, epoch {owner['epoch']}" if owner \
                    else "no replica"
                lease.end(f"the site is now held by {now}")
                raise LeaseLost(f"site {self.site!r}: epoch {epoch} of replica {replica!r} "
                                f"is over, the site is held by {now}: nothing journaled")
            await conn.executemany(
                "INSERT INTO syncd_journal (site, write_id, run_id, outcome, entry, replica, "
                "epoch) VALUES ($1, $2, $3, $4, $5, $6, $7)", rows)


class PostgresBackend:
    """``StateBackend`` on a connection pool, opened by ``async with``."""

    def __init__(self, dsn: str, *, replica: str = "", lease_ttl_s: float = 15.0) -> None:
        self._dsn = dsn
        self.replica = replica
        """This process's replica id (its ``ownership``)."""
        self.lease_ttl_s = lease_ttl_s
        self._pool: Any = None

    @property
    def pool(self) -> Any:
        """The open pool (``StateError`` outside ``async with``)."""
        if self._pool is None:
            raise StateError("the PostgreSQL backend is used before it was opened")
        return self._pool

    async def __aenter__(self) -> PostgresBackend:
        """Connect, and check the schema is this syncd's (``StateError`` otherwise)."""
        pool = await asyncpg.create_pool(self._dsn, min_size=1, max_size=10,
                                         timeout=CONNECT_TIMEOUT_S,
                                         command_timeout=COMMAND_TIMEOUT_S)
        try:
            async with pool.acquire() as conn:
                await check_version(conn)
        except BaseException:
            await pool.close()
            raise
        self._pool = pool
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

    def problem(self) -> str | None:
        return None  # a database keeps no files; reaching it is checked on entry

    def journal(self, site: str, *, run_id: str, rollback_of: str | None = None,
                lease: SiteLease | None = None) -> Journal:
        return Journal(PgJournal(self.pool, site=site, lease=lease), site=site, run_id=run_id,
                       rollback_of=rollback_of)

    async def read_journal(self, site: str,
                           bad_lines: list[BadLine] | None = None) -> list[JournalEntry]:
        return (await read_rows(self.pool, site, bad_lines))[0]

    async def read_recent(self, site: str, limit: int) -> list[JournalEntry]:
        rows = await self.pool.fetch(
            "SELECT id, entry FROM (SELECT id, entry FROM syncd_journal WHERE site = $1 "
            "ORDER BY id DESC LIMIT $2) AS recent ORDER BY id", site, limit)
        return _entries(rows, None)

    def where(self, site: str) -> str:
        return f"the syncd_journal table (site {site!r})"

    async def read_state(self, site: str) -> RunState | None:
        row = await self.pool.fetchrow(
            "SELECT last_success_at, source_rows, source_digest, matched_rows "
            "FROM syncd_run_state WHERE site = $1", site)
        if row is None:
            return None
        return RunState(last_success_at=row["last_success_at"].astimezone(UTC),
                        source_rows=row["source_rows"], source_digest=row["source_digest"],
                        matched_rows=row["matched_rows"])

    async def write_state(self, site: str, state: RunState) -> None:
        await self.pool.execute(
            "INSERT INTO syncd_run_state (site, last_success_at, source_rows, source_digest, "
            "matched_rows) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (site) DO UPDATE SET "
            "last_success_at = EXCLUDED.last_success_at, source_rows = EXCLUDED.source_rows, "
            "source_digest = EXCLUDED.source_digest, matched_rows = EXCLUDED.matched_rows, "
            "updated_at = now()",
            site, state.last_success_at, state.source_rows, state.source_digest,
            state.matched_rows)

    async def read_probe(self, site: str) -> ProbeReport | None:
        text = await self.pool.fetchval(
            "SELECT report FROM syncd_probe_reports WHERE site = $1", site)
        if text is None:
            return None
        try:
            data = json.loads(text)
            if not isinstance(data, dict):
                raise TypeError("not a JSON object")
            return report_from_dict(data)
        except (ValueError, KeyError, TypeError) as e:
            raise StateError(f"site {site!r}: damaged probe findings in syncd_probe_reports "
                             f"({e}); run `syncd probe` again to replace them") from e

    async def write_probe(self, site: str, report: ProbeReport) -> None:
        await self.pool.execute(
            "INSERT INTO syncd_probe_reports (site, taken_at, report) VALUES ($1, $2, $3) "
            "ON CONFLICT (site) DO UPDATE SET taken_at = EXCLUDED.taken_at, "
            "report = EXCLUDED.report",
            site, report.taken_at, json.dumps(report_to_dict(report)))

    @contextlib.asynccontextmanager
    async def site_lock(self, site: str) -> AsyncIterator[object]:
        key = site_key(site)
        async with self.pool.acquire() as conn:
            if not await conn.fetchval("SELECT pg_try_advisory_lock($1)", key):
                raise SiteLocked(
                    f"site {site!r} is being synced by another syncd (a replica holds its "
                    f"PostgreSQL advisory lock {key}); two writers would fight over the "
                    "same store", site=site, lock_path=Path(f"pg-advisory-lock:{key}"),
                    pid=None)
            try:
                yield key
            finally:
                await conn.execute("SELECT pg_advisory_unlock($1)", key)

    def request_approval(self, site: str, holder: SiteLocked) -> None:
        raise OSError("a replica holds the site: approve its refused plan in the console")

    def take_approval(self, site: str) -> bool:
        return False

    def ownership(self) -> PgOwnership:
        from syncd.edges.backend.leases import PgOwnership  # leases imports this module

        dsn = self._dsn
        return PgOwnership(lambda: connect(dsn), replica=self.replica,
                           ttl_s=self.lease_ttl_s)


async def connect(dsn: str) -> Any:
    """One connection (migrations, leases)."""
    return await asyncpg.connect(dsn, timeout=CONNECT_TIMEOUT_S,
                                 command_timeout=COMMAND_TIMEOUT_S)


def open_postgres(dsn: str) -> PostgresBackend:
    """The backend on ``dsn``, to open with ``async with`` (``StateError`` when its schema
    is not this syncd's)."""
    return PostgresBackend(dsn)
