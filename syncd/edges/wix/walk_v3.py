"""Read every inventory item of a Catalog V3 store, or a few named ones.

Query Inventory Items returns up to 1000 items per call, each with its product id, variant id,
location, SKU (``product.variantSku``), visibility, stock and revision: a whole store costs
ceil(I/1000) calls and needs no per-product resolution. The first request carries the filter;
follow-ups send only ``cursorPaging`` (a cursor sent with a filter is rejected).

Every cursor query is read by ``syncd.edges.wix.cursor_v3``: it ends however Wix marks the last
page, never repeats an item, restarts a query whose cursor expired, and is bounded.

Cursor paging is inherently sequential (each cursor comes from the previous answer), so one
cursor keeps one request in flight: 107 pages of a 105,000-item store take 37 s at 300 ms
latency. Later full walks therefore read up to ``WalkSettings.v3_segments`` immutable
``productId`` ranges side by side (``syncd.edges.wix.segments_v3``), falling back to the one
cursor when Wix refuses range filters on ``productId``. Each segment ends on a partly filled
page, so the number of segments is sized from the previous walk (about
``SEGMENT_PAGES`` pages each). The first walk of a process, which knows no size, reads the
first of up to ``FIRST_WALK_RANGES`` ranges first and sizes the others from its first page
(``SegmentedQuery.run_first``): a small store costs one call more than the one cursor's
ceil(I/1000). Splitting by a mutable
field (tracking, availability) would let items that change it mid-walk be missed or read
twice, so it is not done. Targeted reads (``$in`` lists of ids) are independent and run
concurrently.

Variants without an inventory item do not appear here (see the contract's gotcha 18); the
walk reports the items that exist. ``hidden`` comes from ``product.variantVisible``, which
describes the variant; a hidden product's variants are only marked hidden when
``WalkSettings.v3_product_visibility`` asks for the extra Query Products pass.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from msgspec import structs

from syncd.base.model import Catalog, StoreSnapshot, StoreVariant
from syncd.edges.config.client import WalkSettings
from syncd.edges.wix.answer_digest import AnswerDigest
from syncd.edges.wix.answers import (
    V3InventoryItem,
    V3InventoryPage,
    V3ItemProduct,
    V3ProductsPage,
    convert_answer,
)
from syncd.edges.wix.client import CallCounter, JSONObject, WixClient
from syncd.edges.wix.cursor_v3 import read_cursor_query
from syncd.edges.wix.segments_v3 import SegmentedQuery
from syncd.edges.wix.tasks import task_group

PAGE_SIZE = 1000
"""Query Inventory Items maximum page size."""

QUERY_ITEMS = "/stores/v3/inventory-items/query"
QUERY_PRODUCTS = "/stores/v3/products/query"

SEGMENT_PAGES = 4
"""Pages per segment the segment count aims at: at most one wasted call per four."""

FIRST_WALK_RANGES = 4
"""Ranges of a process's first walk at most. Each range ends on a part-filled page, about
half a call wasted per range, and a first walk cannot size them to the store; four read
105,000 items in about a quarter of one cursor's round trips, where parsing the items
already takes most of the time, for about two calls more than one cursor."""

PRODUCTS_PAGE_SIZE = 100
"""Query Products (V3) maximum page size."""


class V3Reader:
    """Read operations on a V3 store; each public call counts its own requests."""

    def __init__(self, client: WixClient, settings: WalkSettings) -> None:
        self._client = client
        self._settings = settings
        self._log = client.log.bind(catalog="v3")
        self._segments = SegmentedQuery(client, path=QUERY_ITEMS,
                                        endpoint="v3.inventory_items.query", page_size=PAGE_SIZE)
        self._last_items: int | None = None

    async def walk(self, *, unchanged: int | None = None) -> StoreSnapshot:
        """Every inventory item (of ``location_id`` when set), hidden variants included.
        With ``unchanged`` (the ``answers`` digest of an earlier walk), answers equal to
        that walk's give an ``unchanged`` snapshot, with no variant."""
        counter = CallCounter(answers=AnswerDigest())
        hidden: set[str] = set()
        async with task_group() as group:
            items_task = group.create_task(
                self._all_items(counter),
                name=f"wix v3 walk items site={self._client.site_id}",
            )
            if self._settings.v3_product_visibility:
                group.create_task(
                    self._hidden_products(hidden, counter),
                    name=f"wix v3 walk hidden products site={self._client.site_id}",
                )
        assert counter.answers is not None
        digest = counter.answers.value
        if unchanged is not None and digest == unchanged:
            self._last_items = len(items_task.result())
            self._log.info("wix_walk_unchanged", api_calls=counter.total,
                           reason="every answer as at the last read that planned nothing")
            return StoreSnapshot(Catalog.V3, (), api_calls=counter.total, answers=digest,
                                 unchanged=True)
        variants = tuple(
            structs.replace(v, hidden=True) if v.product_id in hidden and not v.hidden else v
            for v in map(item_variant, items_task.result())
        )
        self._last_items = len(variants)
        self._log.info("wix_walk_done", variants=len(variants), api_calls=counter.total)
        return StoreSnapshot(Catalog.V3, variants, api_calls=counter.total, answers=digest)

    async def refresh(
        self, *, item_ids: Sequence[str] = (), product_ids: Sequence[str] = (),
        skus: Sequence[str] = (),
    ) -> StoreSnapshot:
        """Current state of the named inventory items, of every item of the named products,
        and of every item carrying one of ``skus``."""
        counter = CallCounter()
        filters = [
            self._with_location({field: {"$in": chunk}})
            for field, ids in (("id", item_ids), ("productId", product_ids),
                               ("product.variantSku", skus))
            for chunk in _chunks(list(dict.fromkeys(ids)), self._settings.refresh_chunk)
        ]
        async with task_group() as group:
            tasks = [
                group.create_task(
                    self._query(query_filter, counter),
                    name=f"wix v3 refresh {n} site={self._client.site_id}",
                )
                for n, query_filter in enumerate(filters)
            ]
        seen: set[str] = set()
        variants = []
        for task in tasks:
            for item in task.result():
                variant = item_variant(item)
                if variant.inventory_item_id not in seen:
                    seen.add(variant.inventory_item_id)
                    variants.append(variant)
        return StoreSnapshot(Catalog.V3, tuple(variants), api_calls=counter.total)

    async def _hidden_products(self, hidden: set[str], counter: CallCounter) -> None:
        products = await read_cursor_query(
            self._client, path=QUERY_PRODUCTS, endpoint="v3.products.query",
            answer=V3ProductsPage, query_filter={"visible": {"$eq": False}},
            page_size=PRODUCTS_PAGE_SIZE, counter=counter)
        hidden.update(str(p["id"]) for p in products if p.get("id"))

    async def _all_items(self, counter: CallCounter) -> list[V3InventoryItem]:
        if self._last_items is None:
            items = await self._segments.run_first(
                self._with_location({}), min(self._settings.v3_segments, FIRST_WALK_RANGES),
                PAGE_SIZE * SEGMENT_PAGES, counter)
        else:
            items = await self._segments.run(self._with_location({}), self.segments(), counter)
        if items is None:
            items = await self._query(self._with_location({}), counter)
        return items

    def segments(self) -> int:
        """Segments for the next full walk: sized from the last one, 1 before any."""
        if self._last_items is None:
            return 1
        wanted = -(-self._last_items // (PAGE_SIZE * SEGMENT_PAGES))
        return max(1, min(self._settings.v3_segments, wanted))

    def _with_location(self, query_filter: JSONObject) -> JSONObject:
        if self._settings.location_id is not None:
            return {**query_filter, "locationId": {"$eq": self._settings.location_id}}
        return query_filter

    async def _query(self, query_filter: JSONObject, counter: CallCounter
                     ) -> list[V3InventoryItem]:
        return await read_cursor_query(
            self._client, path=QUERY_ITEMS, endpoint="v3.inventory_items.query",
            answer=V3InventoryPage, query_filter=query_filter, page_size=PAGE_SIZE,
            counter=counter)


_NO_PRODUCT = V3ItemProduct()


def item_variant(item: V3InventoryItem) -> StoreVariant:
    """One V3 inventory item as a store variant (pure)."""
    product = item.product or _NO_PRODUCT
    quantity = item.quantity
    tracked = item.trackQuantity
    if tracked is None:
        tracked = quantity is not None  # one-of: a quantity means quantity tracking
    if tracked and quantity is None:
        quantity = 0  # left out because it holds its default (proto3 JSON)
    status = item.availabilityStatus
    if tracked:
        # The derived inStock of a tracked item is not documented; the status is.
        in_stock = status == "IN_STOCK" if status else (quantity or 0) > 0
    else:
        in_stock = item.inStock if item.inStock is not None else status == "IN_STOCK"
    revision = item.revision
    return StoreVariant(
        product_id=item.productId or "",
        variant_id=item.variantId or "",
        inventory_item_id=item.id or "",
        sku=product.variantSku or "",
        tracked=tracked,
        quantity=quantity,
        in_stock=in_stock,
        hidden=product.variantVisible is False,
        product_name=product.name or "",
        revision=None if revision is None else str(revision),
        location_id=item.locationId or None,
    )


def item_variant_of(item: Mapping[str, Any], *, endpoint: str) -> StoreVariant:
    """``item_variant`` of an item already decoded into a dict (a write's answer)."""
    return item_variant(convert_answer(item, V3InventoryItem, endpoint=endpoint))


def _chunks(ids: list[str], size: int) -> list[list[str]]:
    return [ids[i : i + size] for i in range(0, len(ids), size)]
