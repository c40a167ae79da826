"""Stock writes on a Catalog V3 store: absolute levels guarded by the item's revision.

Bulk Update takes up to 1000 items with ``returnEntity: true``, so every success comes back
with its new revision and the next write needs no re-read. A stale revision is rejected
without applying the write; how Wix says so is undocumented (contract gotcha 14), so:

- single Update: 409 or 428 -> ``WixConflict`` (raised by the client's error mapping);
- Bulk Update: a failed item -> ``ItemWriteResult(conflict=True)`` unless its code is a
  documented business rejection; an item with no result at all (``undetailedFailures``) ->
  ``conflict=True`` as well, since its fate is unknown.
- Bulk Update failing as a whole (any 4xx but auth, e.g. a 409/428 for one stale or invalid
  item; whether Wix does this instead of per-item results is unconfirmed): nothing was
  applied, so the batch is split in halves and each half sent again, down to the single
  item that fails. One bad item among n costs about 2 * log2(n) extra calls instead of
  dragging the whole batch through re-reads; the item itself gets the outcome its own code
  says (a conflict to re-read, or a permanent failure).

Results are matched to writes by ``itemMetadata.id`` (then ``originalIndex``, then position
when the counts agree): Wix may leave out ``originalIndex: 0`` as a default value, and the
order of results is not documented.

``conflict=True`` means "re-read this item (``V3Reader.refresh(item_ids=...)``), re-plan,
retry". Failures with a documented business code (quantity must not go negative, pre-order
validation) are not conflicts: a re-read would not change them. Retrying a bulk update after
a lost answer is safe: items that landed fail on revision, which the re-read resolves.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from syncd.base.errors import WixAuthError, WixClientError, WixConflict
from syncd.base.model import MAX_QUANTITY, StoreVariant
from syncd.edges.wix.client import CallCounter, JSONObject, WixClient
from syncd.edges.wix.walk_v3 import item_variant_of

BULK_LIMIT = 1000
"""Items per Bulk Update call (``@maxSize 1000``)."""

PERMANENT_CODES = frozenset(
    {"REQUESTED_QUANTITY_MUST_BE_NON_NEGATIVE_DECREASING", "PRE_ORDER_VALIDATION"}
)
"""Documented per-item rejections that a re-read cannot fix."""


@dataclass(frozen=True, slots=True)
class ItemStock:
    """The absolute stock one V3 inventory item should have, and the revision it was read at."""

    item_id: str
    revision: str
    quantity: int | None = None
    in_stock: bool | None = None


@dataclass(frozen=True, slots=True)
class ItemWriteResult:
    """What became of one item's write."""

    item_id: str
    success: bool
    conflict: bool = False
    """True: the item changed under us (or its fate is unknown); re-read and re-plan."""
    revision: str | None = None
    """The item's new revision after a successful write."""
    quantity: int | None = None
    variant: StoreVariant | None = None
    """The item as Wix stored it (from ``returnEntity``), when it came back."""
    error_code: str | None = None
    error: str | None = None


async def bulk_update_inventory_items(
    client: WixClient,
    writes: Sequence[ItemStock],
    *,
    reason: str | None = None,
    counter: CallCounter | None = None,
) -> tuple[ItemWriteResult, ...]:
    """Write every item in calls of up to 1000; one result per write, in the same order."""
    for write in writes:
        _item_body(write)  # refuse a bad write before anything is sent
    results: list[ItemWriteResult] = []
    for start in range(0, len(writes), BULK_LIMIT):
        chunk = writes[start : start + BULK_LIMIT]
        results.extend(await _send_or_split(client, chunk, reason=reason, counter=counter))
    return tuple(results)


async def _send_or_split(
    client: WixClient, chunk: Sequence[ItemStock], *, reason: str | None,
    counter: CallCounter | None,
) -> list[ItemWriteResult]:
    """One Bulk Update; when it fails as a whole, the halves again (see the docstring)."""
    body: JSONObject = {
        "inventoryItems": [{"inventoryItem": _item_body(write)} for write in chunk],
        "returnEntity": True,
    }
    if reason is not None:
        body["reason"] = reason
    try:
        data = await client.request(
            "POST",
            "/stores/v3/bulk/inventory-items/update",
            endpoint="v3.inventory_items.bulk_update",
            body=body,
            counter=counter,
        )
    except WixAuthError:
        raise
    except WixClientError as exc:
        if len(chunk) > 1:
            client.log.warning("wix_bulk_rejected_whole", items=len(chunk), status=exc.status,
                               code=exc.code, action="split")
            half = len(chunk) // 2
            return [*await _send_or_split(client, chunk[:half], reason=reason,
                                          counter=counter),
                    *await _send_or_split(client, chunk[half:], reason=reason,
                                          counter=counter)]
        conflict = isinstance(exc, WixConflict) and exc.code not in PERMANENT_CODES
        return [ItemWriteResult(chunk[0].item_id, False, conflict, error_code=exc.code,
                                error=str(exc))]
    return _bulk_results(chunk, data)


async def update_inventory_item(
    client: WixClient,
    write: ItemStock,
    *,
    reason: str | None = None,
    counter: CallCounter | None = None,
) -> ItemWriteResult:
    """Write one item; raises ``WixConflict`` when its revision is stale (409/428)."""
    body: JSONObject = {"inventoryItem": _item_body(write)}
    if reason is not None:
        body["reason"] = reason
    data = await client.request(
        "PATCH",
        f"/stores/v3/inventory-items/{quote(write.item_id, safe='')}",
        endpoint="v3.inventory_items.update",
        body=body,
        counter=counter,
    )
    item = data.get("inventoryItem")
    return _success(write.item_id, item if isinstance(item, dict) else None)


def _item_body(write: ItemStock) -> JSONObject:
    if not write.revision:
        raise ValueError(f"item {write.item_id}: a V3 write needs the revision it was read at")
    if (write.quantity is None) == (write.in_stock is None):
        raise ValueError(f"item {write.item_id}: give exactly one of quantity and in_stock")
    body: JSONObject = {"id": write.item_id, "revision": write.revision}
    if write.quantity is not None:
        if not 0 <= write.quantity <= MAX_QUANTITY:
            raise ValueError(f"item {write.item_id}: quantity outside 0..{MAX_QUANTITY}")
        body["quantity"] = write.quantity
    else:
        body["inStock"] = write.in_stock
    return body


def _bulk_results(chunk: Sequence[ItemStock], data: Mapping[str, Any]) -> list[ItemWriteResult]:
    """Each write's result: by item id, else ``originalIndex``, else position (only when
    every write has a result); a write no result can be tied to has an unknown fate."""
    raw = [r for r in data.get("results") or [] if isinstance(r, dict)]
    ids = [write.item_id for write in chunk]
    unique_ids = len(set(ids)) == len(ids)
    by_id: dict[str, Mapping[str, Any]] = {}
    by_index: dict[int, Mapping[str, Any]] = {}
    loose: list[Mapping[str, Any]] = []
    for result in raw:
        meta = _obj(result.get("itemMetadata"))
        item_id = meta.get("id") or _obj(result.get("item")).get("id")
        index = meta.get("originalIndex")
        if unique_ids and item_id:
            by_id[str(item_id)] = result
        elif isinstance(index, int) and not isinstance(index, bool):
            by_index[index] = result
        else:
            loose.append(result)
    positional = len(loose) == len(raw) == len(chunk) and not by_id and not by_index
    matched = []
    for index, write in enumerate(chunk):
        found: Mapping[str, Any] | None = by_id.get(write.item_id) or by_index.get(index)
        if found is None and positional:
            found = loose[index]
        matched.append(_item_result(write, found))
    return matched


def _item_result(write: ItemStock, result: Mapping[str, Any] | None) -> ItemWriteResult:
    if result is None:
        return ItemWriteResult(
            write.item_id,
            False,
            True,
            error_code="NO_RESULT",
            error="bulk answer carried no result for this item (undetailed failure)",
        )
    meta = _obj(result.get("itemMetadata"))
    item = result.get("item")
    if meta.get("success") is True:
        return _success(write.item_id, item if isinstance(item, dict) else None)
    error = _obj(meta.get("error"))
    code = str(error["code"]) if error.get("code") else None
    return ItemWriteResult(
        write.item_id,
        False,
        conflict=code not in PERMANENT_CODES,
        error_code=code,
        error=str(error.get("description") or error.get("message") or "item failed"),
    )


def _obj(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _success(item_id: str, item: Mapping[str, Any] | None) -> ItemWriteResult:
    if item is None:
        return ItemWriteResult(item_id, True)
    variant = item_variant_of(item, endpoint="v3.inventory_items.bulk_update")
    return ItemWriteResult(
        item_id, True, revision=variant.revision, quantity=variant.quantity, variant=variant
    )
