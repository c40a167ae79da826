"""The seed walkthrough's per-product read flow, for refreshing a few named V1 products.

Per product: Get Product (S1) for its ``inventoryItemId``, the inventory item (S2) for the
tracking flag, the product's variants (S4), and each variant's stock (S5): about 3 + V calls
per product, against one call per 100 products for ``V1Reader.refresh``. It exists because
it reads each variant's stock through the same inventory resource the seed writes (S6), so a
verification read can follow exactly the path of the write. The calls of one product run
concurrently (S2 and S4 together, then every S5), all under the site's budget.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import quote

from syncd.base.errors import WixNotFound
from syncd.base.model import Catalog, StoreSnapshot, StoreVariant
from syncd.edges.config.client import WalkSettings
from syncd.edges.wix.answers import V1ProductAnswer, V1Variant, V1VariantStock, V1VariantStockAnswer
from syncd.edges.wix.client import CallCounter, JSONObject, WixClient
from syncd.edges.wix.parse_v1 import seed_variant
from syncd.edges.wix.pipeline import Emit, run_pipeline
from syncd.edges.wix.product_variants import read_product_variants
from syncd.edges.wix.tasks import task_group

VARIANT_PAGE = 100


class SeedReader:
    """Refresh named V1 products with the seed's S1/S2/S4/S5 calls."""

    def __init__(self, client: WixClient, settings: WalkSettings) -> None:
        self._client = client
        self._settings = settings

    async def refresh(self, product_ids: Sequence[str]) -> StoreSnapshot:
        """Current variants of the named products; products that no longer exist are left out."""
        counter = CallCounter()

        async def produce(emit: Emit[str]) -> None:
            for product_id in dict.fromkeys(product_ids):
                await emit(product_id)

        async def resolve(product_id: str) -> list[StoreVariant]:
            return await self._product(product_id, counter)

        variants = await run_pipeline(
            produce,
            resolve,
            workers=self._settings.workers,
            queue_size=self._settings.queue_size,
            name=f"wix v1 seed refresh site={self._client.site_id}",
        )
        return StoreSnapshot(Catalog.V1, tuple(variants), api_calls=counter.total)

    async def _product(self, product_id: str, counter: CallCounter) -> list[StoreVariant]:
        try:
            data = await self._client.request_as(
                V1ProductAnswer, "GET", f"/stores/v1/products/{_q(product_id)}",
                endpoint="seed.product.get", counter=counter)
        except WixNotFound:
            return []
        product = data.product
        if product is None:
            return []
        item_id = product.inventoryItemId or ""
        async with task_group() as group:
            item_task = group.create_task(
                self._get(f"/stores/v1/inventoryItems/{_q(item_id)}", "seed.item.get", counter),
                name=f"seed item product={product_id}",
            )
            variants_task = group.create_task(
                self._variants(product_id, counter), name=f"seed variants product={product_id}"
            )
        item = item_task.result().get("item")
        tracked = bool(item.get("trackInventory", False)) if isinstance(item, dict) else False
        variants = variants_task.result()
        async with task_group() as group:
            stock_tasks = [
                group.create_task(
                    self._variant_stock(item_id, v.id or "", counter),
                    name=f"seed stock product={product_id} variant={v.id}",
                )
                for v in variants
            ]
        return [
            seed_variant(product, variant, tracked=tracked, stock=task.result())
            for variant, task in zip(variants, stock_tasks, strict=True)
        ]

    async def _variants(self, product_id: str, counter: CallCounter) -> list[V1Variant]:
        return await read_product_variants(
            self._client, path=f"/stores/v1/products/{_q(product_id)}/variants/query",
            endpoint="seed.variants.query", page_size=VARIANT_PAGE, counter=counter)

    async def _variant_stock(
        self, item_id: str, variant_id: str, counter: CallCounter
    ) -> V1VariantStock:
        data = await self._client.request_as(
            V1VariantStockAnswer, "GET",
            f"/stores/v1/inventoryItems/{_q(item_id)}/variant/{_q(variant_id)}",
            endpoint="seed.variant.get", counter=counter)
        return data.variant or V1VariantStock()

    async def _get(self, path: str, endpoint: str, counter: CallCounter) -> JSONObject:
        return await self._client.request("GET", path, endpoint=endpoint, counter=counter)


def _q(segment: str) -> str:
    return quote(segment, safe="")
