"""Putting back a write test on an untracked product that was killed on the way.

The test of ``untracked_increment`` (``syncd.cycle.probe_untracked``) sends a journaled
Increment of +1 to a variant whose ``trackQuantity`` is false and, if it landed, a
journaled Decrement of 1. The quantity it moves is the one the item keeps while untracked:
no Catalog V1 read shows it, only Get Inventory Variants (Inventory V2). So the journal's
values of such a test never differ in what a V1 read compares (its availability), and a
V1 re-read cannot tell whether a delta landed.

Here the deltas of such a test are their own ledger (``untracked_ledger``): per variant,
the units the journal says landed (``applied``), and the deltas no read has decided yet
(``undecided``: pending, or ``unknown``). The test is finished only when nothing is
undecided and the units that landed sum to zero. ``settle_untracked`` decides what is
undecided by reading the item's quantity once the deltas can no longer land (its value
before the deltas: none landed; that value moved by all of them: all landed; anything else:
something else moved it, and it is left as it is and reported), then sends, journaled, the
one delta that takes the quantity back to its value before the test. Such a delta is
decided the same way by the next settling should this one be killed: it is never sent twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import structlog

from syncd.apply.recent_writes import lost_settle_s
from syncd.base.errors import WixAuthError, WixClientError, WixError, WixRateLimited
from syncd.base.model import StoreVariant
from syncd.base.pausing import wait_unless_stopped
from syncd.core.journal import (
    WRITE_TEST_SUFFIX,
    Journal,
    JournalEntry,
    Outcome,
    Settlement,
    new_run_id,
)
from syncd.core.plan import ChangeReason, StockChange
from syncd.edges.backend import StateBackend
from syncd.edges.wix import StoreAdapter
from syncd.edges.wix.stock_v1 import get_inventory_variants
from syncd.edges.wix.writes_delta import StockDelta, adjust_inventory

Log = structlog.typing.FilteringBoundLogger

RESTORE_SUFFIX = "-restore"
"""Ends the run id of the writes that put back a product a write test left changed."""

UNDO_READ_WAITS_S = (0.0, 0.5, 1.0, 2.0, 4.0)
"""Pauses before each read that looks for the delta putting the quantity back."""

_UNDECIDED = (Outcome.PENDING, Outcome.UNKNOWN)


@dataclass(slots=True)
class UntrackedLedger:
    """What the journal says the deltas of one write test did to an untracked variant."""

    first: JournalEntry
    """The pending line of the test's first delta: its ``before`` is the value to restore."""
    applied: int = 0
    """Units of the deltas decided as landed."""
    undecided: list[JournalEntry] = field(default_factory=list)
    """Pending lines of the deltas no read decided (no outcome, or ``unknown``)."""
    last: datetime | None = None
    """The time of the ledger's latest line."""

    @property
    def finished(self) -> bool:
        return not self.undecided and self.applied == 0


def _belongs(entry: JournalEntry, run_id: str) -> bool:
    return entry.run_id == run_id or entry.rollback_of == run_id


def untracked_ledger(entries: Sequence[JournalEntry], run_id: str) -> UntrackedLedger | None:
    """The ledger of the write test ``run_id`` (and of the runs that put it back) when its
    first delta went to a variant that did not track quantities; None otherwise."""
    deltas = [e for e in entries if e.delta is not None and _belongs(e, run_id)
              and e.run_id.endswith((WRITE_TEST_SUFFIX, RESTORE_SUFFIX))]
    pendings = [e for e in deltas if e.outcome is Outcome.PENDING]
    if not pendings or pendings[0].before.tracked is not False:
        return None
    first = pendings[0]
    final: dict[str, JournalEntry] = {}
    for e in deltas:
        if e.variant_id == first.variant_id and e.product_id == first.product_id:
            final[e.write_id] = e  # the last line of a write is its outcome
    ledger = UntrackedLedger(first, last=max(e.time for e in final.values()))
    for pending in pendings:
        if pending.write_id not in final:
            continue
        outcome = final[pending.write_id].outcome
        assert pending.delta is not None
        if outcome is Outcome.APPLIED:
            ledger.applied += pending.delta
        elif outcome in _UNDECIDED:
            ledger.undecided.append(pending)
    return ledger


async def _quantity(store: StoreAdapter, first: JournalEntry) -> tuple[int | None, bool]:
    item = await get_inventory_variants(store.client, first.inventory_item_id)
    shown = {v.variantId: v.quantity for v in item.variants or [] if v.variantId}
    return shown.get(first.variant_id), bool(item.trackQuantity)


async def settle_untracked(run_id: str, ledger: UntrackedLedger, *, store: StoreAdapter,
                           backend: StateBackend, site: str, log: Log,
                           stop: asyncio.Event | None, read_settle_s: float) -> None:
    """Decide the ledger's undecided deltas by a read of the item and send, journaled, the
    delta that takes the quantity back to its value before the test (see the module's
    docstring). Writes nothing when ``stop`` is set."""
    first = ledger.first
    key = {"write_test": run_id, "product_id": first.product_id,
           "variant_id": first.variant_id}
    assert ledger.last is not None and first.before.quantity is not None
    pending = any(e.outcome is Outcome.PENDING for e in ledger.undecided)
    # A delta without an outcome may land yet: no read decides it before it no longer can.
    settle_s = max(read_settle_s, lost_settle_s(store) if pending else 0.0)
    wait_s = (ledger.last + timedelta(seconds=settle_s) - datetime.now(UTC)).total_seconds()
    if wait_s > 0:
        log.info("write_test_restore_waiting", **key, seconds=round(wait_s, 1),
                 reason="a delta of the untracked test is recent: it may land yet, or a "
                        "read may not show it yet")
        if not await wait_unless_stopped(wait_s, stop):
            return
    try:
        quantity, tracked = await _quantity(store, first)
    except WixAuthError:
        raise
    except WixError as exc:
        log.warning("write_test_restore_unreadable", **key, error=str(exc)[:300],
                    reason="the next sync or write test tries again")
        return
    before = first.before.quantity
    base = before + ledger.applied
    restore_id = new_run_id(datetime.now(UTC)) + RESTORE_SUFFIX
    async with backend.journal(site, run_id=restore_id, rollback_of=run_id) as journal:
        if ledger.undecided:
            units = sum(e.delta or 0 for e in ledger.undecided)
            if quantity == base + units:
                outcome, note = Outcome.APPLIED, f"the item's quantity reads {quantity}"
                base = quantity
            elif quantity == base:
                outcome, note = Outcome.FAILED, (f"not applied: the item's quantity still "
                                                 f"reads {quantity}")
            else:
                await journal.settle_each(
                    Settlement(e, Outcome.UNKNOWN, f"moved: the item's quantity reads "
                                                   f"{quantity}, expected {base} or "
                                                   f"{base + units}")
                    for e in ledger.undecided if e.outcome is Outcome.PENDING)
                log.warning("write_test_variant_moved", **key, before=first.before.to_dict(),
                            quantity=quantity,
                            reason="its hidden quantity is neither its value with nor "
                                   "without the test's deltas: something else wrote it, "
                                   "so it is left as it is")
                return
            await journal.settle_each(Settlement(e, outcome, note) for e in ledger.undecided)
        if base == before:
            log.info("write_test_found_restored", **key, quantity=quantity, tracked=tracked)
            return
        if quantity != base:
            log.warning("write_test_variant_moved", **key, before=first.before.to_dict(),
                        quantity=quantity,
                        reason="its hidden quantity is not the test's value: something "
                               "else wrote it, so it is left as it is")
            return
        if stop is not None and stop.is_set():
            return
        await _undo(journal, first, base, tracked, store=store, log=log, key=key)


async def _undo(journal: Journal, first: JournalEntry, base: int, tracked: bool, *,
                store: StoreAdapter, log: Log, key: dict[str, str]) -> None:
    """Send the delta taking the quantity from ``base`` back to its value before, pending
    first, and settle it by reading (not seen: ``unknown``, left for the next settling)."""
    before = first.before.quantity
    assert before is not None
    units = before - base
    shown = StoreVariant(product_id=first.product_id, variant_id=first.variant_id,
                         inventory_item_id=first.inventory_item_id, sku=first.sku,
                         tracked=tracked, quantity=base,
                         in_stock=bool(first.before.in_stock), hidden=False)
    (entry,) = await journal.write_pending(
        [StockChange(shown, before, first.before.in_stock, tracked, ChangeReason.ROLLBACK,
                     None)], deltas=[units])
    try:
        await adjust_inventory(store.client,
                               [StockDelta(first.product_id, first.variant_id, units)])
    except WixAuthError:
        raise
    except (WixClientError, WixRateLimited) as exc:
        await journal.settle([entry], Outcome.FAILED, error=f"refused: {exc}")
        log.warning("write_test_untracked_not_restored", **key, error=str(exc)[:200],
                    reason="the delta putting the hidden quantity back was refused: the "
                           "next sync or write test tries again")
        return
    except WixError as exc:
        log.warning("write_test_left_pending", **key, error=str(exc)[:200],
                    reason="the delta putting the hidden quantity back got no answer: the "
                           "next sync or write test settles it by a read")
        return
    quantity: int | None = None
    for index, wait_s in enumerate(UNDO_READ_WAITS_S):
        if index:
            await asyncio.sleep(wait_s)
        try:
            quantity, _ = await _quantity(store, first)
        except WixAuthError:
            raise
        except WixError:
            continue
        if quantity == before:
            break
    if quantity == before:
        await journal.settle([entry], Outcome.APPLIED, error="the item's quantity reads "
                                                             f"{quantity}")
        log.info("write_test_restored", **key, variants=1, quantity=quantity,
                 reason="a write test ended before it could put its product back")
        return
    await journal.settle([entry], Outcome.UNKNOWN,
                         error=f"answered {{}}; the item's quantity reads {quantity}")
    log.warning("write_test_left_pending", **key, quantity=quantity,
                reason="no read shows the delta putting the hidden quantity back yet: the "
                       "next sync or write test decides it by a read")
