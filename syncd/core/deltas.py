"""Planning increment/decrement writes for Catalog V1: which changes, how many calls, and
what follows an answer and a re-read of a delta that was sent.

Pure, like the differ: a plan in, a split out; Wix's answer to a delta plus a fresh read
in, the next step out. The I/O that uses them lives in ``syncd.apply.applier``.

Which changes may be deltas. On V1 a changed product costs one Update Inventory Variants
call, however many of its variants change; Increment/Decrement take up to 300 entries
across products. Only a *quantity* change of a variant that tracks quantity, on a product
that keeps tracking, can be a delta; an availability change or a tracking switch needs
Update Inventory Variants, and so does every other change of the same product (one
absolute call writes the product whole anyway, so splitting it would only add calls).
A product the caller names in ``absolute_only`` is written absolutely too: a variant of it
was written a moment ago, or has a delta of a killed run, so the value it was read at may
not show that write yet (``stores-reader`` may lag writes), and a delta planned from it
could add the same units a second time.

When. ``write_mode: auto`` uses deltas when they need fewer calls than the absolute
writes they replace, counting the re-read that verifies them:
``ceil(C+/300) + ceil(C-/300) + ceil(K/100) < K`` over the eligible products.

The rule. A delta is not idempotent, so it is sent **at most once per intent**. Only two
answers say for certain what happened to it: ``{}`` (accepted) and 429 (refused before
any work). A 5xx may come from a gateway after the service behind it applied the call; no
answer at all (a timeout, a dropped connection) may be followed by the call landing later.
A re-read settles the journal, but ``stores-reader`` may lag writes by seconds, so a
re-read showing the value before may be stale rather than proof that nothing landed. What
follows each answer, by what the re-read holds (``after``: **confirmed**; ``before``:
**not applied**, or a stale read; anything else: **moved** by a sale or an edit, or a stale
read of one):

=============  ===========  ==============  ==============  =====================
answer         confirmed    not applied     moved           untracked / missing
=============  ===========  ==============  ==============  =====================
accepted       done         absolute        done            done
429            (no re-read: nothing was applied) the same delta, in the next round
4xx            done         absolute        absolute        done
5xx,           wait, then:  wait, then:     wait, then:     done
no answer      done         absolute        absolute
=============  ===========  ==============  ==============  =====================

*Absolute* is Update Inventory Variants of the planned value: idempotent, so it is right
whether or not the delta landed, and whatever the re-read showed. Never another delta:
that is what could apply the units twice. An accepted delta a sale moved since is done:
the store then holds the source's level minus what sold, and the next cycle tops it up.

*Wait, then*: a call that got no answer, or a 5xx (a 504 is a gateway that stopped
waiting, not a service that stopped working), may be queued behind a gateway and land later,
on top of an absolute write made meanwhile (the variant would end over the target by the
delta), and a re-read that seems to confirm it may be a lagging read of an earlier
value equal to the expected one (which lets a later run write the variant before it
lands). So nothing is written to its variant before ``lost_settle_s`` (twice the client's
request timeout) has passed since it was sent: the run waits that long after its rounds
(``delta_answer_lost_waiting``), re-reads, and then follows the row (confirmed: done;
otherwise absolute). A stop request ends the wait and leaves the delta ``pending``; a run
that finds a ``pending`` delta of another run journaled less than that long ago waits the
rest before it settles it. When every call got an answer, nothing waits.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from syncd.base.model import Catalog, StoreVariant
from syncd.core.plan import Plan, StockChange
from syncd.core.policy import WriteMode

MAX_ENTRIES = 300
"""Entries per Increment/Decrement call."""

REREAD_PRODUCTS = 100
"""Products per verification read (Query Products filtered by ``id``)."""

VariantKey = tuple[str, str]
"""``(product_id, variant_id)``."""


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


def split_plan(plan: Plan, mode: WriteMode, *,
               absolute_only: Collection[VariantKey] = ()) -> DeltaSplit:
    """Part ``plan`` by ``mode``; V3 plans and ``absolute`` keep every change absolute, and
    so does every product holding a variant of ``absolute_only``."""
    if plan.catalog is not Catalog.V1 or mode is WriteMode.ABSOLUTE or not plan.changes:
        return DeltaSplit((), plan.changes, 0, 0)
    groups = plan.by_product()
    blocked = {pid for pid, _vid in absolute_only}
    candidates = {pid for pid, group in groups.items()
                  if pid not in blocked and all(eligible(c) for c in group)}
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
    """Deltas of calls Wix refused with a 429 (nothing applied), sent again."""
    refused_calls: int = 0
    """Calls Wix refused with a 4xx (their entries went to the absolute path)."""
    unknown_calls: int = 0
    """Calls with no definite answer (5xx, timeout, lost connection)."""
    rate_limited_calls: int = 0
    """Calls refused with a 429: nothing was applied, their deltas go in the next round."""
    to_absolute: int = 0
    """Changes handed to Update Inventory Variants after the delta rounds."""
    second_looks: int = 0
    """Products read a second time, after a pause, because the first re-read could not
    tell whether their deltas landed (it may lag the writes)."""
    recovered: int = 0
    """Variants with deltas of earlier, interrupted runs, settled by a re-read at the start
    of this one (and written only absolutely by it)."""
    lost_waits: int = 0
    """Deltas of calls that got no answer, whose follow-up (a re-read, then the table)
    waited until they could no longer land (``syncd.apply.recent_writes.lost_settle_s``)."""


class Answer(StrEnum):
    """What Wix said to the call that carried a delta."""

    ACCEPTED = "accepted"
    """``{}``: Wix took the call (which still does not prove each entry landed)."""
    REFUSED = "refused"
    """A 4xx: Wix refused the call (whether in whole or in part is not documented)."""
    RATE_LIMITED = "rate_limited"
    """A 429: refused before any work, the one answer that proves nothing was applied."""
    UNKNOWN = "unknown"
    """A 5xx: a gateway may answer 500/503/504 while the service behind it applies the
    call, so it may have landed."""
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
    """Send the same delta again: only after a 429, which proves nothing was applied."""
    ABSOLUTE = "absolute"
    """Write the planned value by Update Inventory Variants (the safe path)."""


def next_step(answer: Answer, found: Verdict | None) -> NextStep:
    """The table of the module docstring (``found`` is None when no re-read was made).

    Only a 429 leads to another delta. Every other answer but ``{}`` leaves the delta's
    fate unknown, and even after ``{}`` a re-read holding the value before may be a stale
    read of ``stores-reader``: what is left then is written by the absolute path, which is
    correct whether or not the delta landed.
    """
    if answer is Answer.RATE_LIMITED:
        return NextStep.DELTA_AGAIN
    if found is None:
        return NextStep.ABSOLUTE
    if found in (Verdict.CONFIRMED, Verdict.MISSING, Verdict.UNTRACKED):
        return NextStep.DONE
    if found is Verdict.MOVED and answer is Answer.ACCEPTED:
        return NextStep.DONE
    return NextStep.ABSOLUTE
