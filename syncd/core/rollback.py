"""Undo a run: the writes that put back what the journal says a run changed.

The journal records every applied write with the value it replaced, so a run can be undone
without any other record. ``plan_rollback`` is pure, like the differ: the run's rollback
points (``rollback_points``, read from the journal) and a fresh read of the variants they
name go in, a ``Plan`` of writes restoring each variant's value from before the run comes out.

A variant is only restored while the store still holds what the run wrote. If it moved
since (a sale, a later sync, a merchant's edit), restoring the old value would overwrite
that newer change, so the variant is reported as drifted and left alone unless the caller
asks for it explicitly. A variant that already holds its old value needs nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from syncd.base.model import StoreSnapshot, StoreVariant, holds
from syncd.core.journal import WRITE_TEST_SUFFIX, JournalEntry, Outcome, StockState
from syncd.core.plan import ChangeReason, Plan, StockChange

VariantKey = tuple[str, str, str]
"""(product id, variant id, location id or "")."""


@dataclass(frozen=True, slots=True)
class RollbackPoint:
    """What one run did to one variant, as far as its applied writes tell."""

    run_id: str
    product_id: str
    variant_id: str
    sku: str
    inventory_item_id: str
    location_id: str | None
    before: StockState
    """The variant before the run's first applied write: what a rollback restores."""
    after: StockState
    """The latest value the run applied: a rollback should first check the store still
    says this (else someone or something changed it since)."""
    revision: str | None
    """V3: the revision the run's latest write was based on."""
    writes: int


def rollback_points(entries: Iterable[JournalEntry], *,
                    run_id: str | None = None) -> dict[VariantKey, RollbackPoint]:
    """Per variant touched by the run (default: the last run that may have written anything),
    its state before the run's first write that may have landed, and the latest value the
    run may have written.

    "May have landed" means applied, unknown, or pending with no outcome (a crash): a
    rollback must not miss a write that reached Wix without an answer. That is safe because
    ``plan_rollback`` restores a variant only while the store still holds the run's value.
    The "before" of the first such write is used, not of the first attempt: after a
    conflict the retry was planned on a fresh read, so its "before" is the true one.
    """
    final: dict[str, Outcome] = {}
    pending: list[JournalEntry] = []
    for e in entries:
        if e.outcome is Outcome.PENDING:
            pending.append(e)
        final[e.write_id] = e.outcome
    landed = (Outcome.APPLIED, Outcome.UNKNOWN, Outcome.SETTLED, Outcome.PENDING)
    writes = [e for e in pending if final[e.write_id] in landed]
    if run_id is None:
        # A plain rollback undoes the last sync, never a rollback (that would redo the
        # sync) nor a write test (it puts back what it wrote); those only with --run.
        syncs = [e for e in writes
                 if e.rollback_of is None and not e.run_id.endswith(WRITE_TEST_SUFFIX)]
        run_id = syncs[-1].run_id if syncs else None
    points: dict[VariantKey, RollbackPoint] = {}
    for e in writes:
        if e.run_id != run_id:
            continue
        key = (e.product_id, e.variant_id, e.location_id or "")
        first = points.get(key)
        points[key] = RollbackPoint(
            run_id=e.run_id, product_id=e.product_id, variant_id=e.variant_id, sku=e.sku,
            inventory_item_id=e.inventory_item_id, location_id=e.location_id,
            before=first.before if first else e.before, after=e.after, revision=e.revision,
            writes=(first.writes if first else 0) + 1)
    return points



@dataclass(frozen=True, slots=True)
class Drifted:
    """A variant the store changed again after the run: not restored by default."""

    point: RollbackPoint
    current: StoreVariant


@dataclass(frozen=True, slots=True)
class RollbackPlan:
    """The writes that undo one run, and the variants that cannot or need not be undone."""

    run_id: str
    plan: Plan
    drifted: tuple[Drifted, ...] = ()
    """Changed since the run; restored only with ``include_drifted``."""
    missing: tuple[RollbackPoint, ...] = ()
    """No longer in the store (deleted product or inventory item)."""
    already_restored: int = 0
    """Variants that hold their pre-run value already."""


def _holds(variant: StoreVariant, state: StockState) -> bool:
    """True when ``variant`` says what ``state`` describes."""
    return holds(variant, quantity=state.quantity, in_stock=state.in_stock)


def _restore(variant: StoreVariant, before: StockState) -> StockChange | None:
    """The write putting ``before`` back, or None when ``before`` says too little."""
    if before.tracked and before.quantity is not None:
        return StockChange(variant, before.quantity, None, True, ChangeReason.ROLLBACK, None)
    if before.in_stock is not None:
        return StockChange(variant, None, before.in_stock, False, ChangeReason.ROLLBACK, None)
    return None


def plan_rollback(
    run_id: str,
    points: Mapping[VariantKey, RollbackPoint],
    snapshot: StoreSnapshot,
    *,
    include_drifted: bool = False,
) -> RollbackPlan:
    """The writes restoring every variant ``points`` names to its value before the run."""
    current = {(v.product_id, v.variant_id, v.location_id or ""): v for v in snapshot.variants}
    changes: list[StockChange] = []
    drifted: list[Drifted] = []
    missing: list[RollbackPoint] = []
    restored = 0
    for key, point in points.items():
        variant = current.get(key)
        if variant is None:
            missing.append(point)
            continue
        if _holds(variant, point.before):
            restored += 1
            continue
        if not _holds(variant, point.after):
            drifted.append(Drifted(point, variant))
            if not include_drifted:
                continue
        change = _restore(variant, point.before)
        if change is None:
            missing.append(point)
        else:
            changes.append(change)
    plan = Plan(catalog=snapshot.catalog, changes=tuple(changes),
                store_variants=len(snapshot.variants), source_rows=0, matched=len(points),
                managed=len(points), hidden_changes=sum(c.variant.hidden for c in changes))
    return RollbackPlan(run_id=run_id, plan=plan, drifted=tuple(drifted),
                        missing=tuple(missing), already_restored=restored)
