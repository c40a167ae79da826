"""What one command run came to, per site and as a whole: the exit code, and the one JSON
object ``--output json`` prints whatever happened.

Every run prints exactly one object::

    {"command": "sync", "outcome": "refused", "exit_code": 3, "reason": "...",
     "sites": [{"site": "shop", "outcome": "refused", "reason": "...", "guards": [...],
                "invalid_rows": [...], "plan": {...} | null, "account": {...} | null}]}

so that a script always learns why, not only that, a run did not succeed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from syncd.commands.common import ExitCode
from syncd.logs import SECRETS
from syncd.render import plan_dict
from syncd.sync import PlanResult, SyncResult

OUTCOME_NAMES: dict[ExitCode, str] = {
    ExitCode.OK: "ok",
    ExitCode.FAILED: "failed",
    ExitCode.PENDING: "pending",
    ExitCode.REFUSED: "refused",
    ExitCode.LOCKED: "locked",
    ExitCode.STOPPED: "stopped",
    ExitCode.NO_MATCH: "no_match",
    ExitCode.STATE: "state_unusable",
    ExitCode.CONFIG: "invalid_configuration",
    ExitCode.ABORTED: "aborted",
}

PRECEDENCE = (ExitCode.STATE, ExitCode.FAILED, ExitCode.LOCKED, ExitCode.STOPPED,
              ExitCode.NO_MATCH, ExitCode.REFUSED, ExitCode.PENDING)
"""When sites end differently, the run's exit code is the first of these that occurred:
an error anywhere outranks a lock, a stop or a refusal, so "3" is only ever about guards."""


@dataclass(frozen=True, slots=True)
class SiteOutcome:
    """How one site's part of a run ended."""

    site: str
    code: ExitCode
    reason: str | None = None
    """Why it did not simply succeed, in one message (None when it did)."""
    planned: PlanResult | None = None
    result: SyncResult | None = None
    invalid_rows: tuple[str, ...] = ()
    """Invalid source rows, when the source was refused for them."""
    outcome: str | None = None
    """A finer name than the exit code's (``invalid_source``); default from the code."""

    @property
    def name(self) -> str:
        return self.outcome or OUTCOME_NAMES[self.code]

    def as_dict(self) -> dict[str, Any]:
        planned = self.planned
        invalid = list(self.invalid_rows)
        if planned is not None and not invalid:
            invalid = [str(e) for e in planned.plan.invalid_rows]
        return {
            "site": self.site,
            "outcome": self.name,
            "reason": None if self.reason is None else SECRETS.redact(self.reason),
            "guards": [] if planned is None else [
                {"guard": g.guard.value, "passed": g.passed, "applicable": g.applicable,
                 "message": g.message} for g in planned.guards],
            "invalid_rows": invalid,
            "plan": None if planned is None else plan_dict(self.site, planned),
            "account": None if self.result is None else account_dict(self.result),
        }


def account_dict(result: SyncResult) -> dict[str, Any] | None:
    """What a sync wrote, failed to write and did not send."""
    a = result.applied
    if a is None:
        return None
    return {
        "run_id": result.run_id, "planned": len(result.planned.plan.changes),
        "written": a.written, "failed": a.failed, "not_sent": a.not_attempted,
        "conflict_retries": a.conflict_retries, "api_calls": result.api_calls,
        "duration_s": round(result.duration_s, 3),
        "products": [{"product_id": p.product_id, "written": p.written, "failed": p.failed,
                      "not_sent": p.not_attempted, "errors": list(p.errors)}
                     for p in a.products if p.failed or p.not_attempted],
    }


def overall_code(codes: Iterable[ExitCode]) -> ExitCode:
    """The run's exit code from its sites' (see ``PRECEDENCE``)."""
    seen = set(codes)
    for code in PRECEDENCE:
        if code in seen:
            return code
    return ExitCode.OK


def run_document(command: str, sites: list[SiteOutcome], code: ExitCode) -> dict[str, Any]:
    """The one JSON object of a run."""
    reasons = [s.reason for s in sites if s.reason]
    return {
        "command": command,
        "outcome": OUTCOME_NAMES.get(code, str(int(code))),
        "exit_code": int(code),
        "reason": SECRETS.redact(reasons[0]) if reasons else None,
        "sites": [s.as_dict() for s in sites],
    }
