"""Inventory V2 writes and the seed's older ``/stores/v1/inventoryItems`` endpoints.

Update Inventory Variants sets absolute values for several variants of one product, and
takes ``trackQuantity`` as product-wide: omitted means false, for *every* variant of the
product (the SDK's warning, reproduced so a client that forgets it finds out here). V1
quantities must be 0..99999; Wix does not say what it does with negative ones, so the
emulator refuses them (400), the stricter reading.

Increment/Decrement (1..300 entries across products) live in ``syncd_emulator.adjust``,
with a switch for each reading Wix leaves open.

Two readings of the contract's open points are played here, as ``--wix-variants``
switches: ``ignored_writes`` (``{}`` for an entry that was not applied) and
``applied_5xx`` (a 5xx after the write was applied: ``adjust.answer_applied``, shared
with Increment/Decrement).

The seed's endpoints (S2/S3 item tracking, S5/S6 one variant) read and write the same state,
so both paths always agree.
"""

from __future__ import annotations

from aiohttp import web

from syncd.base.model import MAX_QUANTITY
from syncd_emulator import adjust
from syncd_emulator.bodies import get_bool, get_dict, get_int, get_list, get_str, read_request
from syncd_emulator.context import EMULATOR
from syncd_emulator.error_answers import not_found, validation_error
from syncd_emulator.respond import json_response
from syncd_emulator.store import ProductState, Store, VariantState
from syncd_emulator.variants import ignores_write
from syncd_emulator.views_v1 import seed_item_dict, seed_variant_dict


def add_routes(router: web.UrlDispatcher) -> None:
    """Register the V2 writes and the seed's endpoints (``/stores/`` only, as Wix has them)."""
    router.add_patch("/stores/v2/inventoryItems/product/{productId}", update_inventory_variants)
    router.add_post("/stores/v2/inventoryItems/increment", adjust.increment_inventory)
    router.add_post("/stores/v2/inventoryItems/decrement", adjust.decrement_inventory)
    router.add_get("/stores/v1/inventoryItems/{inventoryItemId}", get_seed_item, allow_head=False)
    router.add_patch("/stores/v1/inventoryItems/{inventoryItemId}", patch_seed_item)
    router.add_get("/stores/v1/inventoryItems/{inventoryItemId}/variant/{variantId}",
                   get_seed_variant, allow_head=False)
    router.add_patch("/stores/v1/inventoryItems/{inventoryItemId}/variant/{variantId}",
                     patch_seed_variant)


def _variant(store: Store, product: ProductState, variant_id: str) -> VariantState:
    variant = store.variant(product, variant_id)
    if variant is None:
        raise not_found("variant", f"{variant_id} of product {product.id}")
    return variant


async def update_inventory_variants(request: web.Request) -> web.Response:
    """PATCH several variants of one product; ``trackQuantity`` omitted -> false."""
    emu = request.app[EMULATOR]
    store = emu.store
    product_id = request.match_info["productId"]
    product = store.by_id.get(product_id)
    if product is None:
        raise not_found("product", product_id)
    body = await read_request(request)
    item = get_dict(body, "inventoryItem", "", required=True)
    if item.get("productId") not in (None, "", product_id):
        raise validation_error("inventoryItem.productId", "does not match the product in the path")
    track = bool(get_bool(item, "trackQuantity", "inventoryItem."))
    updates: list[tuple[VariantState, int | None, bool | None]] = []
    for index, raw in enumerate(get_list(item, "variants", "inventoryItem.")):
        where = f"inventoryItem.variants[{index}]."
        if not isinstance(raw, dict):
            raise validation_error(where.rstrip("."), "must be an object", rule="FORMAT")
        variant_id = get_str(raw, "variantId", where, required=True)
        assert variant_id is not None
        quantity = get_int(raw, "quantity", where, low=0, high=MAX_QUANTITY)
        in_stock = get_bool(raw, "inStock", where)
        updates.append((_variant(store, product, variant_id), quantity, in_stock))
    # Everything is validated before anything changes: a rejected call writes nothing.
    if product.track != track:
        store.set_tracking(product, track)
    applied = 0
    for variant, quantity, in_stock in updates:
        if emu.variants.ignored_writes and ignores_write(product.id, variant.id):
            continue  # answered {} all the same
        store.set_variant_stock(variant, quantity=quantity, in_stock=in_stock)
        applied += 1
    emu.stats.count_write(applied)
    return adjust.answer_applied(store, emu.variants)



# -- the seed's endpoints -------------------------------------------------------------------


def _seed_product(request: web.Request) -> ProductState:
    store = request.app[EMULATOR].store
    item_id = request.match_info["inventoryItemId"]
    product = store.by_inventory_id.get(item_id)
    if product is None:
        raise not_found("inventory item", item_id)
    return product


async def get_seed_item(request: web.Request) -> web.Response:
    """S2: ``{"item": {"id", "externalId", "trackInventory"}}``."""
    return json_response({"item": seed_item_dict(_seed_product(request))})


async def patch_seed_item(request: web.Request) -> web.Response:
    """S3: switch tracking of the whole product with ``{"item": {"trackInventory"}}``."""
    emu = request.app[EMULATOR]
    product = _seed_product(request)
    body = await read_request(request)
    item = get_dict(body, "item", "", required=True)
    track = get_bool(item, "trackInventory", "item.")
    if track is None:
        raise validation_error("item.trackInventory", "is required", rule="REQUIRED_FIELD")
    emu.store.set_tracking(product, track)
    emu.stats.count_write(0)
    return json_response({"item": seed_item_dict(product)})


async def get_seed_variant(request: web.Request) -> web.Response:
    """S5: one variant's ``inStock`` (and ``quantity`` when tracked)."""
    product = _seed_product(request)
    variant = _variant(request.app[EMULATOR].store, product, request.match_info["variantId"])
    return json_response({"variant": seed_variant_dict(variant)})


async def patch_seed_variant(request: web.Request) -> web.Response:
    """S6: write one variant's ``quantity`` and/or ``inStock``."""
    emu = request.app[EMULATOR]
    product = _seed_product(request)
    variant = _variant(emu.store, product, request.match_info["variantId"])
    body = await read_request(request)
    data = get_dict(body, "variant", "", required=True)
    quantity = get_int(data, "quantity", "variant.", low=0, high=MAX_QUANTITY)
    in_stock = get_bool(data, "inStock", "variant.")
    if quantity is None and in_stock is None:
        raise validation_error("variant", "needs quantity or inStock", rule="REQUIRED_FIELD")
    emu.store.set_variant_stock(variant, quantity=quantity, in_stock=in_stock)
    emu.stats.count_write(1)
    return json_response({"variant": seed_variant_dict(variant)})
