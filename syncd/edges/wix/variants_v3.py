"""Every variant of a Catalog V3 store, whether or not it has an inventory item.

The sync walk reads inventory items only (``walk_v3``): a variant without an item is
invisible to it, and so is a hidden product unless the extra visibility pass is on. Query
Variants (read-only variants, up to 1000 per page) lists every variant with its product's
visibility, at ceil(V/1000) calls, but carries no quantity and is eventually consistent
with the Products API. ``syncd lint`` reads it to find variants a sync cannot write; the
sync itself never does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from syncd.base.model import CatalogVariant
from syncd.edges.wix.answers import V3VariantsPage
from syncd.edges.wix.client import CallCounter, WixClient
from syncd.edges.wix.cursor_v3 import read_cursor_query

QUERY_VARIANTS = "/stores/v3/products/query-variants"
PAGE_SIZE = 1000




def catalog_variant(data: Mapping[str, Any]) -> CatalogVariant:
    """One ``ReadOnlyVariant`` (pure)."""
    product = data.get("productData")
    if not isinstance(product, dict):
        product = {}
    return CatalogVariant(
        product_id=str(product.get("productId") or ""),
        variant_id=str(data.get("variantId") or data.get("id") or ""),
        sku=str(data.get("sku") or ""),
        product_name=str(product.get("name") or ""),
        product_visible=product.get("visible") is not False,
    )


async def read_catalog_variants(client: WixClient) -> tuple[list[CatalogVariant], int]:
    """Every variant of the store and the number of calls it took."""
    counter = CallCounter()
    rows = await read_cursor_query(client, path=QUERY_VARIANTS,
                                   endpoint="v3.products.query_variants",
                                   answer=V3VariantsPage,
                                   query_filter=None, page_size=PAGE_SIZE, counter=counter,
                                   key=_variant_key)
    return [catalog_variant(v) for v in rows], counter.total


def _variant_key(row: Mapping[str, Any]) -> str:
    # ``id`` alone is deprecated and not unique; the variant id within its product is.
    product = row.get("productData")
    product_id = product.get("productId") if isinstance(product, dict) else None
    return f"{product_id}/{row.get('variantId') or row.get('id')}"
