"""The state backend interface: the one way to a site's journal, run state, lock, approvals
and ownership.

A backend keeps, per site: the write journal (appended to by the applier, read by
``rollback``, ``journal``, ``explain`` and the console), the run state of the last
successful sync (with the source digest), the site lock that keeps one writer per store,
the approvals that ask a daemon holding a site for one forced cycle, the findings of its
last ``syncd probe``, and, among replicas,
who owns which site. ``syncd.edges.backend.local`` keeps them in a directory of one machine,
``syncd.edges.backend.postgres`` in a database shared by replicas; ``syncd.edges.backend.select``
decides which one a configuration uses.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Protocol, Self

from syncd.base.errors import SyncdError
from syncd.core.findings import ProbeReport
from syncd.core.journal import BadLine, Journal, JournalEntry
from syncd.edges.backend.fence import SiteLease
from syncd.edges.backend.runstate import RunState

if TYPE_CHECKING:
    from syncd.edges.backend.leases import PgOwnership


class SiteLocked(SyncdError):
    """Another process holds the site's lock; ``pid`` is its pid when the lock names one,
    ``role`` what it said it is (``daemon`` or ``sync``; None when it said nothing)."""

    def __init__(self, message: str, *, site: str, lock_path: Path, pid: int | None,
                 role: str | None = None) -> None:
        super().__init__(message)
        self.site = site
        self.lock_path = lock_path
        self.pid = pid
        self.role = role


class StateBackend(Protocol):
    """What the cycle, the commands, the daemon and the console keep per site.

    Use as an async context manager (``async with backend_for(settings) as backend``):
    a database backend connects on entry and disconnects on exit. ``problem`` and
    ``ownership`` may be asked before that."""

    async def __aenter__(self) -> Self: ...

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None: ...

    def problem(self) -> str | None:
        """Why this backend cannot be used, asked before a run depends on it (a state
        directory that cannot be written), or None. Reaching a database is checked on
        entry instead (``StateError``, ``OSError``)."""

    def journal(self, site: str, *, run_id: str, rollback_of: str | None = None,
                lease: SiteLease | None = None) -> Journal:
        """The append side of the site's journal for one run (an async context manager);
        ``rollback_of`` marks a run that undoes another. With a ``lease`` (replicas), every
        append first checks that this replica still holds the site in that term, and
        raises ``LeaseLost`` instead of appending when it does not."""

    async def read_journal(self, site: str,
                           bad_lines: list[BadLine] | None = None) -> list[JournalEntry]:
        """Every entry of the site's journal, oldest first; unreadable lines are skipped and
        reported in ``bad_lines`` when given."""

    async def read_recent(self, site: str, limit: int) -> list[JournalEntry]:
        """The last ``limit`` readable entries of the site's journal, oldest first."""

    def where(self, site: str) -> str:
        """Where the site's journal lives, for messages."""

    async def read_state(self, site: str) -> RunState | None:
        """The site's last successful run, or None."""

    async def write_state(self, site: str, state: RunState) -> None:
        """Replace the site's run state."""

    async def read_probe(self, site: str) -> ProbeReport | None:
        """The site's last ``syncd probe`` report (with its date), or None."""

    async def write_probe(self, site: str, report: ProbeReport) -> None:
        """Replace the site's probe report."""

    def site_lock(self, site: str) -> contextlib.AbstractAsyncContextManager[object]:
        """Hold the site's lock (``SiteLocked`` when another process holds it)."""

    def request_approval(self, site: str, holder: SiteLocked) -> None:
        """Ask ``holder``, the daemon holding the site's lock, to run one forced cycle of
        it (``syncd sync --force`` beside a daemon). Raises ``OSError`` when it cannot."""

    def take_approval(self, site: str) -> bool:
        """True (once) when a forced cycle of ``site`` was requested."""

    def ownership(self) -> PgOwnership | None:
        """How replicas share the sites out, for a daemon (None: this process owns every
        site it is configured with, and holds their locks)."""
