"""Catalog V1 / Inventory V2 JSON -> ``StoreVariant`` (pure, no I/O).

Wix may leave out any field that has its default value, so every field is optional here
(a missing list is an empty list). Rules from the contract:

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

from collections.abc import Mapping, Sequence
from typing import Any

from syncd.base.model import StoreVariant

JSONObject = dict[str, Any]


def variants_need_inventory(product: Mapping[str, Any]) -> bool:
    """True when the page did not carry stock for every variant of ``product``."""
    variants = product.get("variants") or []
    return not variants or any(not isinstance(v.get("stock"), dict) for v in variants)


def product_variants(
    product: Mapping[str, Any],
    *,
    variants: Sequence[Mapping[str, Any]] | None = None,
    inventory: Mapping[str, Any] | None = None,
) -> list[StoreVariant]:
    """Flatten one V1 product into store variants.

    ``variants`` replaces ``product["variants"]`` (from Query Product Variants) and
    ``inventory`` (an Inventory V2 item) supplies stock for variants whose ``stock`` is missing.
    """
    product_stock = _obj(product.get("stock"))
    product_tracked = bool(product_stock.get("trackInventory", False))
    inventory_stock: dict[str, Mapping[str, Any]] = {}
    inventory_tracked: bool | None = None
    if inventory is not None:
        inventory_tracked = bool(inventory.get("trackQuantity", False))
        for entry in inventory.get("variants") or []:
            if isinstance(entry, dict) and entry.get("variantId"):
                inventory_stock[str(entry["variantId"])] = entry
    product_hidden = product.get("visible") is False
    rows = []
    for variant in variants if variants is not None else product.get("variants") or []:
        variant_id = str(variant.get("id") or "")
        details = _obj(variant.get("variant"))
        stock = variant.get("stock")
        if isinstance(stock, dict):
            tracked = bool(stock.get("trackQuantity", product_tracked))
        else:
            stock = inventory_stock.get(variant_id, {})
            tracked = product_tracked if inventory_tracked is None else inventory_tracked
        rows.append(
            StoreVariant(
                product_id=str(product.get("id") or ""),
                variant_id=variant_id,
                inventory_item_id=str(product.get("inventoryItemId") or ""),
                sku=str(details.get("sku") or product.get("sku") or ""),
                tracked=tracked,
                quantity=_quantity(stock, tracked=tracked),
                in_stock=_in_stock(stock, tracked=tracked),
                hidden=product_hidden or details.get("visible") is False,
                product_name=str(product.get("name") or ""),
                shared_sku=_shared_sku(product, details),
                managed_variant=_bool_or_none(product.get("manageVariants")),
            )
        )
    return rows


def _shared_sku(product: Mapping[str, Any], details: Mapping[str, Any]) -> bool:
    """The variant shows the product's SKU (``manageVariants`` is not true)."""
    return not details.get("sku") and bool(product.get("sku")) \
        and product.get("manageVariants") is not True


def _quantity(stock: Mapping[str, Any], *, tracked: bool) -> int | None:
    """A tracked variant's missing quantity is its default, 0; untracked ones may omit it."""
    quantity = int_or_none(stock.get("quantity"))
    return 0 if quantity is None and tracked else quantity


def seed_variant(
    product: Mapping[str, Any],
    variant: Mapping[str, Any],
    *,
    tracked: bool,
    stock: Mapping[str, Any],
) -> StoreVariant:
    """One variant read through the seed flow (Get Product, item, variants, variant stock)."""
    details = _obj(variant.get("variant"))
    return StoreVariant(
        product_id=str(product.get("id") or ""),
        variant_id=str(variant.get("id") or ""),
        inventory_item_id=str(product.get("inventoryItemId") or ""),
        sku=str(details.get("sku") or product.get("sku") or ""),
        tracked=tracked,
        quantity=_quantity(stock, tracked=tracked),
        in_stock=_in_stock(stock, tracked=tracked),
        hidden=product.get("visible") is False or details.get("visible") is False,
        product_name=str(product.get("name") or ""),
        shared_sku=_shared_sku(product, details),
        managed_variant=_bool_or_none(product.get("manageVariants")),
    )


def _in_stock(stock: Mapping[str, Any], *, tracked: bool) -> bool:
    value = stock.get("inStock")
    if isinstance(value, bool):
        return value
    quantity = int_or_none(stock.get("quantity"))
    return tracked and quantity is not None and quantity > 0


def int_or_none(value: Any) -> int | None:
    """An int from a JSON number or numeric string; None for anything else."""
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _bool_or_none(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _obj(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}
