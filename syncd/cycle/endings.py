"""How a sync cycle ended, decided in one place for the daemon and the one-shot commands.

A cycle ends in one of a few ways: everything landed, changes are pending (a plan), a
guard refused the plan, the source matched (almost) nothing, the source could not be used,
an error, another process held the site, a stop, or an unusable state directory. The
daemon (``syncd.frontends.daemon.runner``) turns an ``Ending`` into its ``CycleResult`` and log
line; the commands (``syncd.frontends.commands``) into an exit code and the ``outcome`` of their
JSON. Neither decides the ending itself, so the two cannot drift apart.

Only syncd's own errors are classified: anything else is a bug and is left to propagate.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from syncd.base.errors import (
    GuardRefused,
    LeaseLost,
    NoMatch,
    SourceError,
    StateError,
    StopRequested,
    SyncdError,
)
from syncd.cycle.results import PlanResult, SyncResult
from syncd.edges.backend import SiteLocked
from syncd.edges.sources import InvalidRowsError

__all__ = ["CycleEnd", "Ending", "classify"]


class CycleEnd(StrEnum):
    """How a cycle (or a plan, the first half of one) ended; the ``outcome`` names of the
    commands' JSON."""

    OK = "ok"
    """Everything planned landed, or nothing had to change."""
    PENDING = "pending"
    """A plan (nothing written) holds changes."""
    REFUSED = "refused"
    """A safety guard refused the plan; nothing was written."""
    NO_MATCH = "no_match"
    """The source matched no store variant, or far fewer than at the last good run."""
    INVALID_SOURCE = "invalid_source"
    """The source could not be used (unreadable, empty, invalid rows); nothing was written."""
    FAILED = "failed"
    """An error (Wix, a failed write) ended the cycle."""
    LOCKED = "locked"
    """Another process holds the site's lock."""
    STOPPED = "stopped"
    """A stop (a signal, a daemon shutdown, a lost lease) ended the cycle early."""
    STATE_UNUSABLE = "state_unusable"
    """The state directory or a state file cannot be used."""


@dataclass(frozen=True, slots=True)
class Ending:
    """How one site's cycle ended, with what an operator needs to know why."""

    end: CycleEnd
    reason: str | None = None
    """Why it did not simply succeed, in one message (None when it did)."""
    planned: PlanResult | None = None
    """The plan the cycle got to, when it got to one (a refused plan included)."""
    result: SyncResult | None = None
    """What applying the plan did, when the cycle wrote."""
    invalid_rows: tuple[str, ...] = ()
    """The source's invalid rows, when they are why the source was refused."""
    error: SyncdError | None = None
    """The error that ended the cycle, if one did."""

    @property
    def summary(self) -> str:
        """The first line of ``reason`` (or of the error's name), for one-line logs."""
        text = self.reason or ""
        if text:
            return text.splitlines()[0]
        return type(self.error).__name__ if self.error is not None else self.end.value


def classify(ended: SyncResult | PlanResult | SyncdError) -> Ending:
    """How a cycle ended: from its result (a sync's), its plan (a dry run's), or the error
    that ended it."""
    if isinstance(ended, SyncdError):
        return _from_error(ended)
    if isinstance(ended, PlanResult):
        if ended.match_problem is not None:
            return Ending(CycleEnd.NO_MATCH, ended.match_problem, planned=ended)
        return Ending(CycleEnd.PENDING if ended.plan.changes else CycleEnd.OK, planned=ended)
    applied = ended.applied
    planned = ended.planned
    if applied is None:  # a dry run
        return classify(planned)
    if applied.complete:
        return Ending(CycleEnd.OK, planned=planned, result=ended)
    total = len(planned.plan.changes)
    parts = [f"{applied.failed} of {total} writes failed"] if applied.failed else []
    if applied.unconfirmed:
        parts.append(f"{applied.unconfirmed} sent but unconfirmed (pending in the journal: "
                     "`syncd journal --pending`; the next sync settles them)")
    if applied.not_attempted:
        parts.append(f"{applied.not_attempted} of {total} writes not sent")
    if applied.failed or not applied.stopped:
        return Ending(CycleEnd.FAILED, "; ".join(parts), planned=planned, result=ended)
    return Ending(CycleEnd.STOPPED, "stopped: " + "; ".join(parts), planned=planned,
                  result=ended)


def _from_error(exc: SyncdError) -> Ending:
    reason = str(exc)
    match exc:
        case NoMatch():
            return Ending(CycleEnd.NO_MATCH, reason, planned=_plan_of(exc.result), error=exc)
        case GuardRefused():
            return Ending(CycleEnd.REFUSED, reason, planned=_plan_of(exc.result), error=exc)
        case LeaseLost():
            return Ending(CycleEnd.STOPPED, reason, error=exc)
        case StopRequested():
            return Ending(CycleEnd.STOPPED, "stopped before any write", error=exc)
        case SiteLocked():
            return Ending(CycleEnd.LOCKED, reason, error=exc)
        case StateError():
            return Ending(CycleEnd.STATE_UNUSABLE, reason, error=exc)
        case InvalidRowsError():
            return Ending(CycleEnd.INVALID_SOURCE, reason, error=exc,
                          invalid_rows=tuple(str(e) for e in exc.errors))
        case SourceError():
            return Ending(CycleEnd.INVALID_SOURCE, reason, error=exc)
    return Ending(CycleEnd.FAILED, reason, error=exc)


def _plan_of(result: object | None) -> PlanResult | None:
    return result if isinstance(result, PlanResult) else None
