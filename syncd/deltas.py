"""Planning increment/decrement writes for Catalog V1: which changes, how many calls, and
what a re-read says about a delta that was sent.

Pure, like the differ: a plan in, a split out; a journaled delta plus a fresh read in, a
verdict out. The I/O that uses them lives in ``syncd.apply_deltas``.

Which changes may be deltas. On V1 a changed product costs one Update Inventory Variants
call, however many of its variants change; Increment/Decrement take up to 300 entries
across products. Only a *quantity* change of a variant that tracks quantity, on a product
that keeps tracking, can be a delta; an availability change or a tracking switch needs
Update Inventory Variants, and so does every other change of the same product (one
absolute call writes the product whole anyway, so splitting it would only add calls).

When. ``write_mode: auto`` uses deltas when they need fewer calls than the absolute
writes they replace, counting the re-read that verifies them:
``ceil(C+/300) + ceil(C-/300) + ceil(K/100) < K`` over the eligible products.

What a re-read says. A delta is journaled with the value read before it (``before``), the
units sent and the value expected after (``after``). Read again, the variant holds:

- ``after``: **confirmed** (the delta landed; nothing else moved it);
- ``before``: **not applied** (refused, skipped, or never arrived);
- anything else: **moved** by something besides syncd (a sale) since it was read, and
  whether the delta landed cannot be told from the number alone. If Wix answered the call,
  the delta is taken as landed and the sale as the newer truth, left alone until the next
  cycle. If the call's outcome is unknown (5xx, timeout, lost connection), the difference
  that remains is planned again from the fresh value, never by re-sending the call: as a
  new delta after a 5xx, as an absolute write when no answer came at all.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from syncd.model import Catalog, StoreVariant
from syncd.plan import Plan, StockChange
from syncd.policy import WriteMode

MAX_ENTRIES = 300
"""Entries per Increment/Decrement call."""

REREAD_PRODUCTS = 100
"""Products per verification read (Query Products filtered by ``id``)."""


@dataclass(frozen=True, slots=True)
class DeltaSplit:
    """A plan's changes, parted into deltas and absolute writes."""

    deltas: tuple[StockChange, ...]
    """Quantity changes of tracked variants, written by Increment/Decrement."""
    absolute: tuple[StockChange, ...]
    """Everything else, written by Update Inventory Variants (per product)."""
    delta_calls: int
    """Calls the deltas need: adjust calls plus the verification re-read."""
    absolute_calls_saved: int
    """Products whose absolute write the deltas replace."""


def eligible(change: StockChange) -> bool:
    """True when ``change`` is a quantity change of a variant that tracks and keeps tracking."""
    v = change.variant
    return (change.track and v.tracked and change.quantity is not None
            and v.quantity is not None and change.quantity != v.quantity)


def delta_call_count(changes: Iterable[StockChange]) -> int:
    """Adjust calls plus verification re-reads for ``changes`` sent as deltas."""
    up = down = 0
    products: set[str] = set()
    for change in changes:
        assert change.quantity is not None and change.variant.quantity is not None
        if change.quantity > change.variant.quantity:
            up += 1
        else:
            down += 1
        products.add(change.variant.product_id)
    return (math.ceil(up / MAX_ENTRIES) + math.ceil(down / MAX_ENTRIES)
            + math.ceil(len(products) / REREAD_PRODUCTS))


def split_plan(plan: Plan, mode: WriteMode) -> DeltaSplit:
    """Part ``plan`` by ``mode``; V3 plans and ``absolute`` keep every change absolute."""
    if plan.catalog is not Catalog.V1 or mode is WriteMode.ABSOLUTE or not plan.changes:
        return DeltaSplit((), plan.changes, 0, 0)
    groups = plan.by_product()
    candidates = {pid for pid, group in groups.items() if all(eligible(c) for c in group)}
    deltas = tuple(c for c in plan.changes if c.variant.product_id in candidates)
    calls = delta_call_count(deltas)
    if not deltas or (mode is WriteMode.AUTO and calls >= len(candidates)):
        return DeltaSplit((), plan.changes, 0, 0)
    absolute = tuple(c for c in plan.changes if c.variant.product_id not in candidates)
    return DeltaSplit(deltas, absolute, calls, len(candidates))


def units(change: StockChange) -> int:
    """The delta that takes ``change.variant`` from its read quantity to the planned one."""
    assert change.quantity is not None and change.variant.quantity is not None
    return change.quantity - change.variant.quantity


def delta_batches(changes: Sequence[StockChange]) -> list[list[StockChange]]:
    """Increments, then decrements, cut into calls of at most 300 entries (store order)."""
    up = [c for c in changes if units(c) > 0]
    down = [c for c in changes if units(c) < 0]
    return [group[i:i + MAX_ENTRIES] for group in (up, down)
            for i in range(0, len(group), MAX_ENTRIES)]


@dataclass(frozen=True, slots=True)
class DeltaAccount:
    """What the increment/decrement path of one apply did, as the re-reads tell it."""

    adjust_calls: int = 0
    """Increment/Decrement calls sent."""
    verify_calls: int = 0
    """Query Products calls that re-read the touched products."""
    confirmed: int = 0
    """Deltas the re-read found in place."""
    moved: int = 0
    """Deltas whose variant a sale (or an edit) moved since it was read."""
    not_applied: int = 0
    """Deltas the re-read found not applied (written again by the absolute path)."""
    replanned: int = 0
    """Deltas of calls with an unknown outcome, planned again from the fresh value."""
    refused_calls: int = 0
    """Calls Wix refused with a 4xx (their entries went to the absolute path)."""
    unknown_calls: int = 0
    """Calls with no definite answer (5xx, timeout, lost connection, 429)."""
    to_absolute: int = 0
    """Changes handed to Update Inventory Variants after the delta rounds."""
    recovered: int = 0
    """Deltas of earlier, interrupted runs settled by a re-read at the start of this one."""


class Answer(StrEnum):
    """What Wix said to the call that carried a delta."""

    ACCEPTED = "accepted"
    """``{}``: Wix took the call (which still does not prove each entry landed)."""
    REFUSED = "refused"
    """A 4xx: Wix refused the call (whether in whole or in part is not documented)."""
    UNKNOWN = "unknown"
    """A 5xx or 429: Wix answered without saying whether the call landed; having answered,
    it is done with the call."""
    LOST = "lost"
    """No answer at all (timeout, lost connection): the call may still land later."""


class Verdict(StrEnum):
    """What the re-read says about one delta."""

    CONFIRMED = "confirmed"
    """The variant holds the expected value."""
    NOT_APPLIED = "not_applied"
    """The variant still holds the value the delta was planned from."""
    MOVED = "moved"
    """Something else changed the variant since it was read (a sale, an edit)."""
    UNTRACKED = "untracked"
    """The product stopped tracking quantity since it was read (the merchant's choice)."""
    MISSING = "missing"
    """The product or variant is gone."""


def verdict(before: int | None, after: int | None, current: StoreVariant | None) -> Verdict:
    """Classify one delta by the value the re-read found (``current``)."""
    if current is None:
        return Verdict.MISSING
    if not current.tracked:
        return Verdict.UNTRACKED
    if current.quantity == after:
        return Verdict.CONFIRMED
    if current.quantity == before:
        return Verdict.NOT_APPLIED
    return Verdict.MOVED


class NextStep(StrEnum):
    """What happens to a delta's variant after its verdict."""

    DONE = "done"
    """Nothing more this cycle."""
    DELTA_AGAIN = "delta_again"
    """Plan the remaining difference from the fresh value as a new delta."""
    ABSOLUTE = "absolute"
    """Write the planned value by Update Inventory Variants (the safe path)."""


def next_step(answer: Answer, found: Verdict) -> NextStep:
    """The rule of the module docstring, as a table.

    A delta Wix accepted but did not apply (skipped silently) and the deltas of a refused
    call go to the absolute path: sending them as deltas again would likely meet the same
    refusal. A delta whose call Wix answered with a 5xx or 429 is planned again from what
    the store holds, as a delta (most such calls are a passing error). One whose answer
    never came (timeout, lost connection) goes to the absolute path: the call may still be
    in flight, and a second delta could land beside it.
    """
    if found in (Verdict.CONFIRMED, Verdict.MISSING, Verdict.UNTRACKED):
        return NextStep.DONE
    if answer is Answer.UNKNOWN:
        return NextStep.DELTA_AGAIN
    if answer is Answer.LOST:
        # A call that may still be on its way must not be followed by another delta for
        # the same variant: should both land, the units would be applied twice.
        return NextStep.ABSOLUTE
    if found is Verdict.MOVED and answer is Answer.ACCEPTED:
        return NextStep.DONE
    return NextStep.ABSOLUTE
