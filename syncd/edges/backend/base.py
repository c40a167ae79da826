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
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Protocol, Self

from syncd.base.errors import SyncdError
from syncd.core.findings import ProbeReport
from syncd.core.journal import BadLine, Journal, JournalEntry
from syncd.core.retention import Compaction
from syncd.edges.backend.console_state import Approval, ConsoleAction, StoredSession
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

    async def read_recent(self, site: str, limit: int,
                          bad_lines: list[BadLine] | None = None) -> list[JournalEntry]:
        """The last ``limit`` readable entries of the site's journal, oldest first, read
        from its end: the cost follows ``limit``, not the journal's length. Unreadable
        lines among them are reported in ``bad_lines`` when given."""

    async def read_recent_about(self, site: str, needles: Sequence[str], *, limit: int,
                                window: int) -> list[JournalEntry]:
        """Among the last ``window`` lines of the site's journal, the last ``limit`` whose
        text holds one of ``needles`` (``syncd.core.explain.sku_needles``: a SKU, a
        variant id), oldest first: only those lines are parsed."""

    async def read_run(self, site: str, run_id: str) -> list[JournalEntry]:
        """Every line of run ``run_id`` (its outcome lines too, whoever wrote them), oldest
        first; empty when the journal has none."""

    async def read_open(self, site: str) -> list[JournalEntry]:
        """The pending line of every write of the site that no outcome settled, oldest
        first, however old (without reading the whole history)."""

    async def compact(self, site: str, *, retention_days: int, now: datetime,
                      dry_run: bool = False) -> Compaction:
        """Drop the parts of the site's journal older than ``retention_days`` that hold
        no unsettled write and not the run ``syncd rollback`` would undo
        (``syncd.core.retention``); with ``dry_run`` only say what would go."""

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

    def cannot_ask(self, holder: SiteLocked) -> str | None:
        """Why ``holder`` cannot be asked for a forced cycle (``request_approval``), or None;
        asked before the command walks the store to show the plan it would force."""

    async def request_approval(self, site: str, holder: SiteLocked,
                               approval: Approval) -> None:
        """Ask ``holder``, the daemon holding the site's lock, to apply the plan
        ``approval`` names in one forced cycle (``syncd sync --force`` beside a daemon).
        Raises ``OSError`` when it cannot."""

    async def grant_approval(self, site: str, approval: Approval) -> None:
        """Leave ``approval`` for the site's next full cycle (replacing any other)."""

    async def read_approval(self, site: str) -> Approval | None:
        """The approval waiting for the site's next full cycle, or None."""

    async def take_approval(self, site: str) -> Approval | None:
        """The approval waiting for ``site``, removed (once), or None."""

    async def record_action(self, action: ConsoleAction) -> None:
        """Add one line to the console's action log."""

    async def recent_actions(self, limit: int) -> list[ConsoleAction]:
        """The last ``limit`` lines of the console's action log, newest first."""

    async def save_session(self, session: StoredSession, *, max_age_s: float) -> None:
        """Keep a console session (replacing its older record); sessions opened more than
        ``max_age_s`` ago are forgotten on the way."""

    async def drop_sessions(self, keys: list[str], *, max_age_s: float) -> None:
        """Forget the console sessions keyed ``keys`` (signed out), and the expired ones."""

    async def read_sessions(self) -> list[StoredSession]:
        """Every console session kept."""

    def ownership(self) -> PgOwnership | None:
        """How replicas share the sites out, for a daemon (None: this process owns every
        site it is configured with, and holds their locks)."""
