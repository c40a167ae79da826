"""Stock writes on a Catalog V1 store (Inventory V2, plus the seed's older endpoints).

Every write here sets an absolute value, so a retry after a lost answer is harmless and the
client may retry it. V1 writes carry no revision: a write based on a stale read overwrites
sales made since (the contract's gotcha 12), which is why the caller re-reads first when it
matters. None of these answers echo the stored state; verify with a later read.

- ``update_inventory_variants``: Update Inventory Variants, all changed variants of one
  product in one call. ``trackQuantity`` is always sent because Wix takes a missing flag as
  ``false`` for the whole product.
- ``set_variant_stock_seed`` (S6) and ``set_tracking_seed`` (S3): the seed's per-variant
  PATCH and its tracking toggle on ``/stores/v1/inventoryItems``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import quote

from syncd.base.model import MAX_QUANTITY
from syncd.edges.wix.client import CallCounter, JSONObject, WixClient


@dataclass(frozen=True, slots=True)
class VariantStock:
    """The absolute stock one V1 variant should have: a quantity (tracked) or a status."""

    variant_id: str
    quantity: int | None = None
    in_stock: bool | None = None


async def update_inventory_variants(
    client: WixClient,
    product_id: str,
    *,
    track_quantity: bool,
    variants: Sequence[VariantStock],
    counter: CallCounter | None = None,
) -> None:
    """Set the stock of several variants of one product in one call.

    ``track_quantity=True`` needs a ``quantity`` (0..99999) on every variant;
    ``False`` needs ``in_stock``. Raises ``ValueError`` for a body Wix would misread and a
    ``WixError`` subclass when Wix refuses (``WixNotFound`` for an unknown product).
    """
    if not variants:
        raise ValueError(f"product {product_id}: no variants to update")
    body = [_variant_body(v, track_quantity=track_quantity) for v in variants]
    await client.request(
        "PATCH",
        f"/stores/v2/inventoryItems/product/{quote(product_id, safe='')}",
        endpoint="v2.inventory.update_variants",
        body={
            "inventoryItem": {
                "productId": product_id,
                "trackQuantity": track_quantity,
                "variants": body,
            }
        },
        counter=counter,
    )


async def set_variant_stock_seed(
    client: WixClient,
    inventory_item_id: str,
    variant_id: str,
    *,
    quantity: int | None = None,
    in_stock: bool | None = None,
    counter: CallCounter | None = None,
) -> None:
    """S6: set one variant's quantity (tracked product) or in-stock flag (untracked)."""
    if (quantity is None) == (in_stock is None):
        raise ValueError("give exactly one of quantity and in_stock")
    variant: JSONObject = (
        {"quantity": _checked_quantity(quantity)} if quantity is not None else {"inStock": in_stock}
    )
    await client.request(
        "PATCH",
        f"/stores/v1/inventoryItems/{quote(inventory_item_id, safe='')}"
        f"/variant/{quote(variant_id, safe='')}",
        endpoint="seed.variant.update",
        body={"variant": variant},
        counter=counter,
    )


async def set_tracking_seed(
    client: WixClient,
    inventory_item_id: str,
    *,
    track: bool,
    counter: CallCounter | None = None,
) -> None:
    """S3: switch quantity tracking of a whole product's inventory item on or off."""
    await client.request(
        "PATCH",
        f"/stores/v1/inventoryItems/{quote(inventory_item_id, safe='')}",
        endpoint="seed.item.update",
        body={"item": {"trackInventory": track}},
        counter=counter,
    )


def _variant_body(stock: VariantStock, *, track_quantity: bool) -> JSONObject:
    if track_quantity:
        if stock.quantity is None:
            raise ValueError(f"variant {stock.variant_id}: a tracked write needs a quantity")
        return {"variantId": stock.variant_id, "quantity": _checked_quantity(stock.quantity)}
    if stock.in_stock is None or stock.quantity is not None:
        raise ValueError(f"variant {stock.variant_id}: an untracked write needs in_stock only")
    return {"variantId": stock.variant_id, "inStock": stock.in_stock}


def _checked_quantity(quantity: int) -> int:
    if not 0 <= quantity <= MAX_QUANTITY:
        raise ValueError(f"quantity {quantity} outside 0..{MAX_QUANTITY}")
    return quantity
