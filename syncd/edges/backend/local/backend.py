"""``LocalBackend``: the state directory of one machine.

Per site: ``journal/<site>.jsonl`` (``local.journal``), ``<site>.state.json``
(``local.statefile``), ``<site>.lock`` (``local.lock``) and, while an approval waits,
``<site>.force`` (``local.approve``), and the last probe's findings in ``<site>.probe.json``
(``local.probefile``). One process owns a site through its lock file, so
there are no leases and no replicas to share the sites with.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from syncd.core.findings import ProbeReport
from syncd.core.journal import BadLine, Journal, JournalEntry
from syncd.edges.backend.base import SiteLocked
from syncd.edges.backend.fence import SiteLease
from syncd.edges.backend.local import approve, lock, probefile, statefile
from syncd.edges.backend.local.check import state_dir_problem
from syncd.edges.backend.local.journal import file_journal, journal_path, read_journal, read_last
from syncd.edges.backend.runstate import RunState

if TYPE_CHECKING:
    from syncd.edges.backend.leases import PgOwnership


class LocalBackend:
    """``StateBackend`` on a directory; nothing to open, so usable without ``async with``."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir

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
                            rollback_of=rollback_of)

    async def read_journal(self, site: str,
                           bad_lines: list[BadLine] | None = None) -> list[JournalEntry]:
        path = journal_path(self.state_dir, site)
        return await asyncio.to_thread(lambda: list(read_journal(path, bad_lines=bad_lines)))

    async def read_recent(self, site: str, limit: int) -> list[JournalEntry]:
        return await asyncio.to_thread(read_last, journal_path(self.state_dir, site), limit)

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

    def request_approval(self, site: str, holder: SiteLocked) -> None:
        if holder.pid is None:
            raise OSError(f"the lock file {holder.lock_path} names no process to ask")
        if holder.role != "daemon":
            raise OSError(f"process {holder.pid} is not a syncd daemon but a one-shot "
                          "command, which takes no approvals: wait for it to finish")
        approve.request_forced_cycle(self.state_dir, site, holder.pid)

    def take_approval(self, site: str) -> bool:
        return approve.take_approval(self.state_dir, site)

    def ownership(self) -> PgOwnership | None:
        return None
