"""The write test on a Catalog V3 store: how Bulk Update answers one bad item among good.

Wix does not say (``wix-api.md`` §2.3) whether Bulk Update Inventory Items reports a bad
item in its own result while the others apply (``bulk_errors`` ``per_item``) or fails the
whole call (``whole_call``), nor whether the results carry ``originalIndex`` in the order
sent (``bulk_results_order`` ``indexed``) or not (``unordered``). syncd is written for every
reading (it splits a batch refused whole, and matches results by item id first); the test
only tells which one a store plays.

It sends one Bulk Update of two items: first one of the named product's inventory items
with its own quantity (or availability) and revision, a write that changes no stock, then
an item id no store holds. The real item's write is journaled like any write. Nothing needs
putting back (at most the item's revision moved); a final read of the product checks that
every item still holds what it held before.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import structlog

from syncd.base.errors import WixAuthError, WixClientError, WixError
from syncd.base.model import StoreVariant
from syncd.core.findings import UNDETERMINED, Finding
from syncd.core.journal import Journal, Outcome
from syncd.core.plan import ChangeReason, StockChange
from syncd.edges.wix import StoreAdapter

Log = structlog.typing.FilteringBoundLogger

BULK_UPDATE_PATH = "/stores/v3/bulk/inventory-items/update"

MISSING_ITEM_ID = "00000000-0000-4000-8000-00000000dead"
"""The item id of the deliberately invalid entry: a well-formed id no store holds."""


def _results(data: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    raw = data.get("results")
    if not isinstance(raw, list):
        return []
    out: list[Mapping[str, Any]] = []
    for r in raw:
        meta = r.get("itemMetadata") if isinstance(r, dict) else None
        if isinstance(meta, dict):
            out.append(meta)
    return out


async def measure_bulk_errors(
    *,
    store: StoreAdapter,
    journal: Journal,
    before: dict[str, StoreVariant],
    spend: Callable[[], None],
    log: Log,
) -> list[Finding]:
    """Send the two-item Bulk Update (see the module's docstring); the findings of
    ``bulk_errors`` and ``bulk_results_order``. ``spend`` is called before the request."""
    variant = next((v for v in before.values() if v.revision and (
        v.quantity is not None if v.tracked else True)), None)
    if variant is None:
        why = "no inventory item of the product carries a revision: nothing was written"
        return [Finding("bulk_errors", UNDETERMINED, why),
                Finding("bulk_results_order", UNDETERMINED, why)]
    own: dict[str, Any] = {"id": variant.inventory_item_id, "revision": variant.revision}
    if variant.tracked:
        own["quantity"] = variant.quantity
    else:
        own["inStock"] = variant.in_stock
    bogus = {"id": MISSING_ITEM_ID, "revision": "1", "quantity": 0}
    body = {"inventoryItems": [{"inventoryItem": own}, {"inventoryItem": bogus}],
            "returnEntity": False}
    spend()
    (entry,) = await journal.write_pending([StockChange(
        variant, variant.quantity if variant.tracked else None,
        None if variant.tracked else variant.in_stock, variant.tracked,
        ChangeReason.QUANTITY if variant.tracked else ChangeReason.AVAILABILITY, None)])
    sent = (f"POST {BULK_UPDATE_PATH} with item {variant.inventory_item_id} (its own "
            f"{'quantity ' + str(variant.quantity) if variant.tracked else 'availability'}) "
            f"then item {MISSING_ITEM_ID}, which does not exist")
    try:
        data = await store.client.request("POST", BULK_UPDATE_PATH,
                                          endpoint="v3.inventory_items.bulk_update",
                                          body=body)
    except WixAuthError:
        raise
    except WixClientError as exc:
        await journal.settle([entry], Outcome.FAILED, error=f"the whole call: {exc}")
        code = f" {exc.code}" if exc.code else ""
        return [Finding("bulk_errors", "whole_call",
                        f"{sent}: answered {exc.status}{code}, no per-item results"),
                Finding("bulk_results_order", UNDETERMINED,
                        f"{sent}: the call failed whole ({exc.status}), so no results show "
                        "their order")]
    except WixError as exc:
        # A +0 write: landed or not, the item holds what it held.
        await journal.settle([entry], Outcome.UNKNOWN, error=str(exc)[:200])
        log.warning("write_test_bulk_answer_lost", error=str(exc)[:200])
        why = f"{sent}: no usable answer ({str(exc)[:200]})"
        return [Finding("bulk_errors", UNDETERMINED, why),
                Finding("bulk_results_order", UNDETERMINED, why)]
    results = _results(data)
    by_id = {str(m.get("id")): m for m in results if m.get("id")}
    mine, theirs = by_id.get(variant.inventory_item_id), by_id.get(MISSING_ITEM_ID)
    shown = [str(m.get("id", "?")) for m in results]
    ok = mine is not None and mine.get("success") is True
    await journal.settle([entry], Outcome.APPLIED if ok else Outcome.FAILED,
                         error=None if ok else "not applied: the other item failed it")
    said = f"{sent}: answered 200, results for {', '.join(shown) or 'no item'}"
    if ok and (theirs is None or theirs.get("success") is not True):
        errors = Finding("bulk_errors", "per_item", f"{said}; the real item succeeded, the "
                         "missing one failed on its own")
    elif mine is not None and not ok:
        errors = Finding("bulk_errors", "whole_call",
                         f"{said}; the real item failed with the missing one")
    else:
        errors = Finding("bulk_errors", UNDETERMINED, f"{said}; no result tells")
    # Wix may leave out originalIndex 0 as a default value: the second item's index tells.
    indexes = [m.get("originalIndex") for m in results]
    if len(results) < 2:
        order = Finding("bulk_results_order", UNDETERMINED,
                        f"{said}; fewer than two results")
    elif 1 in indexes:
        order = Finding("bulk_results_order", "indexed",
                        f"{said}; originalIndex given ({indexes})")
    else:
        in_order = shown == [variant.inventory_item_id, MISSING_ITEM_ID]
        order = Finding("bulk_results_order", "unordered",
                        f"{said}; no originalIndex, results "
                        + ("in the order sent" if in_order else "not in the order sent"))
    return [errors, order]


async def check_unchanged(before: dict[str, StoreVariant],
                          read: Callable[[], Awaitable[dict[str, StoreVariant]]]) -> list[str]:
    """The items a final read shows holding other stock than before the test."""
    current = await read()
    return [vid for vid, b in before.items()
            if (c := current.get(vid)) is None
            or (c.quantity, c.tracked, c.in_stock) != (b.quantity, b.tracked, b.in_stock)]
