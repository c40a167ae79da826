"""The PostgreSQL backend: the journal, run state and site locks of every replica in one
database (asyncpg; ``pip install 'syncd[postgres]'``).

The journal is one row per journal line (``syncd_journal``, the line's JSON in ``entry``),
inserted in one transaction per batch before the batch is sent, exactly where the local
journal appends and fsyncs; a committed insert is as durable as an fsynced line. A replica
inserts only while its lease term is the site's (``PgJournal``). Approvals
(``syncd_approvals``, one per site) and the console's action log (``syncd_console_actions``)
are rows every replica reads: an approval made on one replica's console, or by ``syncd
sync --force`` on any machine, is taken by the full cycle of whichever replica holds the
site. A
``(site, write_id, outcome)`` unique key makes a duplicated line impossible. Site locks
are session advisory locks, keyed by a 64-bit hash of the site name: the server drops
them when their connection dies, even when the process holding them was killed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import asyncpg

from syncd.base.errors import LeaseLost, StateError
from syncd.core.findings import ProbeReport, report_from_dict, report_to_dict
from syncd.core.journal import BadLine, Journal, JournalEntry, JournalTail, Outcome
from syncd.core.retention import Compaction
from syncd.edges.backend.base import SiteLocked
from syncd.edges.backend.console_state import (
    ACTIONS_KEPT,
    Approval,
    ConsoleAction,
    StoredSession,
)
from syncd.edges.backend.fence import SiteLease
from syncd.edges.backend.prune import OPEN_SQL, compact_rows
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


RESTART_ROWS = 5_000
"""The newest rows a first read of a site's journal takes beside its open writes."""


async def read_restart(pool: Any, site: str) -> JournalTail:
    """``read_since(None)``: the pending rows of unsettled writes older than the newest
    ``RESTART_ROWS`` rows, then those rows, oldest first."""
    recent = await pool.fetch(
        "SELECT id, entry FROM (SELECT id, entry FROM syncd_journal WHERE site = $1 "
        "ORDER BY id DESC LIMIT $2) AS recent ORDER BY id", site, RESTART_ROWS)
    first = int(recent[0]["id"]) if recent else 0
    older = await pool.fetch(OPEN_SQL + " AND p.id < $2 ORDER BY p.id", site, first) \
        if recent else []
    last = int(recent[-1]["id"]) if recent else 0
    return JournalTail(tuple(_entries([*older, *recent], None)), last, restarted=True)


def _entries(rows: Sequence[Any], bad_lines: list[BadLine] | None) -> list[JournalEntry]:
    entries = []
    for row in rows:
        try:
            entries.append(JournalEntry.from_json(row["entry"]))
        except (ValueError, KeyError, TypeError) as e:
            if bad_lines is not None:
                bad_lines.append(BadLine(int(row["id"]), f"unreadable: {e}", False))
    return entries


async def _follow_open(conn: Any, site: str, entries: Sequence[JournalEntry]) -> None:
    """Keep ``syncd_journal_open`` (a site's unsettled writes) in step with the rows just
    inserted, in their transaction: a pending row opens a write, an outcome settles it."""
    opened = [e.write_id for e in entries if e.outcome is Outcome.PENDING]
    settled = [e.write_id for e in entries if e.outcome is not Outcome.PENDING]
    if opened:
        await conn.execute(
            "INSERT INTO syncd_journal_open (site, write_id, id) SELECT site, write_id, id "
            "FROM syncd_journal WHERE site = $1 AND write_id = ANY($2::text[]) "
            "AND outcome = 'pending' ON CONFLICT DO NOTHING", site, opened)
    if settled:
        await conn.execute("DELETE FROM syncd_journal_open WHERE site = $1 "
                           "AND write_id = ANY($2::text[])", site, settled)


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
        if isinstance(position, int):
            entries, last = await read_rows(self._pool, self.site, None, after=position)
            return JournalTail(tuple(entries), last, restarted=False)
        # From the start: the open writes, however old, then the newest rows (what a
        # cycle's checks need), not the whole history.
        return await read_restart(self._pool, self.site)

    async def read_open(self) -> list[JournalEntry]:
        return _entries(await self._pool.fetch(OPEN_SQL + " ORDER BY p.id", self.site), None)

    async def append(self, entries: Sequence[JournalEntry]) -> None:
        if not entries:
            return
        lease = self._lease
        replica, epoch = (lease.replica, lease.epoch) if lease is not None else (None, None)
        rows = [(e.site, e.write_id, e.run_id, e.outcome.value, e.to_json(), replica, epoch,
                 e.time) for e in entries]
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
                "epoch, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)", rows)
            await _follow_open(conn, self.site, entries)


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

    async def read_recent(self, site: str, limit: int,
                          bad_lines: list[BadLine] | None = None) -> list[JournalEntry]:
        rows = await self.pool.fetch(
            "SELECT id, entry FROM (SELECT id, entry FROM syncd_journal WHERE site = $1 "
            "ORDER BY id DESC LIMIT $2) AS recent ORDER BY id", site, limit)
        return _entries(rows, bad_lines)

    async def read_recent_about(self, site: str, needles: Sequence[str], *, limit: int,
                                window: int) -> list[JournalEntry]:
        rows = await self.pool.fetch(
            "SELECT id, entry FROM (SELECT id, entry FROM syncd_journal WHERE site = $1 "
            "ORDER BY id DESC LIMIT $2) AS recent WHERE EXISTS (SELECT 1 FROM "
            "unnest($3::text[]) AS n WHERE strpos(recent.entry, n) > 0) "
            "ORDER BY id DESC LIMIT $4", site, window, list(needles), limit)
        return _entries(rows[::-1], None)

    async def read_run(self, site: str, run_id: str) -> list[JournalEntry]:
        rows = await self.pool.fetch("SELECT id, entry FROM syncd_journal WHERE site = $1 "
                                     "AND run_id = $2 ORDER BY id", site, run_id)
        return _entries(rows, None)

    async def read_open(self, site: str) -> list[JournalEntry]:
        return _entries(await self.pool.fetch(OPEN_SQL + " ORDER BY p.id", site), None)

    async def compact(self, site: str, *, retention_days: int, now: datetime,
                      dry_run: bool = False) -> Compaction:
        return await compact_rows(self.pool, site, retention_days=retention_days, now=now,
                                  dry_run=dry_run)

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
            return report_from_dict(json.loads(text))
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

    def cannot_ask(self, holder: SiteLocked) -> str | None:
        return None  # the approval is a row: whichever replica holds the site takes it

    async def request_approval(self, site: str, holder: SiteLocked,
                               approval: Approval) -> None:
        # No signal to send: the replica holding the site takes it at its next full cycle.
        await self.grant_approval(site, approval)

    async def grant_approval(self, site: str, approval: Approval) -> None:
        await self.pool.execute(
            "INSERT INTO syncd_approvals (site, digest, approved_by, approved_at, changes) "
            "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (site) DO UPDATE SET "
            "digest = EXCLUDED.digest, approved_by = EXCLUDED.approved_by, "
            "approved_at = EXCLUDED.approved_at, changes = EXCLUDED.changes",
            site, approval.digest, approval.by, _time(approval.at_s), approval.changes)

    async def read_approval(self, site: str) -> Approval | None:
        row = await self.pool.fetchrow(
            "SELECT digest, approved_by, approved_at, changes FROM syncd_approvals "
            "WHERE site = $1", site)
        return _approval(row)

    async def take_approval(self, site: str) -> Approval | None:
        row = await self.pool.fetchrow(
            "DELETE FROM syncd_approvals WHERE site = $1 "
            "RETURNING digest, approved_by, approved_at, changes", site)
        return _approval(row)

    async def record_action(self, action: ConsoleAction) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "INSERT INTO syncd_console_actions (at, action, site, actor, allowed, detail) "
                "VALUES ($1, $2, $3, $4, $5, $6)", _time(action.at_s), action.action,
                action.site, action.by, action.allowed, action.detail)
            await conn.execute(
                "DELETE FROM syncd_console_actions WHERE id <= "
                "(SELECT max(id) FROM syncd_console_actions) - $1", ACTIONS_KEPT)

    async def recent_actions(self, limit: int) -> list[ConsoleAction]:
        rows = await self.pool.fetch(
            "SELECT at, action, site, actor, allowed, detail FROM syncd_console_actions "
            "ORDER BY id DESC LIMIT $1", max(limit, 0))
        return [ConsoleAction(at_s=r["at"].timestamp(), action=r["action"], site=r["site"],
                              by=r["actor"], allowed=r["allowed"], detail=r["detail"])
                for r in rows]

    async def save_session(self, session: StoredSession, *, max_age_s: float) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "INSERT INTO syncd_console_sessions (key, csrf, opened_at, seen_at) "
                "VALUES ($1, $2, $3, $4) ON CONFLICT (key) DO UPDATE SET "
                "seen_at = EXCLUDED.seen_at", session.key, session.csrf,
                _time(session.opened_at_s), _time(session.seen_at_s))
            await _forget_expired(conn, max_age_s)

    async def drop_sessions(self, keys: list[str], *, max_age_s: float) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("DELETE FROM syncd_console_sessions WHERE key = ANY($1::text[])",
                               keys)
            await _forget_expired(conn, max_age_s)

    async def read_sessions(self) -> list[StoredSession]:
        rows = await self.pool.fetch(
            "SELECT key, csrf, opened_at, seen_at FROM syncd_console_sessions")
        return [StoredSession(key=r["key"], csrf=r["csrf"],
                              opened_at_s=r["opened_at"].timestamp(),
                              seen_at_s=r["seen_at"].timestamp()) for r in rows]

    def ownership(self) -> PgOwnership:
        from syncd.edges.backend.leases import PgOwnership  # leases imports this module

        dsn = self._dsn
        return PgOwnership(lambda: connect(dsn), replica=self.replica,
                           ttl_s=self.lease_ttl_s)


def _time(at_s: float) -> datetime:
    return datetime.fromtimestamp(at_s, UTC)


async def _forget_expired(conn: Any, max_age_s: float) -> None:
    await conn.execute("DELETE FROM syncd_console_sessions WHERE opened_at < now() - "
                       "make_interval(secs => $1)", float(max_age_s))


def _approval(row: Any) -> Approval | None:
    if row is None:
        return None
    return Approval(digest=row["digest"], by=row["approved_by"],
                    at_s=row["approved_at"].timestamp(), changes=row["changes"])


async def connect(dsn: str) -> Any:
    """One connection (migrations, leases)."""
    return await asyncpg.connect(dsn, timeout=CONNECT_TIMEOUT_S,
                                 command_timeout=COMMAND_TIMEOUT_S)


def open_postgres(dsn: str) -> PostgresBackend:
    """The backend on ``dsn``, to open with ``async with`` (``StateError`` when its schema
    is not this syncd's)."""
    return PostgresBackend(dsn)
