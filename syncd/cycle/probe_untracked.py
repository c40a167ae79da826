"""The write test on a product that does not track quantities: ``untracked_increment``.

Wix does not say (``wix-api.md`` §5.4, §11) what Increment Inventory does to a product whose
``trackQuantity`` is false: refuse the entry (``INVENTORY_QUANTITY_NOT_TRACKED``), skip it
silently (answer ``{}``, change nothing) or apply it to the quantity the item keeps while
untracked. The test never switches tracking off to find out (the product may be on sale):
it measures the point only on a product the user names that is untracked already.

It reads the product's inventory item (Get Inventory Variants, V2: the only read that shows
an untracked variant's quantity, where the store shows it at all), sends one Increment of
+1 to the first variant, journaled first like any delta, and reads the item until the
increment shows or the reads run out. What landed is put back, journaled: a Decrement of 1,
and tracking off again with the availability from before should the increment have switched
it on. A store whose reads show no quantity for an untracked variant leaves the point
undetermined and is not written at all (an increment there could not be seen, nor put back
with certainty).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import structlog
from msgspec import structs

from syncd.apply.absolute import apply_plan
from syncd.base.errors import WixAuthError, WixClientError, WixError, WixRateLimited
from syncd.base.model import MAX_QUANTITY, Catalog, StoreVariant
from syncd.core.findings import UNDETERMINED, Finding
from syncd.core.journal import Journal, Outcome
from syncd.core.plan import ChangeReason, Plan, StockChange
from syncd.edges.wix import StoreAdapter
from syncd.edges.wix.answers import V2InventoryItem
from syncd.edges.wix.stock_v1 import get_inventory_variants
from syncd.edges.wix.writes_delta import StockDelta, adjust_inventory

Log = structlog.typing.FilteringBoundLogger

ASK_FOR_UNTRACKED = ("name a product that does not track quantities (trackQuantity false) "
                     "to measure this: the test never switches tracking off on a store")
"""The evidence of ``untracked_increment`` when the test ran on a tracked product."""


@dataclass(frozen=True, slots=True)
class _Item:
    """What Get Inventory Variants showed of the product."""

    tracked: bool
    quantities: dict[str, int | None]


@dataclass(slots=True)
class UntrackedOutcome:
    """The finding, and whether the product was shown back as it was."""

    finding: Finding
    restored: bool = True
    left: list[str] = field(default_factory=list)


def _item(answer: V2InventoryItem) -> _Item:
    return _Item(bool(answer.trackQuantity),
                 {v.variantId: v.quantity for v in answer.variants or [] if v.variantId})


async def measure_untracked_increment(
    *,
    store: StoreAdapter,
    journal: Journal,
    before: dict[str, StoreVariant],
    spend: Callable[[], None],
    read: Callable[[], Awaitable[dict[str, StoreVariant]]],
    read_waits_s: Sequence[float],
    log: Log,
) -> UntrackedOutcome:
    """Increment one variant of the untracked product ``before`` by one, see what the store
    did, put back what it changed (see the module's docstring). ``spend`` is called before
    every request (it raises when the test's budget is spent); ``read`` reads the product
    (Catalog V1) as the test's other steps do. A stop does not cut it short: its few reads
    must see what landed, to put it back."""
    client = store.client
    first = next(iter(before.values()))
    item_id = first.inventory_item_id

    async def read_item() -> _Item:
        spend()
        return _item(await get_inventory_variants(client, item_id))

    point = "untracked_increment"
    start = await read_item()
    quantity = start.quantities.get(first.variant_id)
    if quantity is None:
        return UntrackedOutcome(Finding(
            point, UNDETERMINED,
            f"Get Inventory Variants of {item_id} shows no quantity for untracked variant "
            f"{first.variant_id}: an increment could not be seen; nothing was written"))
    if quantity >= MAX_QUANTITY:
        return UntrackedOutcome(Finding(
            point, UNDETERMINED,
            f"variant {first.variant_id} holds {quantity}, the maximum: nothing was written"))
    shown = structs.replace(first, quantity=quantity)
    request = f"Increment of {first.product_id}/{first.variant_id} (untracked) by 1"
    spend()
    (entry,) = await journal.write_pending(
        # Availability is journaled unchanged: an untracked variant's stock is its inStock.
        [StockChange(shown, quantity + 1, first.in_stock, False, ChangeReason.QUANTITY,
                     None)],
        deltas=[1])
    try:
        await adjust_inventory(client, [StockDelta(first.product_id, first.variant_id, 1)])
    except WixAuthError:
        raise
    except (WixClientError, WixRateLimited) as exc:
        await journal.settle([entry], Outcome.FAILED, error=f"refused: {exc}")
        code = f" {exc.code}" if exc.code else ""
        finding = Finding(point, "refused",
                          f"{request} answered {exc.status}{code}: {str(exc)[:200]}")
        return await _check_unchanged(finding, start, read_item, read, before, first)
    except WixError as exc:
        # It may have landed or still land: left pending for the journal's settling.
        log.warning("write_test_untracked_answer_lost", error=str(exc)[:200])
        outcome = UntrackedOutcome(Finding(
            point, UNDETERMINED, f"{request}: its answer was lost ({str(exc)[:200]})"),
            restored=False)
        outcome.left.append("an increment of the untracked product got no answer: the next "
                            "`syncd sync` or write test settles it and puts it back")
        return outcome
    # Read until it shows, a stop notwithstanding: what landed must be seen to be put back.
    now, lag = await _read_until(read_item, first.variant_id, quantity + 1, read_waits_s)
    now_quantity = now.quantities.get(first.variant_id)
    if now_quantity == quantity + 1 or now.tracked:
        await journal.settle([entry], Outcome.APPLIED)
        seen = f"first seen {lag:g} s after its answer" if lag is not None else "seen"
        finding = Finding(point, "applied",
                          f"{request} answered {{}}; Get Inventory Variants showed quantity "
                          f"{quantity} -> {now_quantity} ({seen}), trackQuantity "
                          f"{str(now.tracked).lower()}")
        return await _put_back(finding, store=store, journal=journal, before=before,
                               first=first, quantity=quantity, now=now, read_item=read_item,
                               read=read, read_waits_s=read_waits_s, spend=spend, log=log)
    if now_quantity == quantity:
        await journal.settle([entry], Outcome.FAILED,
                             error="answered {} but no read showed it: skipped")
        finding = Finding(point, "skipped",
                          f"{request} answered {{}}; Get Inventory Variants still showed "
                          f"quantity {quantity} after {sum(read_waits_s):g} s of reads")
        return await _check_unchanged(finding, start, read_item, read, before, first)
    outcome = UntrackedOutcome(Finding(
        point, UNDETERMINED, f"{request} answered {{}}; the quantity moved from {quantity} "
        f"to {now_quantity}: something else changed it"), restored=False)
    outcome.left.append(f"variant {first.variant_id} moved during the test: left as it is")
    return outcome


async def _read_until(read_item: Callable[[], Awaitable[_Item]], variant_id: str,
                      expected: int, waits_s: Sequence[float]) -> tuple[_Item, float | None]:
    """Read the item until ``variant_id`` shows ``expected`` (or tracking is on), or the
    reads run out; the last read and when it first showed it (None: never)."""
    answered = time.monotonic()
    current = _Item(False, {})
    for index, wait_s in enumerate(waits_s):
        if index:
            await asyncio.sleep(wait_s)
        started = time.monotonic()
        current = await read_item()
        if current.quantities.get(variant_id) == expected or current.tracked:
            return current, 0.0 if index == 0 else round(started - answered, 3)
    return current, None


async def _check_unchanged(finding: Finding, start: _Item,
                           read_item: Callable[[], Awaitable[_Item]],
                           read: Callable[[], Awaitable[dict[str, StoreVariant]]],
                           before: dict[str, StoreVariant],
                           first: StoreVariant) -> UntrackedOutcome:
    """A final read of the product and its item: as it was before the test?"""
    outcome = UntrackedOutcome(finding)
    differs = changed_variants(before, await read())
    item = await read_item()
    if item.tracked != start.tracked or (
            item.quantities.get(first.variant_id) != start.quantities.get(first.variant_id)):
        differs.append(f"{first.variant_id} (inventory item)")
    if differs:
        outcome.restored = False
        outcome.left.append(f"variants {', '.join(differs)} differ from before the test")
    return outcome


async def _put_back(finding: Finding, *, store: StoreAdapter, journal: Journal,
                    before: dict[str, StoreVariant], first: StoreVariant, quantity: int,
                    now: _Item, read_item: Callable[[], Awaitable[_Item]],
                    read: Callable[[], Awaitable[dict[str, StoreVariant]]],
                    read_waits_s: Sequence[float], spend: Callable[[], None],
                    log: Log) -> UntrackedOutcome:
    """Undo an applied increment: a Decrement of 1 (journaled), tracking off again if the
    increment switched it on; then read to show the product is as it was."""
    start = _Item(False, {first.variant_id: quantity})
    if now.quantities.get(first.variant_id) == quantity + 1:
        spend()
        shown = structs.replace(first, quantity=quantity + 1, tracked=now.tracked)
        (entry,) = await journal.write_pending(
            [StockChange(shown, quantity, first.in_stock, now.tracked, ChangeReason.QUANTITY,
                         None)],
            deltas=[-1])
        try:
            await adjust_inventory(store.client,
                                   [StockDelta(first.product_id, first.variant_id, -1)])
        except WixAuthError:
            raise
        except (WixClientError, WixRateLimited) as exc:
            await journal.settle([entry], Outcome.FAILED, error=f"refused: {exc}")
            log.warning("write_test_untracked_not_restored", error=str(exc)[:200])
        except WixError as exc:
            log.warning("write_test_untracked_answer_lost", error=str(exc)[:200])
            outcome = UntrackedOutcome(finding, restored=False)
            outcome.left.append("the Decrement putting the untracked variant back got no "
                                "answer: the next `syncd sync` or write test settles it")
            return outcome
        else:
            current, _ = await _read_until(read_item, first.variant_id, quantity,
                                           read_waits_s)
            await journal.settle([entry], Outcome.APPLIED
                                 if current.quantities.get(first.variant_id) == quantity
                                 else Outcome.UNKNOWN)
    if now.tracked:
        # The increment switched tracking on: off again, with the availability from before.
        spend()
        variants = await read()
        changes = tuple(StockChange(variants.get(vid, v), None, v.in_stock, False,
                                    ChangeReason.AVAILABILITY, None)
                        for vid, v in before.items())
        await apply_plan(Plan(catalog=Catalog.V1, changes=changes, store_variants=len(changes),
                              source_rows=0, matched=len(changes), managed=len(changes)),
                         store=store, journal=journal, log=log)
    return await _check_unchanged(finding, start, read_item, read, before, first)


def changed_variants(before: dict[str, StoreVariant], current: dict[str, StoreVariant]
                     ) -> list[str]:
    """The variant ids of ``before`` whose stock (quantity, tracking, availability) is not
    the same in ``current``, or that ``current`` lacks."""
    out = []
    for vid, b in before.items():
        c = current.get(vid)
        if c is None or (c.quantity, c.tracked, c.in_stock) != (b.quantity, b.tracked,
                                                                 b.in_stock):
            out.append(vid)
    return out
