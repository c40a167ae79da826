"""The state backend interface, and the local directory that implements it by default.

A backend keeps, per site: the write journal (appended to by the applier, read by
``rollback``), the run state of the last successful sync (with the source digest), and
the site lock that keeps one writer per store. The local backend is today's state
directory: ``journal/<site>.jsonl``, ``<site>.state.json`` and ``<site>.lock``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Protocol

from syncd.backend.fence import SiteLease
from syncd.config import Settings
from syncd.config.fleet import StateBackendKind
from syncd.journal import BadLine, Journal, JournalEntry, journal_path, read_journal
from syncd.state import RunState, acquire_site_lock, read_state, write_state


class StateBackend(Protocol):
    """What the cycle and the commands need to keep per site."""

    def journal(self, site: str, *, run_id: str, rollback_of: str | None = None,
                lease: SiteLease | None = None) -> Journal:
        """The append side of the site's journal for one run (an async context manager);
        ``rollback_of`` marks a run that undoes another. With a ``lease`` (replicas), every
        append first checks that this replica still holds the site in that term, and
        raises ``LeaseLost`` instead of appending when it does not."""

    async def read_journal(self, site: str,
                           bad_lines: list[BadLine] | None = None) -> list[JournalEntry]:
        """Every entry of the site's journal, oldest first."""

    def where(self, site: str) -> str:
        """Where the site's journal lives, for messages."""

    async def read_state(self, site: str) -> RunState | None:
        """The site's last successful run, or None."""

    async def write_state(self, site: str, state: RunState) -> None:
        """Replace the site's run state."""

    def site_lock(self, site: str) -> contextlib.AbstractAsyncContextManager[object]:
        """Hold the site's lock (``SiteLocked`` when another process holds it)."""


class LocalBackend:
    """The state directory of one machine."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir

    def journal(self, site: str, *, run_id: str, rollback_of: str | None = None,
                lease: SiteLease | None = None) -> Journal:
        # One process owns the directory (its lock files): there are no leases to check.
        return Journal.for_site(self.state_dir, site, run_id=run_id, rollback_of=rollback_of)

    async def read_journal(self, site: str,
                           bad_lines: list[BadLine] | None = None) -> list[JournalEntry]:
        path = journal_path(self.state_dir, site)
        return await asyncio.to_thread(lambda: list(read_journal(path, bad_lines=bad_lines)))

    def where(self, site: str) -> str:
        return str(journal_path(self.state_dir, site))

    async def read_state(self, site: str) -> RunState | None:
        return await asyncio.to_thread(read_state, self.state_dir, site)

    async def write_state(self, site: str, state: RunState) -> None:
        await asyncio.to_thread(write_state, self.state_dir, site, state)

    @contextlib.asynccontextmanager
    async def site_lock(self, site: str) -> AsyncIterator[object]:
        with acquire_site_lock(self.state_dir, site) as lock:
            yield lock


@contextlib.asynccontextmanager
async def open_backend(settings: Settings) -> AsyncIterator[StateBackend]:
    """The configured backend, open for the ``async with`` block."""
    fleet = settings.fleet
    if fleet.backend is StateBackendKind.LOCAL or fleet.database_url is None:
        yield LocalBackend(settings.state_dir)
        return
    from syncd.backend.postgres import open_postgres  # asyncpg is an optional extra

    async with open_postgres(fleet.database_url.reveal()) as backend:
        yield backend
