"""What a sync cycle produces: how much of the store it read, its plan and what applying it did.

Values only, shared by the cycle (``syncd.cycle.sync``), its endings and the front ends that
show, record or classify a cycle.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from syncd.apply.absolute import ApplyReport
from syncd.base.model import StoreSnapshot, StoreVariant
from syncd.core.guards import GuardResult
from syncd.core.plan import Plan
from syncd.core.store_hints import StoreHints
from syncd.edges.sources import DesiredSource


class CycleKind(StrEnum):
    """How much of the store a cycle reads."""

    FULL = "full"
    """Walk the whole store: the scheduled cycle, which also catches drift made in Wix."""
    FAST = "fast"
    """Re-read and write only the products of a few changed source rows (the targeted walk)."""
    INCREMENTAL = "incremental"
    """Read only what changed in the store since the last read (``syncd.cycle.incremental``) and
    plan the whole source against the snapshot kept up to date that way."""


@dataclass(frozen=True, slots=True)
class PlanResult:
    """A plan and what it was computed from."""

    source: DesiredSource
    snapshot: StoreSnapshot
    plan: Plan
    guards: tuple[GuardResult, ...]
    kind: CycleKind
    match_problem: str | None = None
    """Why the source does not look like this store's (``syncd.core.match_coverage``), or None."""
    hints: StoreHints = field(default_factory=StoreHints)
    """The store's probe findings the walk and the writes used (``syncd.core.store_hints``)."""
    read_at: datetime | None = None
    """When the read of the store this plan comes from started: a write journaled after it
    may not be reflected in the plan (``syncd.core.explain`` says so)."""
    digest: str = ""
    """The plan's digest (``syncd.core.plan_digest``): what approving this plan approves."""


@dataclass(frozen=True, slots=True)
class SyncResult:
    """One cycle: the plan, what applying it did (None for a dry run), and its cost."""

    planned: PlanResult
    applied: ApplyReport | None
    api_calls: int
    duration_s: float
    run_id: str


def landed_writes(planned: PlanResult, applied: ApplyReport) -> list[StoreVariant]:
    """The variants of the products whose every planned write landed (the canary's list)."""
    whole = {a.product_id for a in applied.products
             if a.written and not a.failed and not a.not_attempted}
    return [c.variant for c in planned.plan.changes if c.variant.product_id in whole]
