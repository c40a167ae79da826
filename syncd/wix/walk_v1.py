"""Read every variant of a Catalog V1 store (or a few named products) in the fewest calls.

One Query Products call (``includeVariants``, ``includeHiddenProducts``, limit 100) returns
100 products with their variants, SKUs and, in practice, stock, so a whole store costs
ceil(P/100) calls. Offset paging is unreliable past 10,000 products, so the walk crawls by
``numericId``: sort ascending, filter ``numericId > last``. Each answer's ``totalResults``
says how many products are left, which ends the crawl without asking for an empty page.

Latency. A numericId crawl is sequential: page n+1's filter needs page n's last id, so with 300
ms per answer 120 pages take 36 s although the budget would allow them at once. Wix gives no
way to split the numericId range evenly (ids are sparse and ``totalResults`` cannot be had for
an arbitrary range without spending calls). What does work: once the first page of a window has
said ``totalResults = T``, the other pages of that window (offsets 100, 200, ... below the
10,000 offset limit) are known and are fetched concurrently with the same filter. That costs no
extra call. Measured on the emulator with 300 ms latency and 12,000 products
(``tests/bench/bench_walk.py``): 121 calls either way, 10.5 s with windows against 47 s for the
sequential crawl; the first page of each 10,000-product window stays sequential. Offsets shift
if products are created or deleted during those few requests, so the window is only accepted if
every page reports the same ``T``, every page is as full as ``T`` implies and numericIds
strictly increase across pages; otherwise its pages are dropped and the window is crawled
sequentially (correct, slower, a few calls more). A simultaneous deletion and creation inside
one window that leave ``T`` unchanged cannot be detected this way; the next cycle's walk sees
the store as it then is.

Products whose page lacks stock for some variant (the contract marks ``stock`` in this answer
as unconfirmed) are resolved by the workers with Get Inventory Variants (one call per such
product), concurrently with the crawl. Products with no ``variants`` at all also get Query
Product Variants.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from syncd.config.client import WalkSettings
from syncd.errors import WixError, WixNotFound
from syncd.model import Catalog, StoreSnapshot, StoreVariant
from syncd.wix.http import CallCounter, JSONObject, WixClient
from syncd.wix.parse_v1 import product_variants, variants_need_inventory
from syncd.wix.pipeline import Emit, run_pipeline
from syncd.wix.tasks import task_group

PAGE_SIZE = 100
"""Query Products maximum page size (``@max 100``)."""

MAX_OFFSET = 10_000
"""Offsets at or past this fail on Wix's query endpoints; windows stop short of it."""

QUERY_PRODUCTS = "/stores-reader/v1/products/query"


@dataclass(frozen=True, slots=True)
class _Page:
    products: list[JSONObject]
    total: int | None


class V1Reader:
    """Read operations on a V1 store; each public call counts its own requests."""

    def __init__(self, client: WixClient, settings: WalkSettings) -> None:
        self._client = client
        self._settings = settings
        self._log = client.log.bind(catalog="v1")

    async def walk(self) -> StoreSnapshot:
        """Every variant of every product, hidden ones included."""
        counter = CallCounter()
        variants = await self._pipeline(lambda emit: self._crawl(emit, counter), counter, "walk")
        self._log.info("wix_walk_done", variants=len(variants), api_calls=counter.total)
        return StoreSnapshot(Catalog.V1, tuple(variants), api_calls=counter.total)

    async def refresh(self, product_ids: Sequence[str]) -> StoreSnapshot:
        """The current variants of the named products (missing products are left out)."""
        counter = CallCounter()
        ids = list(dict.fromkeys(product_ids))

        async def produce(emit: Emit[JSONObject]) -> None:
            for start in range(0, len(ids), self._settings.refresh_chunk):
                chunk = ids[start : start + self._settings.refresh_chunk]
                await self._query_ids(chunk, emit, counter)

        variants = await self._pipeline(produce, counter, "refresh")
        return StoreSnapshot(Catalog.V1, tuple(variants), api_calls=counter.total)

    async def _pipeline(
        self,
        produce: Callable[[Emit[JSONObject]], Awaitable[None]],
        counter: CallCounter,
        what: str,
    ) -> list[StoreVariant]:
        seen: set[str] = set()

        async def unique(emit: Emit[JSONObject]) -> None:
            async def emit_once(product: JSONObject) -> None:
                product_id = str(product.get("id") or "")
                if product_id not in seen:
                    seen.add(product_id)
                    await emit(product)

            await produce(emit_once)

        async def resolve(product: JSONObject) -> list[StoreVariant]:
            return await self._resolve(product, counter)

        return await run_pipeline(
            unique,
            resolve,
            workers=self._settings.workers,
            queue_size=self._settings.queue_size,
            name=f"wix v1 {what} site={self._client.site_id}",
        )

    async def _crawl(self, emit: Emit[JSONObject], counter: CallCounter) -> None:
        last_id: str | None = None
        while True:
            first = await self._query_page(last_id, 0, counter)
            window = [first]
            wanted = first.total
            if (
                self._settings.parallel_pages
                and wanted is not None
                and wanted > len(first.products) == PAGE_SIZE
            ):
                rest = await self._fetch_window_rest(last_id, wanted, counter)
                if _window_is_consistent([first, *rest], wanted):
                    window.extend(rest)
                else:
                    self._log.warning("wix_walk_window_moved", after_numeric_id=last_id)
            for page in window:
                for product in page.products:
                    await emit(product)
            got = sum(len(page.products) for page in window)
            # A full last page ends the crawl only when totalResults says exactly this many
            # were left; a count below what we hold is evidently wrong and is not trusted.
            if len(window[-1].products) < PAGE_SIZE or got == wanted:
                return
            last_id = _numeric_id(window[-1].products[-1])

    async def _fetch_window_rest(
        self, last_id: str | None, wanted: int, counter: CallCounter
    ) -> list[_Page]:
        pages = min(math.ceil(wanted / PAGE_SIZE), MAX_OFFSET // PAGE_SIZE)
        offsets = range(PAGE_SIZE, pages * PAGE_SIZE, PAGE_SIZE)
        return await _gather([self._query_page(last_id, o, counter) for o in offsets])

    async def _query_page(self, last_id: str | None, offset: int, counter: CallCounter) -> _Page:
        query: JSONObject = {
            "sort": json.dumps([{"numericId": "asc"}]),
            "paging": {"limit": PAGE_SIZE, "offset": offset},
        }
        if last_id is not None:
            query["filter"] = json.dumps({"numericId": {"$gt": last_id}})
        data = await self._client.request(
            "POST",
            QUERY_PRODUCTS,
            endpoint="v1.products.query",
            body={"query": query, "includeVariants": True, "includeHiddenProducts": True},
            counter=counter,
        )
        total = data.get("totalResults")
        return _Page(_objects(data.get("products")), total if isinstance(total, int) else None)

    async def _query_ids(
        self, ids: Sequence[str], emit: Emit[JSONObject], counter: CallCounter
    ) -> None:
        # Up to refresh_chunk (<= 100) ids per call fit one page; offsets page beyond that.
        offset = 0
        while True:
            query: JSONObject = {
                "filter": json.dumps({"id": {"$hasSome": list(ids)}}),
                "paging": {"limit": PAGE_SIZE, "offset": offset},
            }
            data = await self._client.request(
                "POST",
                QUERY_PRODUCTS,
                endpoint="v1.products.query",
                body={"query": query, "includeVariants": True, "includeHiddenProducts": True},
                counter=counter,
            )
            products = _objects(data.get("products"))
            for product in products:
                await emit(product)
            offset += len(products)
            if len(products) < PAGE_SIZE or offset >= len(ids):
                return

    async def _resolve(self, product: JSONObject, counter: CallCounter) -> list[StoreVariant]:
        if not variants_need_inventory(product):
            return product_variants(product)
        product_id = str(product.get("id") or "")
        variants = product.get("variants") or None
        try:
            if variants is None:
                variants = await self._product_variants(product_id, counter)
            inventory = await self._inventory(product, counter)
        except WixNotFound:
            # Deleted between its page and this call: it is no longer part of the store.
            self._log.info("wix_walk_product_vanished", product_id=product_id)
            return []
        return product_variants(product, variants=variants, inventory=inventory)

    async def _product_variants(self, product_id: str, counter: CallCounter) -> list[JSONObject]:
        found: list[JSONObject] = []
        while True:
            data = await self._client.request(
                "POST",
                f"/stores-reader/v1/products/{quote(product_id, safe='')}/variants/query",
                endpoint="v1.product_variants.query",
                body={"paging": {"limit": PAGE_SIZE, "offset": len(found)}},
                counter=counter,
            )
            page = _objects(data.get("variants"))
            found.extend(page)
            if len(page) < PAGE_SIZE:
                return found

    async def _inventory(self, product: JSONObject, counter: CallCounter) -> JSONObject:
        item_id = str(product.get("inventoryItemId") or "")
        if not item_id:
            raise WixError(f"product {product.get('id')} has no inventoryItemId")
        data = await self._client.request(
            "POST",
            f"/stores-reader/v2/inventoryItems/{quote(item_id, safe='')}/getVariants",
            endpoint="v2.inventory.get_variants",
            body={"inventoryId": item_id},
            counter=counter,
        )
        item = data.get("inventoryItem")
        return item if isinstance(item, dict) else {}


def _window_is_consistent(pages: Sequence[_Page], wanted: int) -> bool:
    """Did the products stay put while the window's pages were fetched concurrently?"""
    if any(page.total != wanted for page in pages):
        return False
    for number, page in enumerate(pages):
        expected = min(PAGE_SIZE, wanted - number * PAGE_SIZE)
        if len(page.products) != expected:
            return False
    try:
        ids = [int(_numeric_id(p)) for page in pages for p in page.products]
    except (WixError, ValueError):
        return False
    return all(a < b for a, b in itertools.pairwise(ids))


def _numeric_id(product: Mapping[str, Any]) -> str:
    value = product.get("numericId")
    if value is None or value == "":
        raise WixError(f"product {product.get('id')} has no numericId; cannot crawl past it")
    return str(value)


def _objects(value: Any) -> list[JSONObject]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


async def _gather(calls: Sequence[Coroutine[Any, Any, _Page]]) -> list[_Page]:
    async with task_group() as group:
        tasks = [
            group.create_task(call, name=f"wix v1 page +{n + 1}") for n, call in enumerate(calls)
        ]
    return [task.result() for task in tasks]
