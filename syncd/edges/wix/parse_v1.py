"""Catalog V1 / Inventory V2 answers -> ``StoreVariant`` (pure, no I/O).

The answers arrive decoded into the structs of ``syncd.edges.wix.answers``, where every
field is optional (Wix may leave out any field that has its default value, and a missing
list is an empty list). Rules from the contract:

- SKU = ``variant.variant.sku`` when non-empty, else ``product.sku`` (``manageVariants``
  decides where the SKU lives).
- Tracked = the variant's ``stock.trackQuantity``, else the product's ``stock.trackInventory``
  (V1 tracking is one flag per product); Inventory V2 calls it ``trackQuantity``.
- Hidden = the product is not visible, or the variant itself is marked not visible.
- Wix may leave out fields holding their default (proto3 JSON): a tracked variant without
  ``quantity`` holds 0, and a missing ``inStock`` is false on an untracked variant (derived
  from ``quantity > 0`` on a tracked one). Reading a missing quantity as "unknown" would make
  the differ rewrite every such variant on every cycle.
- A variant without a SKU of its own on a product whose ``manageVariants`` is not true takes
  the product's SKU, shared by all its variants (``StoreVariant.shared_sku``): a row naming
  that SKU sets every variant of the product, whichever of the two unconfirmed inventory
  layouts (per variant, or only the nil-GUID variant) the product reports.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from syncd.base.model import StoreVariant
from syncd.edges.wix.answers import (
    V1Product,
    V1Variant,
    V1VariantDetails,
    V1VariantStock,
    V2InventoryItem,
)

_NO_DETAILS = V1VariantDetails()
_NO_STOCK = V1VariantStock()


def variants_need_inventory(product: V1Product) -> bool:
    """True when the page did not carry stock for every variant of ``product``."""
    variants = product.variants
    if not variants:
        return True
    for variant in variants:  # a loop, not any(): run for every product at every walk
        if variant.stock is None:
            return True
    return False


def product_variants(
    product: V1Product,
    *,
    variants: Sequence[V1Variant] | None = None,
    inventory: V2InventoryItem | None = None,
) -> list[StoreVariant]:
    """Flatten one V1 product into store variants.

    ``variants`` replaces ``product.variants`` (from Query Product Variants) and
    ``inventory`` (an Inventory V2 item) supplies stock for variants whose ``stock`` is missing.
    """
    product_tracked = bool(product.stock is not None and product.stock.trackInventory)
    inventory_stock: dict[str, V1VariantStock] = {}
    inventory_tracked: bool | None = None
    if inventory is not None:
        inventory_tracked = bool(inventory.trackQuantity)
        for entry in inventory.variants or ():
            if entry.variantId:
                inventory_stock[entry.variantId] = entry
    product_hidden = product.visible is False
    product_id = product.id or ""
    item_id = product.inventoryItemId or ""
    product_sku = product.sku or ""
    product_name = product.name or ""
    managed = product.manageVariants
    # ``_shared_sku`` for a variant without a SKU of its own (one with a SKU never shares).
    shares_sku = bool(product_sku) and managed is not True
    rows: list[StoreVariant] = []
    append = rows.append
    # Hot: a daemon flattens every variant of every store at every full cycle, so the
    # rules of ``_quantity``, ``_in_stock`` and ``_shared_sku`` are inlined here.
    for variant in variants if variants is not None else product.variants or ():
        variant_id = variant.id or ""
        details = variant.variant or _NO_DETAILS
        stock = variant.stock
        if stock is not None:
            tracked = product_tracked if stock.trackQuantity is None else stock.trackQuantity
        else:
            stock = inventory_stock.get(variant_id, _NO_STOCK)
            tracked = product_tracked if inventory_tracked is None else inventory_tracked
        quantity = stock.quantity
        in_stock = stock.inStock
        if in_stock is None:
            in_stock = tracked and quantity is not None and quantity > 0
        if quantity is None and tracked:
            quantity = 0
        own_sku = details.sku
        append(StoreVariant(
            product_id, variant_id, item_id, own_sku or product_sku, tracked, quantity,
            in_stock, product_hidden or details.visible is False, product_name, None, None,
            not own_sku and shares_sku, managed))
    return rows


def _shared_sku(product: V1Product, details: V1VariantDetails) -> bool:
    """The variant shows the product's SKU (``manageVariants`` is not true)."""
    return not details.sku and bool(product.sku) and product.manageVariants is not True


def _quantity(stock: V1VariantStock, *, tracked: bool) -> int | None:
    """A tracked variant's missing quantity is its default, 0; untracked ones may omit it."""
    quantity = stock.quantity
    return 0 if quantity is None and tracked else quantity


def seed_variant(
    product: V1Product,
    variant: V1Variant,
    *,
    tracked: bool,
    stock: V1VariantStock,
) -> StoreVariant:
    """One variant read through the seed flow (Get Product, item, variants, variant stock)."""
    details = variant.variant or _NO_DETAILS
    return StoreVariant(
        product_id=product.id or "",
        variant_id=variant.id or "",
        inventory_item_id=product.inventoryItemId or "",
        sku=details.sku or product.sku or "",
        tracked=tracked,
        quantity=_quantity(stock, tracked=tracked),
        in_stock=_in_stock(stock, tracked=tracked),
        hidden=product.visible is False or details.visible is False,
        product_name=product.name or "",
        shared_sku=_shared_sku(product, details),
        managed_variant=product.manageVariants,
    )


def _in_stock(stock: V1VariantStock, *, tracked: bool) -> bool:
    if stock.inStock is not None:
        return stock.inStock
    quantity = stock.quantity
    return tracked and quantity is not None and quantity > 0


def int_or_none(value: Any) -> int | None:
    """An int from a JSON number or numeric string; None for anything else."""
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
