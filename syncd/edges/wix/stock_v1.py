"""Stock for V1 products whose Query Products page did not carry it.

That ``variants[].stock`` is filled in Query Products is unconfirmed (contract §4.2). When
it is missing the stock must come from Inventory V2, in the cheaper of two ways:

- Get Inventory Variants, one call per such product (a handful of products, a refresh);
- a numericId crawl of Query Inventory, ceil(I/100) calls for the whole store (I = inventory
  items, one per product), when more products lack stock than that crawl costs. Whether
  Query Inventory lists hidden products is unconfirmed too: a product it does not list gets
  its own Get Inventory Variants call.

A 404 on a product's own call usually means the product was deleted after its page was
read, but a 404 is also what a wrong route or a retired endpoint answers. So a 404 is
checked with one Query Products call for that id: if the product is still there, the walk
fails with an error that says so instead of silently dropping the product.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from urllib.parse import quote

import structlog

from syncd.base.errors import WixError, WixNotFound
from syncd.base.model import StoreVariant
from syncd.edges.wix.answers import (
    V1Product,
    V1ProductsPage,
    V1Variant,
    V2InventoryAnswer,
    V2InventoryItem,
    V2InventoryPage,
)
from syncd.edges.wix.client import CallCounter, WixClient
from syncd.edges.wix.crawl_v1 import PAGE_SIZE, CrawlTarget, NumericIdCrawl, OffsetLimit
from syncd.edges.wix.parse_v1 import product_variants
from syncd.edges.wix.product_variants import read_product_variants
from syncd.edges.wix.tasks import task_group

QUERY_PRODUCTS = "/stores-reader/v1/products/query"
QUERY_INVENTORY: CrawlTarget[V2InventoryItem] = CrawlTarget(
    path="/stores-reader/v2/inventoryItems/query", endpoint="v2.inventory.query",
    answer=V2InventoryPage, body={})


def crawl_cost(store_products: int) -> int:
    """Calls of one Query Inventory crawl of a store of ``store_products`` products."""
    return math.ceil(store_products / PAGE_SIZE) + 1


class StockResolver:
    """Fills in the stock of products whose page lacked it (see the module docstring)."""

    def __init__(
        self, client: WixClient, *, counter: CallCounter, offsets: OffsetLimit, workers: int,
        parallel: bool, log: structlog.typing.FilteringBoundLogger,
    ) -> None:
        self._client = client
        self._counter = counter
        self._offsets = offsets
        self._workers = workers
        self._parallel = parallel
        self._log = log

    async def resolve(
        self, products: Sequence[V1Product], *, store_products: int | None
    ) -> list[StoreVariant]:
        """Variants of ``products`` with their stock; ``store_products`` is how many the
        whole store holds (None: unknown, never crawl the inventory)."""
        if not products:
            return []
        inventory: dict[str, V2InventoryItem] = {}
        crawl_calls = crawl_cost(store_products or 0)
        if store_products is not None and len(products) > crawl_calls:
            self._log.warning("wix_walk_stock_missing", products=len(products),
                              fallback="query_inventory", extra_calls=crawl_calls)
            inventory = await self._crawl_inventory()
        elif store_products is not None:
            self._log.warning("wix_walk_stock_missing", products=len(products),
                              fallback="get_inventory_variants", extra_calls=len(products))
        results: list[list[StoreVariant]] = [[] for _ in products]
        queue = list(enumerate(products))

        async def worker() -> None:
            while queue:
                index, product = queue.pop()
                results[index] = await self._one(product, inventory)

        async with task_group() as group:
            for number in range(min(self._workers, len(products))):
                group.create_task(worker(), name=f"wix v1 stock worker {number}")
        return [v for rows in results for v in rows]

    async def _crawl_inventory(self) -> dict[str, V2InventoryItem]:
        items: dict[str, V2InventoryItem] = {}

        async def keep(item: V2InventoryItem) -> None:
            product_id = item.productId or item.externalId or ""
            if product_id:
                items[product_id] = item

        await NumericIdCrawl(self._client, QUERY_INVENTORY, counter=self._counter,
                             offsets=self._offsets, parallel=self._parallel,
                             log=self._log).run(keep)
        return items

    async def _one(
        self, product: V1Product, inventory: Mapping[str, V2InventoryItem]
    ) -> list[StoreVariant]:
        product_id = product.id or ""
        variants = product.variants or None
        item = inventory.get(product_id)
        try:
            if variants is None:
                variants = await self._product_variants(product_id)
            if item is None:
                item = await self._inventory(product)
        except WixNotFound as exc:
            await self._confirm_vanished(product_id, exc)
            return []
        return product_variants(product, variants=variants, inventory=item)

    async def _confirm_vanished(self, product_id: str, exc: WixNotFound) -> None:
        """Raise unless the product really is gone (a 404 may be a wrong route)."""
        data = await self._client.request_as(
            V1ProductsPage, "POST", QUERY_PRODUCTS, endpoint="v1.products.query",
            body={"query": {"filter": json.dumps({"id": {"$hasSome": [product_id]}}),
                            "paging": {"limit": 1, "offset": 0}},
                  "includeHiddenProducts": True},
            counter=self._counter,
        )
        if data.records:
            raise WixError(
                f"{exc.endpoint}: HTTP 404 for product {product_id}, which still exists: the "
                "route is wrong or the key lacks a permission, not a deleted product "
                f"({exc})", status=404, code=exc.code, endpoint=exc.endpoint) from exc
        self._log.info("wix_walk_product_vanished", product_id=product_id)

    async def _product_variants(self, product_id: str) -> list[V1Variant]:
        return await read_product_variants(
            self._client,
            path=f"/stores-reader/v1/products/{quote(product_id, safe='')}/variants/query",
            endpoint="v1.product_variants.query", page_size=PAGE_SIZE, counter=self._counter)

    async def _inventory(self, product: V1Product) -> V2InventoryItem:
        item_id = product.inventoryItemId or ""
        if not item_id:
            raise WixError(f"product {product.id} has no inventoryItemId")
        return await get_inventory_variants(self._client, item_id, counter=self._counter)


async def get_inventory_variants(client: WixClient, item_id: str, *,
                                 counter: CallCounter | None = None) -> V2InventoryItem:
    """Get Inventory Variants (V2) of one inventory item: its ``trackQuantity`` and, per
    variant, the stock the item holds (a quantity even while untracked, where Wix shows it)."""
    data = await client.request_as(
        V2InventoryAnswer,
        "POST",
        f"/stores-reader/v2/inventoryItems/{quote(item_id, safe='')}/getVariants",
        endpoint="v2.inventory.get_variants",
        body={"inventoryId": item_id},
        counter=counter,
    )
    return data.inventoryItem or V2InventoryItem()
