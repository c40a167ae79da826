"""Catalog V3 JSON shapes: products, read-only variants and inventory items.

As in ``views_v1``, only fields useful for stock work (and for recognising a product) are
filled. V3 money is a decimal string, int64 values (``revision``) are strings, and an
item's ``quantity`` is present only when the item tracks quantity (one-of with ``inStock``).
"""

from __future__ import annotations

from typing import Any

from syncd_emulator.jsontext import dumps
from syncd_emulator.spec import derived_id
from syncd_emulator.store import ItemState, ProductState, VariantState
from syncd_emulator.views_v1 import CURRENCY, PREORDER_LIMIT, variant_name

PRODUCT_REVISION = "1"
"""Product revisions never move: the emulator changes no product data, only stock."""


def availability(item: ItemState) -> str:
    """``availabilityStatus`` of an item (preorder is not modelled)."""
    return "IN_STOCK" if item.reported_in_stock else "OUT_OF_STOCK"


def inventory_item_dict(item: ItemState) -> dict[str, Any]:
    """A V3 ``InventoryItem``."""
    variant = item.variant
    product = item.product
    data: dict[str, Any] = {
        "id": item.id,
        "revision": str(item.revision),
        "createdDate": item.created,
        "updatedDate": item.updated,
        "variantId": variant.id,
        "locationId": item.location_id,
        "productId": product.id,
        "trackQuantity": item.track,
        "inStock": item.reported_in_stock,
        "availabilityStatus": availability(item),
        "preorderInfo": {"enabled": False, "limit": PREORDER_LIMIT, "counter": 0, "quantity": 0},
        "product": {
            "name": product.name,
            "directCategoryIds": [],
            "variantName": variant_name(variant),
            "variantSku": variant.sku,
            "variantVisible": variant.visible,
        },
    }
    if item.track:
        data["quantity"] = item.quantity
    return data


def inventory_item_json(item: ItemState) -> str:
    """``inventory_item_dict`` as JSON text, cached until the item's next write."""
    if item.json is None:
        item.json = dumps(inventory_item_dict(item))
    return item.json


def _amount(value: float) -> dict[str, str]:
    return {"amount": f"{value:.2f}"}


def _variant_in_stock(variant: VariantState, location_id: str) -> bool:
    item = variant.default_item(location_id)
    return item is not None and item.reported_in_stock


def _choices(variant: VariantState) -> list[dict[str, Any]]:
    product = variant.product
    kinds = {o.name: o.kind for o in product.options}
    return [
        {
            "optionChoiceIds": {
                "optionId": derived_id("option", product.id, name),
                "choiceId": derived_id("choice", product.id, name, value),
            },
            "optionChoiceNames": {
                "optionName": name,
                "choiceName": value,
                "renderType": "SWATCH_CHOICES" if kinds[name] == "color" else "TEXT_CHOICES",
            },
        }
        for name, value in variant.choices
    ]


def variant_dict(variant: VariantState, location_id: str) -> dict[str, Any]:
    """A V3 product's ``Variant`` (Get Product ``variantsInfo``)."""
    data: dict[str, Any] = {
        "id": variant.id,
        "visible": variant.visible,
        "barcode": "",
        "choices": _choices(variant),
        "price": {"actualPrice": _amount(variant.price)},
        "inventoryStatus": {"inStock": _variant_in_stock(variant, location_id),
                            "preorderEnabled": False},
    }
    if variant.sku:
        data["sku"] = variant.sku
    return data


def product_dict(
    product: ProductState, location_id: str, *, include_variants: bool
) -> dict[str, Any]:
    """A ``V3Product``; Query Products leaves ``variantsInfo`` out, Get Product has it."""
    in_stock = [_variant_in_stock(v, location_id) for v in product.variants]
    status = "IN_STOCK" if all(in_stock) else "PARTIALLY_OUT_OF_STOCK" if any(in_stock) \
        else "OUT_OF_STOCK"
    prices = [v.price for v in product.variants]
    data: dict[str, Any] = {
        "id": product.id,
        "revision": PRODUCT_REVISION,
        "createdDate": product.created,
        "updatedDate": product.created,
        "name": product.name,
        "slug": product.slug,
        "handle": product.slug,
        "visible": product.visible,
        "visibleInPos": True,
        "productType": "PHYSICAL",
        "options": [
            {
                "id": derived_id("option", product.id, o.name),
                "name": o.name,
                "optionRenderType": "SWATCH_CHOICES" if o.kind == "color" else "TEXT_CHOICES",
                "choicesSettings": {
                    "choices": [
                        {"choiceId": derived_id("choice", product.id, o.name, c), "name": c,
                         "choiceType": "ONE_COLOR" if o.kind == "color" else "CHOICE_TEXT",
                         "visible": True}
                        for c in o.choices
                    ]
                },
            }
            for o in product.options
        ],
        "inventory": {"availabilityStatus": status, "preorderStatus": "DISABLED"},
        "actualPriceRange": {"minValue": _amount(min(prices)), "maxValue": _amount(max(prices))},
        "variantSummary": {"variantCount": len(product.variants)},
    }
    if include_variants:
        data["variantsInfo"] = {"variants": [variant_dict(v, location_id)
                                             for v in product.variants]}
    return data


def readonly_variant_dict(variant: VariantState, location_id: str) -> dict[str, Any]:
    """A ``ReadOnlyVariant`` (Query Variants): SKU and stock status, never a quantity."""
    product = variant.product
    data: dict[str, Any] = {
        "variantId": variant.id,
        "id": variant.id,
        "visible": variant.visible,
        "barcode": "",
        "optionChoices": _choices(variant),
        "price": {"actualPrice": _amount(variant.price)},
        "inventoryStatus": {"inStock": _variant_in_stock(variant, location_id),
                            "preorderEnabled": False},
        "productData": {
            "productId": product.id,
            "name": product.name,
            "productType": "PHYSICAL",
            "slug": product.slug,
            "visible": product.visible,
            "visibleInPos": True,
            "mainCategoryId": "",
            "currency": CURRENCY,
            "revision": PRODUCT_REVISION,
            "handle": product.slug,
        },
    }
    if variant.sku:
        data["sku"] = variant.sku
    return data
