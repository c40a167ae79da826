"""What one command run came to, per site and as a whole: the exit code, and the one JSON
object ``--output json`` prints whatever happened.

Every command that works on sites prints exactly one object of the same shape::

    {"command": "sync", "outcome": "refused", "exit_code": 3, "reason": "...",
     "sites": [{"site": "shop", "outcome": "refused", "reason": "...", ...}]}

Each site's entry carries ``site``, ``outcome`` and ``reason``, then the command's own
fields (``plan`` and ``sync``: ``guards``, ``invalid_rows``, ``plan``, ``account``; the
others: see each command). A site an error stopped is reported the same way by every
command: its ``outcome`` and ``reason`` from ``syncd.cycle.endings.classify``, and the source's
``invalid_rows`` when those were why. So a script always learns why, not only that, a run
did not succeed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from syncd.base.errors import SyncdError
from syncd.base.logs import SECRETS
from syncd.cycle.endings import CycleEnd, Ending, classify
from syncd.frontends.commands.common import ExitCode
from syncd.frontends.render import account_dict, plan_dict

OUTCOME_NAMES: dict[ExitCode, str] = {
    ExitCode.OK: "ok",
    ExitCode.FAILED: "failed",
    ExitCode.PENDING: "pending",
    ExitCode.REFUSED: "refused",
    ExitCode.LOCKED: "locked",
    ExitCode.STOPPED: "stopped",
    ExitCode.NO_MATCH: "no_match",
    ExitCode.PROBLEMS: "problems",
    ExitCode.STATE: "state_unusable",
    ExitCode.CONFIG: "invalid_configuration",
    ExitCode.ABORTED: "aborted",
}

END_CODES: dict[CycleEnd, ExitCode] = {
    CycleEnd.OK: ExitCode.OK,
    CycleEnd.PENDING: ExitCode.PENDING,
    CycleEnd.REFUSED: ExitCode.REFUSED,
    CycleEnd.NO_MATCH: ExitCode.NO_MATCH,
    CycleEnd.INVALID_SOURCE: ExitCode.FAILED,
    CycleEnd.FAILED: ExitCode.FAILED,
    CycleEnd.LOCKED: ExitCode.LOCKED,
    CycleEnd.STOPPED: ExitCode.STOPPED,
    CycleEnd.STATE_UNUSABLE: ExitCode.STATE,
}
"""The exit code of each way a site's part of a run can end."""

PRECEDENCE = (ExitCode.CONFIG, ExitCode.STATE, ExitCode.FAILED, ExitCode.LOCKED,
              ExitCode.STOPPED, ExitCode.NO_MATCH, ExitCode.REFUSED, ExitCode.PROBLEMS,
              ExitCode.PENDING)
"""When sites end differently, the run's exit code is the first of these that occurred:
an error anywhere outranks a lock, a stop or a refusal, so "3" is only ever about guards."""


@dataclass(frozen=True, slots=True)
class SiteOutcome:
    """How one site's part of a run ended."""

    site: str
    code: ExitCode
    reason: str | None = None
    """Why it did not simply succeed, in one message (None when it did)."""
    outcome: str | None = None
    """A finer name than the exit code's (``invalid_source``); default from the code."""
    fields: Mapping[str, Any] = field(default_factory=dict)
    """The command's own fields of the site's JSON entry."""
    text: str | None = None
    """What the site's part prints for people (stdout), if anything."""

    @property
    def name(self) -> str:
        return self.outcome or OUTCOME_NAMES[self.code]

    def as_dict(self) -> dict[str, Any]:
        """The site's entry in the run's JSON object."""
        return {"site": self.site, "outcome": self.name,
                "reason": None if self.reason is None else SECRETS.redact(self.reason),
                **self.fields}


def ended(site: str, ending: Ending, *, text: str | None = None,
          forced: bool = False) -> SiteOutcome:
    """A site's part of ``plan`` or ``sync`` that ended as ``ending``: the plan, the guards,
    the invalid rows and the account are its fields. ``forced``: a sync run with
    ``--force``, so a failed guard is marked ``overridden`` rather than refusing."""
    planned = ending.planned
    invalid = list(ending.invalid_rows)
    if planned is not None and not invalid:
        invalid = [str(e) for e in planned.plan.invalid_rows]
    return SiteOutcome(site, END_CODES[ending.end], ending.reason, outcome=ending.end.value,
                       text=text, fields={
                           "guards": [] if planned is None else [
                               {"guard": g.guard.value, "passed": g.passed,
                                "applicable": g.applicable, "message": g.message,
                                "overridden": forced and g.applicable and not g.passed}
                               for g in planned.guards],
                           "invalid_rows": invalid,
                           "plan": None if planned is None else plan_dict(site, planned),
                           "account": None if ending.result is None
                           else account_dict(ending.result),
                       })


def cycle_error(site: str, exc: SyncdError) -> SiteOutcome:
    """A site's part of ``plan`` or ``sync`` that ``exc`` stopped (``ended``)."""
    return ended(site, classify(exc))


def error_outcome(site: str, exc: SyncdError) -> SiteOutcome:
    """A site's part of any other command that ``exc`` stopped: its outcome and reason as
    ``syncd.cycle.endings`` classifies them, and the source's invalid rows when they were why."""
    ending = classify(exc)
    return SiteOutcome(site, END_CODES[ending.end], ending.reason, outcome=ending.end.value,
                       fields={"invalid_rows": list(ending.invalid_rows)})


def overall_code(codes: Iterable[ExitCode]) -> ExitCode:
    """The run's exit code from its sites' (see ``PRECEDENCE``)."""
    seen = set(codes)
    for code in PRECEDENCE:
        if code in seen:
            return code
    return ExitCode.OK


def run_document(command: str, sites: Iterable[SiteOutcome], code: ExitCode, *,
                 reason: str | None = None, **extra: Any) -> dict[str, Any]:
    """The one JSON object of a run; ``extra`` are the command's own top-level fields."""
    sites = list(sites)
    reasons = [reason] if reason else [s.reason for s in sites if s.reason]
    return {
        "command": command,
        "outcome": OUTCOME_NAMES.get(code, str(int(code))),
        "exit_code": int(code),
        "reason": SECRETS.redact(reasons[0]) if reasons else None,
        **extra,
        "sites": [s.as_dict() for s in sites],
    }
