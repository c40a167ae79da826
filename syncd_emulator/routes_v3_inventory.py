"""Catalog V3 inventory writes: Update, Bulk Update, Bulk Create, Bulk Increment/Decrement.

Rules reproduced from the contract (§7.3, §2.3, §2.4):

- ``quantity`` and ``inStock`` are one-of (both: 400); writing ``quantity`` switches an item
  to quantity tracking, writing ``inStock`` to status tracking. ``trackQuantity`` in a
  request is ignored (read-only).
- Every successful write adds 1 to ``revision``. Update and Bulk Update require the
  revision the client read; a missing one is a 400 for the whole request.
- A stale revision is rejected without applying anything: the single Update answers with
  the configured status (409 by default, ``--stale-status 428`` as the alternative reading),
  Bulk Update reports that item as failed inside a 200 and applies the others.
- Writing a negative quantity through Update is refused with 428
  ``REQUESTED_QUANTITY_MUST_BE_NON_NEGATIVE_DECREASING``; negative stock comes only from
  unrestricted decrements.
- Bulk calls take 1..1000 items (increments/decrements 1..300); a malformed item or a size
  outside the limits is a 400 for the whole request, business failures are per item.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp import web

from syncd.base.model import MAX_QUANTITY
from syncd_emulator.bodies import get_bool, get_dict, get_int, get_list, get_str, read_request
from syncd_emulator.context import EMULATOR, Emulator
from syncd_emulator.error_answers import application_error, not_found, validation_error
from syncd_emulator.respond import json_response
from syncd_emulator.store import V3_MIN_QUANTITY, ItemState
from syncd_emulator.views_v3 import inventory_item_dict

MAX_BULK_ITEMS = 1000
MAX_ADJUST_ITEMS = 300
NEGATIVE_CODE = "REQUESTED_QUANTITY_MUST_BE_NON_NEGATIVE_DECREASING"
STALE_CODE = "REVISION_MISMATCH"


def add_routes(router: web.UrlDispatcher) -> None:
    """Register the V3 inventory writes."""
    router.add_patch("/stores/v3/inventory-items/{inventoryItemId}", update_inventory_item)
    router.add_post("/stores/v3/bulk/inventory-items/update", bulk_update)
    router.add_post("/stores/v3/bulk/inventory-items/create", bulk_create)
    router.add_post("/stores/v3/bulk/inventory-items/increment", bulk_increment)
    router.add_post("/stores/v3/bulk/inventory-items/decrement", bulk_decrement)


@dataclass(frozen=True, slots=True)
class StockWrite:
    """One parsed item of an Update/Bulk Update request."""

    item_id: str
    revision: int
    quantity: int | None
    in_stock: bool | None


def _stock(raw: dict[str, Any], where: str) -> tuple[int | None, bool | None]:
    quantity = get_int(raw, "quantity", where, low=V3_MIN_QUANTITY, high=MAX_QUANTITY)
    in_stock = get_bool(raw, "inStock", where)
    if quantity is not None and in_stock is not None:
        raise validation_error(f"{where}quantity", "and inStock are one-of: send only one",
                               rule="OTHER")
    return quantity, in_stock


def _revision(raw: dict[str, Any], where: str) -> int:
    value = raw.get("revision")
    if value is None or value == "":
        raise validation_error(f"{where}revision", "must not be empty", rule="REQUIRED_FIELD")
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise validation_error(f"{where}revision", "must be an int64 string", rule="FORMAT")
    try:
        return int(value)
    except ValueError:
        raise validation_error(f"{where}revision", "must be an int64 string",
                               rule="FORMAT") from None


def _parse_write(raw: Any, where: str, *, path_id: str | None = None) -> StockWrite:
    if not isinstance(raw, dict):
        raise validation_error(where.rstrip("."), "must be an object", rule="FORMAT")
    item_id = get_str(raw, "id", where, required=path_id is None) or path_id
    if path_id is not None and item_id != path_id:
        raise validation_error(f"{where}id", "does not match the item in the path")
    assert item_id is not None
    revision = _revision(raw, where)
    quantity, in_stock = _stock(raw, where)
    return StockWrite(item_id, revision, quantity, in_stock)


def _check_write(emu: Emulator, write: StockWrite) -> tuple[ItemState | None, str, str]:
    """``(item, error code, message)``; the code is "" when the write may go ahead."""
    item = emu.store.items_by_id.get(write.item_id)
    if item is None:
        return None, "NOT_FOUND", f"inventory item {write.item_id} not found"
    if write.revision != item.revision:
        return item, STALE_CODE, (
            f"revision {write.revision} is stale: inventory item {item.id} is at revision "
            f"{item.revision}; read it again and retry"
        )
    if write.quantity is not None and write.quantity < 0:
        return item, NEGATIVE_CODE, "quantity must not be set below zero"
    return item, "", ""


async def update_inventory_item(request: web.Request) -> web.Response:
    """PATCH one item; stale revision -> the configured status, nothing applied."""
    emu = request.app[EMULATOR]
    path_id = request.match_info["inventoryItemId"]
    body = await read_request(request)
    raw = get_dict(body, "inventoryItem", "", required=True)
    write = _parse_write(raw, "inventoryItem.", path_id=path_id)
    item, code, message = _check_write(emu, write)
    if item is None:
        raise not_found("inventory item", path_id)
    if code == STALE_CODE:
        raise application_error(emu.settings.stale_status, code, message,
                                data={"currentRevision": str(item.revision)})
    if code:
        raise application_error(428, code, message)
    emu.store.write_item(item, quantity=write.quantity, in_stock=write.in_stock)
    emu.stats.count_write(1)
    return json_response({"inventoryItem": inventory_item_dict(item)})


def _sized(body: dict[str, Any], key: str, limit: int) -> list[Any]:
    entries = get_list(body, key, "", required=True)
    if not 1 <= len(entries) <= limit:
        raise validation_error(key, f"must hold 1..{limit} items",
                               rule="MAX" if entries else "MIN",
                               data={"threshold": limit if entries else 1})
    return entries


class BulkResults:
    """Collects per-item outcomes into Wix's bulk answer (§2.3)."""

    def __init__(self, *, return_entity: bool, unordered: bool = False) -> None:
        """``unordered``: no ``originalIndex``, results in reverse order (a variant)."""
        self.return_entity = return_entity
        self.unordered = unordered
        self.results: list[dict[str, Any]] = []
        self.successes = 0

    def ok(self, index: int, item: ItemState) -> None:
        """Item ``index`` succeeded."""
        self.successes += 1
        result: dict[str, Any] = {
            "itemMetadata": {"id": item.id, "originalIndex": index, "success": True}
        }
        if self.return_entity:
            result["item"] = inventory_item_dict(item)
        self.results.append(result)

    def fail(self, index: int, item_id: str | None, code: str, message: str) -> None:
        """Item ``index`` failed with ``code``; nothing of it was applied."""
        meta: dict[str, Any] = {"originalIndex": index, "success": False,
                                "error": {"code": code, "description": message, "data": {}}}
        if item_id:
            meta["id"] = item_id
        self.results.append({"itemMetadata": meta})

    def response(self, emu: Emulator) -> web.Response:
        """The 200 answer; counts the call as a write when anything was applied."""
        if self.successes:
            emu.stats.count_write(self.successes)
        results = self.results
        if self.unordered:
            for result in results:
                result["itemMetadata"].pop("originalIndex", None)
            results = results[::-1]
        return json_response({
            "results": results,
            "bulkActionMetadata": {
                "totalSuccesses": self.successes,
                "totalFailures": len(self.results) - self.successes,
                "undetailedFailures": 0,
            },
        })


async def bulk_update(request: web.Request) -> web.Response:
    """Bulk Update: per-item results; a stale item fails alone, the others apply."""
    emu = request.app[EMULATOR]
    body = await read_request(request)
    entries = _sized(body, "inventoryItems", MAX_BULK_ITEMS)
    writes = []
    for index, entry in enumerate(entries):
        where = f"inventoryItems[{index}]."
        if not isinstance(entry, dict):
            raise validation_error(where.rstrip("."), "must be an object", rule="FORMAT")
        raw = get_dict(entry, "inventoryItem", where, required=True)
        writes.append(_parse_write(raw, f"{where}inventoryItem."))
    results = BulkResults(return_entity=bool(get_bool(body, "returnEntity", "")),
                          unordered=emu.variants.bulk_results_unordered)
    if emu.variants.whole_bulk_errors:
        for write in writes:
            item, code, message = _check_write(emu, write)
            if item is None:
                raise not_found("inventory item", write.item_id)
            if code:
                # The whole request fails and nothing is applied (the other reading of §2.3).
                raise application_error(emu.settings.stale_status if code == STALE_CODE
                                        else 428, code, message)
    for index, write in enumerate(writes):
        item, code, message = _check_write(emu, write)
        if item is None or code:
            results.fail(index, write.item_id, code, message)
            continue
        emu.store.write_item(item, quantity=write.quantity, in_stock=write.in_stock)
        results.ok(index, item)
    return results.response(emu)


async def bulk_create(request: web.Request) -> web.Response:
    """Bulk Create: one item per (variant, location); an existing one fails that entry."""
    emu = request.app[EMULATOR]
    store = emu.store
    body = await read_request(request)
    entries = _sized(body, "inventoryItems", MAX_BULK_ITEMS)
    parsed = []
    for index, raw in enumerate(entries):
        where = f"inventoryItems[{index}]."
        if not isinstance(raw, dict):
            raise validation_error(where.rstrip("."), "must be an object", rule="FORMAT")
        product_id = get_str(raw, "productId", where, required=True)
        variant_id = get_str(raw, "variantId", where, required=True)
        location_id = get_str(raw, "locationId", where) or store.location_id
        quantity, in_stock = _stock(raw, where)
        if quantity is None and in_stock is None:
            raise validation_error(f"{where}quantity", "or inStock is required",
                                   rule="REQUIRED_FIELD")
        if quantity is not None and quantity < 0:
            raise validation_error(f"{where}quantity", "must not be negative", rule="MIN",
                                   data={"ruleName": "REQUESTED_QUANTITY_MUST_BE_NON_NEGATIVE"})
        parsed.append((product_id, variant_id, location_id, quantity, in_stock))
    results = BulkResults(return_entity=bool(get_bool(body, "returnEntity", "")))
    for index, (product_id, variant_id, location_id, quantity, in_stock) in enumerate(parsed):
        product = store.by_id.get(product_id or "")
        variant = store.variant(product, variant_id or "") if product is not None else None
        if variant is None:
            results.fail(index, None, "NOT_FOUND",
                         f"variant {variant_id} of product {product_id} not found")
        elif variant.default_item(location_id) is not None:
            results.fail(index, None, "ITEM_ALREADY_EXISTS",
                         f"variant {variant_id} already has an item at location {location_id}")
        else:
            item = store.create_item(variant, location_id=location_id, item_id=emu.new_id(),
                                     quantity=quantity, in_stock=in_stock)
            results.ok(index, item)
    return results.response(emu)


async def bulk_increment(request: web.Request) -> web.Response:
    """Bulk Increment: 1..300 entries, each ``incrementBy`` 1..99999."""
    return await _bulk_adjust(request, key="incrementData", amount_key="incrementBy", sign=1)


async def bulk_decrement(request: web.Request) -> web.Response:
    """Bulk Decrement: as increment; stock stays >= 0 unless ``restrictInventory`` is false."""
    return await _bulk_adjust(request, key="decrementData", amount_key="decrementBy", sign=-1)


async def _bulk_adjust(
    request: web.Request, *, key: str, amount_key: str, sign: int
) -> web.Response:
    emu = request.app[EMULATOR]
    body = await read_request(request)
    entries = _sized(body, key, MAX_ADJUST_ITEMS)
    restrict = get_bool(body, "restrictInventory", "")
    parsed = []
    for index, raw in enumerate(entries):
        where = f"{key}[{index}]."
        if not isinstance(raw, dict):
            raise validation_error(where.rstrip("."), "must be an object", rule="FORMAT")
        item_id = get_str(raw, "inventoryItemId", where, required=True)
        amount = get_int(raw, amount_key, where, low=1, high=MAX_QUANTITY)
        if amount is None:
            raise validation_error(f"{where}{amount_key}", "is required", rule="REQUIRED_FIELD")
        parsed.append((item_id or "", sign * amount))
    results = BulkResults(return_entity=bool(get_bool(body, "returnEntity", "")))
    for index, (item_id, delta) in enumerate(parsed):
        item = emu.store.items_by_id.get(item_id)
        if item is None:
            results.fail(index, item_id, "NOT_FOUND", f"inventory item {item_id} not found")
            continue
        code = emu.store.check_adjust(item, delta, restrict=restrict is not False)
        if code:
            results.fail(index, item_id, code, f"cannot change quantity {item.quantity} by {delta}")
            continue
        emu.store.adjust_item(item, delta)
        results.ok(index, item)
    return results.response(emu)
