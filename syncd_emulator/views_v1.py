"""Catalog V1 and Inventory V2 JSON shapes of the store's state.

Only the fields a stock sync or a curious human would look at are filled; the rest of
Wix's large product object is left out (clients must treat every field as optional).
Products are serialized to JSON text once and cached on the product until its next write,
so a full Query Products page is a string join, not a hundred object walks.

Choices made where the contract leaves it open: untracked variants omit ``quantity`` in
catalog reads (Query Products, Store Variants) but report the stored value in Inventory V2
reads; Get Product carries no ``variants``; Query Product Variants carries no ``stock``
(as in the seed's example).
"""

from __future__ import annotations

import functools
from json.encoder import encode_basestring_ascii as _quote
from typing import Any

from syncd_emulator.jsontext import dumps
from syncd_emulator.store import ProductState, VariantState

CURRENCY = "USD"
PREORDER_LIMIT = 100_000
STORE_URL = "https://www.example-store.test/"


def price(amount: float) -> dict[str, Any]:
    """A V1 price object (the seed's ``variant.price`` and the SDK's ``priceData``)."""
    text = f"${amount:,.2f}"
    return {
        "currency": CURRENCY,
        "price": amount,
        "discountedPrice": amount,
        "formatted": {"price": text, "discountedPrice": text},
    }


def variant_sku(variant: VariantState) -> str:
    """The SKU a V1 variant object shows: empty when the SKU lives on the product."""
    return variant.sku if variant.product.manage_variants else ""


def _inventory_status(product: ProductState) -> tuple[bool, str]:
    in_stock = [v.reported_in_stock for v in product.variants]
    if all(in_stock):
        return True, "IN_STOCK"
    if any(in_stock):
        return True, "PARTIALLY_OUT_OF_STOCK"
    return False, "OUT_OF_STOCK"


def product_dict(product: ProductState) -> dict[str, Any]:
    """A V1 ``Product`` without ``variants`` (``product_json`` appends them)."""
    in_stock, status = _inventory_status(product)
    stock: dict[str, Any] = {"trackInventory": product.track, "inStock": in_stock,
                             "inventoryStatus": status}
    if product.track:
        stock["quantity"] = sum(v.quantity for v in product.variants)
    prices = [v.price for v in product.variants]
    return {
        "id": product.id,
        "name": product.name,
        "slug": product.slug,
        "visible": product.visible,
        "productType": "physical",
        "description": product.description,
        "sku": product.sku,
        "weight": 0,
        "stock": stock,
        "price": price(product.price),
        "priceData": price(product.price),
        "priceRange": {"minValue": min(prices), "maxValue": max(prices)},
        "manageVariants": product.manage_variants,
        "productOptions": [_option(product, i) for i in range(len(product.options))],
        "productPageUrl": {"base": STORE_URL, "path": f"/product-page/{product.slug}"},
        "numericId": str(product.numeric_id),
        "inventoryItemId": product.inventory_item_id,
        "collectionIds": [],
        "ribbon": "",
        "media": {"items": []},
        "customTextFields": [],
        "lastUpdated": product.updated,
        "createdDate": product.created,
    }


def product_json(product: ProductState, *, include_variants: bool) -> str:
    """A V1 ``Product`` as JSON text, with ``variants`` when asked.

    The product part is cached until the product's next write, each variant's part until
    that variant's stock changes, so a page is mostly string joins even under writes.
    """
    bare = product.cache.get("v1")
    if bare is None:
        bare = product.cache["v1"] = dumps(product_dict(product))
    assert isinstance(bare, str)
    if not include_variants:
        return bare
    full = product.cache.get("v1+variants")
    if full is None:
        variants = ",".join(variant_json(v) for v in product.variants)
        full = product.cache["v1+variants"] = f'{bare[:-1]},"variants":[{variants}]}}'
    assert isinstance(full, str)
    return full


def product_json_without_stock(product: ProductState) -> str:
    """A V1 ``Product`` with ``variants`` that carry no ``stock`` (not cached)."""
    variants = []
    for variant in product.variants:
        data = variant_dict(variant)
        del data["stock"]
        variants.append(data)
    return dumps({**product_dict(product), "variants": variants})


def _option(product: ProductState, index: int) -> dict[str, Any]:
    option = product.options[index]
    in_stock: dict[str, bool] = {}
    for variant in product.variants:
        value = variant.choices[index][1]
        in_stock[value] = in_stock.get(value, False) or variant.reported_in_stock
    return {
        "optionType": "color" if option.kind == "color" else "drop_down",
        "name": option.name,
        "choices": [
            {"value": c, "description": c, "inStock": in_stock.get(c, False), "visible": True}
            for c in option.choices
        ],
    }


def variant_stock(variant: VariantState) -> dict[str, Any]:
    """A V1 ``VariantStock``: ``quantity`` only while the product is tracked."""
    stock: dict[str, Any] = {"trackQuantity": variant.product.track,
                             "inStock": variant.reported_in_stock}
    if variant.product.track:
        stock["quantity"] = variant.quantity
    return stock


def variant_dict(variant: VariantState) -> dict[str, Any]:
    """A V1 ``Variant`` as Query Products returns it (with stock)."""
    return {
        "id": variant.id,
        "choices": dict(variant.choices),
        "variant": {
            "priceData": price(variant.price),
            "convertedPriceData": price(variant.price),
            "weight": 0,
            "sku": variant_sku(variant),
            "visible": variant.visible,
        },
        "stock": variant_stock(variant),
    }


def variant_json(variant: VariantState) -> str:
    """``variant_dict`` as JSON text, cached on the variant until its stock changes.

    Written by hand (with C-accelerated string quoting) because building every variant of
    a cold 100-product page through ``json.dumps`` dominated Query Products' cost.
    """
    if variant.json is None:
        choices = ",".join(f"{_quote(k)}:{_quote(v)}" for k, v in variant.choices)
        prices = _price_json(variant.price)
        stock = variant_stock(variant)
        stock_json = (f'{{"trackQuantity":{_bool(stock["trackQuantity"])},'
                      f'"inStock":{_bool(stock["inStock"])}'
                      + (f',"quantity":{stock["quantity"]}}}' if "quantity" in stock else "}"))
        variant.json = (
            f'{{"id":{_quote(variant.id)},"choices":{{{choices}}},"variant":{{'
            f'"priceData":{prices},"convertedPriceData":{prices},"weight":0,'
            f'"sku":{_quote(variant_sku(variant))},"visible":{_bool(variant.visible)}}},'
            f'"stock":{stock_json}}}'
        )
    return variant.json


def _bool(value: bool) -> str:
    return "true" if value else "false"


@functools.lru_cache(maxsize=4096)
def _price_json(amount: float) -> str:
    return dumps(price(amount))


def product_variant_dict(variant: VariantState) -> dict[str, Any]:
    """A variant as Query Product Variants returns it: the seed's shape, no stock."""
    return {
        "id": variant.id,
        "choices": dict(variant.choices),
        "variant": {
            "price": price(variant.price),
            "priceData": price(variant.price),
            "weight": 0,
            "sku": variant_sku(variant),
            "visible": variant.visible,
        },
    }


def variant_name(variant: VariantState) -> str:
    """``"M / Red"`` style name of a variant ("" for the default variant)."""
    return " / ".join(value for _, value in variant.choices)


def store_variant_dict(variant: VariantState) -> dict[str, Any]:
    """A ``StoreVariant`` (Query Store Variants, Get Store Variant)."""
    product = variant.product
    return {
        "id": f"{product.id}-{variant.id}",
        "variantId": variant.id,
        "productId": product.id,
        "variantName": variant_name(variant),
        "productName": product.name,
        "managedVariant": product.manage_variants,
        "sku": variant.sku,
        "stock": variant_stock(variant),
        "choices": dict(variant.choices),
        "collectionIds": [],
        "media": {},
        "preorderInfo": {"enabled": False, "message": "", "limit": PREORDER_LIMIT},
        "customFields": {},
    }


def inventory_item_dict(
    product: ProductState, *, variant_ids: frozenset[str] | None = None
) -> dict[str, Any]:
    """An ``InventoryItemV2``; ``variant_ids`` limits the variants listed."""
    return {
        "id": product.inventory_item_id,
        "externalId": product.id,
        "productId": product.id,
        "trackQuantity": product.track,
        "variants": [
            {
                "variantId": v.id,
                "inStock": v.reported_in_stock,
                "quantity": v.quantity,
                "availableForPreorder": False,
            }
            for v in product.variants
            if variant_ids is None or v.id in variant_ids
        ],
        "lastUpdated": product.updated,
        "numericId": str(product.numeric_id),
        "preorderInfo": {"enabled": False, "message": "", "limit": PREORDER_LIMIT},
    }


def seed_item_dict(product: ProductState) -> dict[str, Any]:
    """The seed's old inventory item (``trackInventory`` spelling)."""
    return {"id": product.inventory_item_id, "externalId": product.id,
            "trackInventory": product.track}


def seed_variant_dict(variant: VariantState) -> dict[str, Any]:
    """The seed's old inventory variant; quantity only when the product is tracked."""
    data: dict[str, Any] = {
        "itemId": variant.product.inventory_item_id,
        "variantId": variant.id,
        "inStock": variant.reported_in_stock,
    }
    if variant.product.track:
        data["quantity"] = variant.quantity
    return data
