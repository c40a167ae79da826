"""Read every variant of a Catalog V1 store (or a few named products) in the fewest calls.

One Query Products call (``includeVariants``, ``includeHiddenProducts``, limit 100) returns
100 products with their variants, SKUs and, in practice, stock, so a whole store costs about
ceil(P/100) calls. The pages are fetched by ``syncd.edges.wix.crawl_v1``: a numericId crawl with
the bound sent as a number, crawled from both ends so that it ends without trusting a short
page or ``totalResults``, and with small concurrent offset windows (far below the 10,000
offset edge, shrunk when an offset is refused) for speed. It costs ceil((P + 1) / 100)
calls; measured on the emulator with 300 ms latency and 12,000 products
(``tests/bench/bench_walk.py``, a loaded two-core machine): 122 calls either way, 24.8 s
against 53.6 s for the strictly sequential crawl. (The earlier walk, with windows up to
offset 9,900 and no end proof, was measured at 10.5 s against 47 s on a quieter machine:
part of that speed leaned on the unconfirmed offset edge, and the small windows give it up.)

Products whose page lacks stock for some variant (the contract marks ``stock`` in this answer
as unconfirmed) are resolved after the crawl by ``syncd.edges.wix.stock_v1``: one Get Inventory
Variants per such product, or one Query Inventory crawl when that is cheaper.

Targeted reads (``refresh``) ask Query Products for up to 100 ids at a time with an
``id $hasSome`` filter, several such chunks at once, and ask again for the ids a (possibly
short) answer left out, until every id is seen or an answer is empty (those products are
gone).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from syncd.base.model import Catalog, StoreSnapshot, StoreVariant
from syncd.edges.config.client import WalkSettings
from syncd.edges.wix.answer_digest import AnswerDigest
from syncd.edges.wix.answers import V1Product, V1ProductsPage
from syncd.edges.wix.client import CallCounter, JSONObject, WixClient
from syncd.edges.wix.crawl_v1 import PAGE_SIZE, CrawlTarget, NumericIdCrawl, OffsetLimit
from syncd.edges.wix.known_pages import KnownPages, KnownProduct, PageWalk
from syncd.edges.wix.parse_v1 import product_variants, variants_need_inventory
from syncd.edges.wix.pipeline import Emit
from syncd.edges.wix.stock_v1 import StockResolver, crawl_cost
from syncd.edges.wix.tasks import task_group

QUERY_PRODUCTS = "/stores-reader/v1/products/query"
DEFER_MAX_PRODUCTS = 1_000
"""The largest store whose walk may keep its decoded products until it knows whether its
answers changed (``walk(unchanged=...)``); a larger one is flattened page by page."""

PRODUCTS: CrawlTarget[V1Product] = CrawlTarget(
    path=QUERY_PRODUCTS, endpoint="v1.products.query", answer=V1ProductsPage,
    body={"includeVariants": True, "includeHiddenProducts": True})


@dataclass(frozen=True, slots=True)
class _Collected:
    variants: list[StoreVariant] | None
    """None: the answers were those of the ``unchanged`` digest; nothing was flattened."""
    complete: bool
    """Every product's stock came with the pages (the answers' digest covers them all)."""


class V1Reader:
    """Read operations on a V1 store; each public call counts its own requests."""

    def __init__(self, client: WixClient, settings: WalkSettings, *,
                 bound_as_string: bool = False) -> None:
        self._client = client
        self._settings = settings
        self._log = client.log.bind(catalog="v1")
        self._offsets = OffsetLimit(settings.window_pages, bound_as_string=bound_as_string)
        """What the store taught about offsets, kept across walks."""
        self._unknown_visibility = 0
        """Products of the current walk whose answer did not say whether they are visible."""
        self._store_products: int | None = None
        """How many products the last walk listed (None before any): a refresh whose pages
        lack stock for more products than one Query Inventory crawl costs crawls instead."""
        self._pages = KnownPages(PRODUCTS.endpoint)
        """The last walk's pages, for a store of at most ``DEFER_MAX_PRODUCTS`` products."""

    async def walk(self, *, unchanged: int | None = None) -> StoreSnapshot:
        """Every variant of every product, hidden ones included. With ``unchanged`` (the
        ``answers`` digest of an earlier walk) a store of at most ``DEFER_MAX_PRODUCTS``
        products is flattened only if its answers differ from that walk's: when they are
        the same, byte for byte, the snapshot is ``unchanged`` and holds no variant."""
        counter = CallCounter(answers=AnswerDigest())
        small = (self._store_products or DEFER_MAX_PRODUCTS + 1) <= DEFER_MAX_PRODUCTS
        if not small:
            unchanged = None
        pages: PageWalk | None = None
        if self._store_products is None or small:
            pages = self._pages.walk(replay=unchanged is not None)
        else:
            self._pages.forget()
        crawl = NumericIdCrawl(self._client, PRODUCTS, counter=counter, offsets=self._offsets,
                               parallel=self._settings.parallel_pages, log=self._log,
                               known=pages)
        complete = False
        try:
            collected = await self._collect(crawl.run, counter, whole_store=True,
                                            unchanged=unchanged, pages=pages)
            complete = True
        finally:
            if pages is not None:  # a store found larger than the limit keeps nothing
                pages.end(complete=complete
                          and (self._store_products or 0) <= DEFER_MAX_PRODUCTS)
        assert counter.answers is not None
        digest = counter.answers.value if collected.complete else None
        if collected.variants is None:
            self._unknown_visibility = 0
            self._log.info("wix_walk_unchanged", api_calls=counter.total,
                           reason="every answer as at the last read that planned nothing")
            return StoreSnapshot(Catalog.V1, (), api_calls=counter.total, answers=digest,
                                 unchanged=True)
        variants = collected.variants
        if self._unknown_visibility:
            # Wix may leave ``visible: false`` out as a default value: those products would
            # be counted as visible. Nothing is written differently; reports may undercount.
            self._log.warning("wix_walk_visibility_unknown", products=self._unknown_visibility)
            self._unknown_visibility = 0
        self._log.info("wix_walk_done", variants=len(variants), api_calls=counter.total)
        return StoreSnapshot(Catalog.V1, tuple(variants), api_calls=counter.total,
                             answers=digest)

    async def refresh(self, product_ids: Sequence[str]) -> StoreSnapshot:
        """The current variants of the named products (missing products are left out).

        Where the pages lack ``variants[].stock``, stock comes from one Get Inventory
        Variants per product, or from one Query Inventory crawl when the last walk's store
        size makes that cheaper (the re-read that verifies a thousand deltas, say)."""
        counter = CallCounter()
        ids = list(dict.fromkeys(product_ids))

        size = self._settings.refresh_chunk
        chunks = [ids[start : start + size] for start in range(0, len(ids), size)]
        gate = asyncio.Semaphore(self._settings.workers)

        async def read(chunk: Sequence[str]) -> list[V1Product]:
            async with gate:
                return await self._query_ids(chunk, counter)

        async def produce(emit: Emit[V1Product]) -> None:
            # The chunks are asked for concurrently (the site's limiter paces them), and
            # their products handed on in chunk order, so a refresh's result keeps one order.
            async with task_group() as group:
                tasks = [group.create_task(read(chunk), name=f"wix v1 refresh chunk {n + 1}")
                         for n, chunk in enumerate(chunks)]
                for task in tasks:
                    for product in await task:
                        await emit(product)

        variants = (await self._collect(produce, counter, whole_store=False)).variants
        assert variants is not None
        return StoreSnapshot(Catalog.V1, tuple(variants), api_calls=counter.total)

    async def _collect(
        self,
        produce: Callable[[Emit[V1Product]], Awaitable[None]],
        counter: CallCounter,
        *,
        whole_store: bool,
        unchanged: int | None = None,
        pages: PageWalk | None = None,
    ) -> _Collected:
        """The variants of the products ``produce`` emits, in their order, those lacking
        stock resolved after it. With ``unchanged``, products are flattened only once the
        answers' digest differs from it (``_Collected.variants`` None when it does not);
        ``KnownProduct``s (pages answered as at the last walk) are decoded then, from
        ``pages``. A whole store's products are told apart by ``numericId`` (the crawl
        has checked that each has one), named products by id."""
        seen: set[str | int | None] = set()
        lacking: list[V1Product] = []
        variants: list[StoreVariant] = []
        waiting: list[V1Product] | None = [] if unchanged is not None else None

        async def take(product: V1Product) -> None:
            # Flattening a product needs no request, so it is done as the page is read, in
            # the pages' order, with no queue or worker between the crawl and the variants.
            key = product.numericId if whole_store else product.id or ""
            if key in seen:
                return
            seen.add(key)
            if isinstance(product, KnownProduct):
                # Its page was answered as at the last walk, where it had its stock.
                assert waiting is not None, "a page is given as known only to a deferred walk"
                waiting.append(product)
                return
            if product.visible is None:
                self._unknown_visibility += 1
            if variants_need_inventory(product):
                lacking.append(product)
            elif waiting is not None:
                waiting.append(product)
            else:
                variants.extend(product_variants(product))

        await produce(take)
        if whole_store:
            self._store_products = len(seen)
        if waiting is not None:
            answers = counter.answers
            if not lacking and answers is not None and answers.value == unchanged:
                return _Collected(None, complete=True)
            for product in waiting:
                if isinstance(product, KnownProduct):
                    assert pages is not None
                    product = pages.product(product)
                    if product.visible is None:
                        self._unknown_visibility += 1
                variants.extend(product_variants(product))
        resolver = StockResolver(self._client, counter=counter, offsets=self._offsets,
                                 workers=self._settings.workers,
                                 parallel=self._settings.parallel_pages, log=self._log)
        known = self._store_products
        if not whole_store and (known is None or len(lacking) <= crawl_cost(known)):
            known = None  # a few products: one Get Inventory Variants each, as always
        variants += await resolver.resolve(lacking, store_products=known)
        return _Collected(variants, complete=not lacking)

    async def _query_ids(self, ids: Sequence[str], counter: CallCounter) -> list[V1Product]:
        """The named products that exist. Asks again for what an answer left out (it may be
        short mid-stream) until every id is seen or an answer is empty: the ids still
        missing then are deleted products."""
        found: list[V1Product] = []
        remaining = list(ids)
        while remaining:
            query: JSONObject = {
                "filter": json.dumps({"id": {"$hasSome": remaining}}),
                "paging": {"limit": PAGE_SIZE, "offset": 0},
            }
            data = await self._client.request_as(
                V1ProductsPage,
                "POST",
                QUERY_PRODUCTS,
                endpoint="v1.products.query",
                body={"query": query, "includeVariants": True, "includeHiddenProducts": True},
                counter=counter,
            )
            products = data.records
            if not products:
                return found
            found.extend(products)
            got = {p.id or "" for p in products}
            left = [i for i in remaining if i not in got]
            if len(left) == len(remaining):
                return found  # nothing asked for came back: the rest is not there
            remaining = left
        return found
