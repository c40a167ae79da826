"""Which fields each query endpoint can filter and sort on, and how to read them.

The tables follow the contract (§4 for V1 Query Products, §7 for V3); where Wix documents
nothing (Query Inventory beyond numericId, Store Variants) the emulator declares a small,
plausible set. Anything else is a 400, so a client cannot come to rely on a field Wix might
not filter on.
"""

from __future__ import annotations

from syncd_emulator.query import (
    COMPARE_OPS,
    V1_ID_OPS,
    V1_LIST_OPS,
    V1_RANGE_OPS,
    V1_TEXT_OPS,
    V3_LIST_OPS,
    V3_OPS,
    V3_TEXT_OPS,
    Field,
    Resolver,
    resolver,
)
from syncd_emulator.store import ItemState, ProductState, VariantState
from syncd_emulator.views_v1 import variant_name
from syncd_emulator.views_v3 import availability


def _v1_inventory_status(p: ProductState) -> str:
    flags = [v.reported_in_stock for v in p.variants]
    return "IN_STOCK" if all(flags) else "PARTIALLY_OUT_OF_STOCK" if any(flags) else "OUT_OF_STOCK"


V1_PRODUCT_FIELDS: dict[str, Field[ProductState]] = {
    "name": Field(lambda p: p.name, "str", V1_TEXT_OPS, sortable=True),
    "sku": Field(lambda p: p.sku, "str", V1_TEXT_OPS, sortable=True),
    "slug": Field(lambda p: p.slug, "str", V1_TEXT_OPS, sortable=True),
    "description": Field(lambda p: p.description, "str", V1_TEXT_OPS),
    "id": Field(lambda p: p.id, "str", V1_ID_OPS, sortable=True),
    "price": Field(lambda p: p.price, "float", V1_RANGE_OPS, sortable=True),
    "numericId": Field(lambda p: p.numeric_id, "int", V1_RANGE_OPS, sortable=True),
    "lastUpdated": Field(lambda p: p.updated, "str", V1_RANGE_OPS, sortable=True),
    "createdDate": Field(lambda p: p.created, "str", V1_RANGE_OPS, sortable=True),
    "productType": Field(lambda p: "physical", "str", V1_ID_OPS, sortable=True),
    "collections.id": Field(lambda p: (), "list", V1_LIST_OPS),
    "inventoryStatus": Field(_v1_inventory_status, "str", V1_ID_OPS),
    # Not in Wix's table, but the SDK documents {"visible": false} filters (gotcha 4).
    "visible": Field(lambda p: p.visible, "bool", frozenset({"$eq", "$ne"})),
}


def v1_product_fields(name: str) -> Field[ProductState] | None:
    """Query Products fields, including ``options.<option name>``."""
    spec = V1_PRODUCT_FIELDS.get(name)
    if spec is None and name.startswith("options.") and len(name) > len("options."):
        option = name[len("options."):]
        return Field(lambda p: _choice_values(p, option), "list", V1_LIST_OPS)
    return spec


def _choice_values(product: ProductState, option: str) -> tuple[str, ...]:
    for o in product.options:
        if o.name == option:
            return o.choices
    return ()


V2_INVENTORY_FIELDS: Resolver[ProductState] = resolver({
    "numericId": Field(lambda p: p.numeric_id, "int", V1_RANGE_OPS, sortable=True),
    "id": Field(lambda p: p.inventory_item_id, "str", V1_ID_OPS, sortable=True),
    "productId": Field(lambda p: p.id, "str", V1_ID_OPS, sortable=True),
    "externalId": Field(lambda p: p.id, "str", V1_ID_OPS),
    "trackQuantity": Field(lambda p: p.track, "bool", frozenset({"$eq", "$ne"})),
    "lastUpdated": Field(lambda p: p.updated, "str", V1_RANGE_OPS, sortable=True),
})

STORE_VARIANT_FIELDS: Resolver[VariantState] = resolver({
    "id": Field(lambda v: f"{v.product.id}-{v.id}", "str", V3_OPS, sortable=True),
    "productId": Field(lambda v: v.product.id, "str", V3_OPS, sortable=True),
    "variantId": Field(lambda v: v.id, "str", V3_OPS, sortable=True),
    "sku": Field(lambda v: v.sku, "str", V3_TEXT_OPS, sortable=True),
    "productName": Field(lambda v: v.product.name, "str", V3_TEXT_OPS, sortable=True),
    "variantName": Field(variant_name, "str", V3_TEXT_OPS, sortable=True),
    "managedVariant": Field(lambda v: v.product.manage_variants, "bool", V3_OPS),
    "stock.trackQuantity": Field(lambda v: v.product.track, "bool", V3_OPS),
    "stock.inStock": Field(lambda v: v.reported_in_stock, "bool", V3_OPS),
    "stock.quantity": Field(lambda v: v.quantity if v.product.track else None, "int", V3_OPS,
                            sortable=True),
})

V3_PRODUCT_FIELDS: Resolver[ProductState] = resolver({
    "id": Field(lambda p: p.id, "str", V3_OPS, sortable=True),
    "handle": Field(lambda p: p.slug, "str", V3_TEXT_OPS, sortable=True),
    "slug": Field(lambda p: p.slug, "str", V3_TEXT_OPS, sortable=True),
    "createdDate": Field(lambda p: p.created, "str", V3_OPS, sortable=True),
    "updatedDate": Field(lambda p: p.created, "str", V3_OPS, sortable=True),
    "visible": Field(lambda p: p.visible, "bool", V3_OPS, sortable=True),
    "options.id": Field(lambda p: (), "list", V3_LIST_OPS),
})

V3_READONLY_VARIANT_FIELDS: Resolver[VariantState] = resolver({
    "id": Field(lambda v: v.id, "str", V3_OPS, sortable=True),
    "variantId": Field(lambda v: v.id, "str", V3_OPS, sortable=True),
    "productData.productId": Field(lambda v: v.product.id, "str", V3_OPS, sortable=True),
})

_ITEM_ID_OPS = frozenset({"$eq", "$ne", "$in", "$nin", "$hasSome", "$exists"})

V3_INVENTORY_FIELDS: Resolver[ItemState] = resolver({
    # Filter only: identifiers.
    "id": Field(lambda i: i.id, "str", _ITEM_ID_OPS | COMPARE_OPS),
    "variantId": Field(lambda i: i.variant.id, "str", _ITEM_ID_OPS | COMPARE_OPS),
    "locationId": Field(lambda i: i.location_id, "str", _ITEM_ID_OPS | COMPARE_OPS),
    "product.directCategoryIds": Field(lambda i: (), "list", V3_LIST_OPS),
    # Filterable and sortable.
    "productId": Field(lambda i: i.product.id, "str", V3_OPS, sortable=True),
    "product.variantSku": Field(lambda i: i.variant.sku, "str", V3_TEXT_OPS, sortable=True),
    "product.name": Field(lambda i: i.product.name, "str", V3_TEXT_OPS, sortable=True),
    "product.variantName": Field(lambda i: variant_name(i.variant), "str", V3_TEXT_OPS,
                                 sortable=True),
    "product.variantBarcode": Field(lambda i: "", "str", V3_TEXT_OPS, sortable=True),
    "product.brand.id": Field(lambda i: None, "str", V3_OPS, sortable=True),
    "quantity": Field(lambda i: i.quantity if i.track else None, "int", V3_OPS, sortable=True),
    "trackQuantity": Field(lambda i: i.track, "bool", V3_OPS, sortable=True),
    "inStock": Field(lambda i: i.reported_in_stock, "bool", V3_OPS, sortable=True),
    "availabilityStatus": Field(availability, "str", V3_OPS, sortable=True),
    "preorderInfo.enabled": Field(lambda i: False, "bool", V3_OPS, sortable=True),
    "createdDate": Field(lambda i: i.created, "str", V3_OPS, sortable=True),
    "updatedDate": Field(lambda i: i.updated, "str", V3_OPS, sortable=True),
})
