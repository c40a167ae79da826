"""``LocalBackend``: the state directory of one machine.

Per site: ``journal/<site>.jsonl`` and its closed segments ``journal/<site>.jsonl.d/``
(``local.journal``, ``local.segments``), ``<site>.state.json``
(``local.statefile``), ``<site>.lock`` (``local.lock``) and, while an approval waits,
``<site>.force`` (``local.approve``), the console's action log (``local.console_files``),
and the last probe's findings in ``<site>.probe.json`` (``local.probefile``). One
process owns a site through its lock file, so
there are no leases and no replicas to share the sites with.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from syncd.core.findings import ProbeReport
from syncd.core.journal import BadLine, Journal, JournalEntry
from syncd.core.retention import Compaction
from syncd.edges.backend.base import SiteLocked
from syncd.edges.backend.console_state import Approval, ConsoleAction, StoredSession
from syncd.edges.backend.fence import SiteLease
from syncd.edges.backend.local import approve, console_files, lock, probefile, statefile
from syncd.edges.backend.local.check import state_dir_problem
from syncd.edges.backend.local.compact import compact
from syncd.edges.backend.local.journal import (
    file_journal,
    journal_path,
    read_journal,
    read_last,
    read_last_about,
    read_open,
    read_run,
)
from syncd.edges.backend.local.segments import SegmentPolicy
from syncd.edges.backend.runstate import RunState

if TYPE_CHECKING:
    from syncd.edges.backend.leases import PgOwnership


class LocalBackend:
    """``StateBackend`` on a directory; nothing to open, so usable without ``async with``."""

    def __init__(self, state_dir: Path, *, segments: SegmentPolicy | None = None) -> None:
        self.state_dir = state_dir
        self.segments = segments or SegmentPolicy()
        """When a journal's current segment is closed."""

    async def __aenter__(self) -> LocalBackend:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        return None

    def problem(self) -> str | None:
        return state_dir_problem(self.state_dir)

    def journal(self, site: str, *, run_id: str, rollback_of: str | None = None,
                lease: SiteLease | None = None) -> Journal:
        # One process owns the directory (its lock files): there are no leases to check.
        return file_journal(journal_path(self.state_dir, site), site=site, run_id=run_id,
                            rollback_of=rollback_of, policy=self.segments)

    async def read_journal(self, site: str,
                           bad_lines: list[BadLine] | None = None) -> list[JournalEntry]:
        path = journal_path(self.state_dir, site)
        return await asyncio.to_thread(lambda: list(read_journal(path, bad_lines=bad_lines)))

    async def read_recent(self, site: str, limit: int,
                          bad_lines: list[BadLine] | None = None) -> list[JournalEntry]:
        return await asyncio.to_thread(read_last, journal_path(self.state_dir, site), limit,
                                       bad_lines)

    async def read_recent_about(self, site: str, needles: Sequence[str], *, limit: int,
                                window: int) -> list[JournalEntry]:
        return await asyncio.to_thread(lambda: read_last_about(
            journal_path(self.state_dir, site), needles, limit=limit, window=window))

    async def read_run(self, site: str, run_id: str) -> list[JournalEntry]:
        return await asyncio.to_thread(read_run, journal_path(self.state_dir, site), run_id)

    async def read_open(self, site: str) -> list[JournalEntry]:
        return await asyncio.to_thread(read_open, journal_path(self.state_dir, site))

    async def compact(self, site: str, *, retention_days: int, now: datetime,
                      dry_run: bool = False) -> Compaction:
        return await asyncio.to_thread(
            lambda: compact(journal_path(self.state_dir, site), site=site, now=now,
                            retention_days=retention_days, dry_run=dry_run))

    def where(self, site: str) -> str:
        return str(journal_path(self.state_dir, site))

    async def read_state(self, site: str) -> RunState | None:
        return await asyncio.to_thread(statefile.read_state, self.state_dir, site)

    async def write_state(self, site: str, state: RunState) -> None:
        await asyncio.to_thread(statefile.write_state, self.state_dir, site, state)

    async def read_probe(self, site: str) -> ProbeReport | None:
        return await asyncio.to_thread(probefile.read_probe, self.state_dir, site)

    async def write_probe(self, site: str, report: ProbeReport) -> None:
        await asyncio.to_thread(probefile.write_probe, self.state_dir, site, report)

    @contextlib.asynccontextmanager
    async def site_lock(self, site: str) -> AsyncIterator[object]:
        with lock.acquire_site_lock(self.state_dir, site, role="sync") as held:
            yield held

    def hold_site_lock(self, site: str) -> contextlib.AbstractContextManager[lock.SiteLock]:
        """The daemon's ``site_lock``, without an event loop: a daemon holds its lock files
        across configurations, from synchronous code, and says in them that it is a daemon
        (so ``syncd sync --force`` may ask it for a forced cycle)."""
        return lock.acquire_site_lock(self.state_dir, site, role="daemon")

    def lock_path(self, site: str) -> Path:
        """The site's lock file."""
        return lock.lock_path(self.state_dir, site)

    def cannot_ask(self, holder: SiteLocked) -> str | None:
        if holder.pid is None:
            return f"the lock file {holder.lock_path} names no process to ask"
        if holder.role != "daemon":
            return (f"process {holder.pid} is not a syncd daemon but a one-shot command, "
                    "which takes no approvals: wait for it to finish")
        if not approve.is_syncd_process(holder.pid):
            return f"process {holder.pid} is not a syncd process of this user: not signalled"
        return None

    async def request_approval(self, site: str, holder: SiteLocked,
                               approval: Approval) -> None:
        problem = self.cannot_ask(holder)
        if problem is not None or holder.pid is None:
            raise OSError(problem)
        await asyncio.to_thread(approve.request_forced_cycle, self.state_dir, site,
                                holder.pid, approval)

    async def grant_approval(self, site: str, approval: Approval) -> None:
        await asyncio.to_thread(console_files.write_approval, self.state_dir, site, approval)

    async def read_approval(self, site: str) -> Approval | None:
        return await asyncio.to_thread(console_files.read_approval, self.state_dir, site)

    async def take_approval(self, site: str) -> Approval | None:
        return await asyncio.to_thread(console_files.take_approval, self.state_dir, site)

    async def record_action(self, action: ConsoleAction) -> None:
        await asyncio.to_thread(console_files.append_action, self.state_dir, action)

    async def recent_actions(self, limit: int) -> list[ConsoleAction]:
        actions = await asyncio.to_thread(console_files.read_actions, self.state_dir)
        return actions[-limit:][::-1] if limit > 0 else []

    async def save_session(self, session: StoredSession, *, max_age_s: float) -> None:
        await asyncio.to_thread(console_files.write_sessions, self.state_dir, save=session,
                                max_age_s=max_age_s)

    async def drop_sessions(self, keys: list[str], *, max_age_s: float) -> None:
        await asyncio.to_thread(console_files.write_sessions, self.state_dir,
                                drop=frozenset(keys), max_age_s=max_age_s)

    async def read_sessions(self) -> list[StoredSession]:
        return await asyncio.to_thread(console_files.read_sessions, self.state_dir)

    def ownership(self) -> PgOwnership | None:
        return None
