"""Increment/Decrement Inventory (Inventory V2): the readings Wix leaves open, as switches.

Wix documents 1..300 entries across products, amounts >= 1, and ``{}`` as the answer. It
does not say (``wix-api.md`` §5.4, §11) what happens to an entry on an untracked product,
to a decrement below zero without preorder, or whether one bad entry fails the whole call.
A client must be right under every reading, so the emulator can play each one
(``EmulatorConfig`` fields, also settable at runtime through ``/__emulator/faults``):

- ``adjust_bad_entry``: ``fail_call`` (default: nothing is applied, 400) or
  ``skip_entry`` (the bad entries are skipped silently, the others applied, ``{}``);
- ``adjust_below_zero``: ``refuse`` (default: a bad entry), ``clamp`` (stock stops at 0)
  or ``allow`` (stock goes negative);
- ``adjust_untracked``: ``refuse`` (default: a bad entry) or ``apply`` (the hidden
  quantity of the untracked product changes, its availability does not).

Every applied entry is counted per variant (``Stats.count_delta``), so a test can check
that no unit was ever added or removed twice. Under ``applied_5xx`` every third stock write
call (these, and Update Inventory Variants) is answered with a 5xx after it was applied
(``answer_applied``).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from syncd.base.model import MAX_QUANTITY
from syncd_emulator.bodies import get_int, get_list, get_str, read_request
from syncd_emulator.context import EMULATOR
from syncd_emulator.error_answers import (
    application_error,
    not_found,
    server_error,
    validation_error,
)
from syncd_emulator.respond import json_response
from syncd_emulator.store import Store, VariantState
from syncd_emulator.variants import WixVariants, applied_5xx_status

MAX_ADJUST_ENTRIES = 300

async def increment_inventory(request: web.Request) -> web.Response:
    """Add to tracked quantities: ``incrementData`` of 1..300 entries."""
    return await _adjust(request, key="incrementData", amount_key="incrementBy", sign=1)


async def decrement_inventory(request: web.Request) -> web.Response:
    """Take from tracked quantities: ``decrementData`` of 1..300 entries."""
    return await _adjust(request, key="decrementData", amount_key="decrementBy", sign=-1)


async def _adjust(request: web.Request, *, key: str, amount_key: str, sign: int) -> web.Response:
    emu = request.app[EMULATOR]
    store = emu.store
    settings = emu.settings
    body = await read_request(request)
    entries = get_list(body, key, "", required=True)
    if not 1 <= len(entries) <= MAX_ADJUST_ENTRIES:
        raise validation_error(key, f"must hold 1..{MAX_ADJUST_ENTRIES} entries",
                               rule="MAX" if entries else "MIN",
                               data={"threshold": MAX_ADJUST_ENTRIES if entries else 1})
    deltas: dict[int, tuple[VariantState, int]] = {}
    for index, raw in enumerate(entries):
        variant, amount = _entry(store, raw, f"{key}[{index}].", amount_key)
        previous = deltas.get(id(variant), (variant, 0))[1]
        deltas[id(variant)] = (variant, previous + sign * amount)
    applied: list[tuple[VariantState, int]] = []
    for variant, delta in deltas.values():
        result = _outcome(variant, delta, below_zero=settings.adjust_below_zero,
                          untracked=settings.adjust_untracked)
        if isinstance(result, Exception):
            if settings.adjust_bad_entry == "fail_call":
                raise result
            continue  # skipped silently: the reading where one bad entry spoils nothing
        applied.append((variant, result))
    for variant, delta in applied:
        store.adjust_variant(variant, delta)
        emu.stats.count_delta(variant.product.id, variant.id, delta)
    emu.stats.count_write(len(applied))
    return answer_applied(store, emu.variants)


def _entry(store: Store, raw: Any, where: str, amount_key: str) -> tuple[VariantState, int]:
    if not isinstance(raw, dict):
        raise validation_error(where.rstrip("."), "must be an object", rule="FORMAT")
    inventory_id = get_str(raw, "inventoryId", where)
    product_id = get_str(raw, "productId", where)
    if inventory_id is not None:
        product = store.by_inventory_id.get(inventory_id)
    elif product_id is not None:
        product = store.by_id.get(product_id)
    else:
        raise validation_error(f"{where}inventoryId", "or productId is required",
                               rule="REQUIRED_FIELD")
    if product is None:
        raise not_found("inventory item", inventory_id or product_id or "")
    variant_id = get_str(raw, "variantId", where, required=True)
    assert variant_id is not None
    variant = store.variant(product, variant_id)
    if variant is None:
        raise not_found("variant", f"{variant_id} of product {product.id}")
    amount = get_int(raw, amount_key, where, low=1)
    if amount is None:
        raise validation_error(f"{where}{amount_key}", "is required", rule="REQUIRED_FIELD")
    return variant, amount


def _outcome(variant: VariantState, delta: int, *, below_zero: str,
             untracked: str) -> int | Exception:
    """The delta actually applied to ``variant``, or the error of a bad entry."""
    product = variant.product
    if not product.track and untracked == "refuse":
        return application_error(
            400, "INVENTORY_QUANTITY_NOT_TRACKED",
            f"product {product.id} does not track quantities; set trackQuantity first")
    result = variant.quantity + delta
    if result > MAX_QUANTITY:
        return application_error(400, "MAX_QUANTITY_LIMIT_REACHED",
                                 f"variant {variant.id} would exceed {MAX_QUANTITY}")
    if result < 0:
        if below_zero == "refuse":
            return application_error(
                400, "INSUFFICIENT_INVENTORY",
                f"variant {variant.id} of product {product.id} has {variant.quantity} in stock")
        if below_zero == "clamp":
            return -variant.quantity
    return delta


def answer_applied(store: Store, variants: WixVariants) -> web.Response:
    """``{}`` for a stock write call that was applied, or under ``applied_5xx`` for every
    third such call a 500, 503 or 504 all the same."""
    store.write_calls += 1
    status = applied_5xx_status(store.write_calls) if variants.applied_5xx else None
    if status is not None:
        raise server_error(status)
    return json_response({})
