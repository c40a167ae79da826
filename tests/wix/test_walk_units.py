"""Walker logic against canned answers: paging, stopping, fallbacks, window checks."""

from __future__ import annotations

import json
import math
import re

import pytest
from aioresponses import CallbackResult, aioresponses

from support.wix import BASE
from syncd.base.errors import WixAuthError, WixError
from syncd.base.model import NIL_GUID
from syncd.edges.config import WalkSettings
from syncd.edges.wix.walk_v1 import V1Reader
from syncd.edges.wix.walk_v3 import V3Reader

QUERY = BASE + "/stores-reader/v1/products/query"
INVENTORY = re.compile(re.escape(BASE) + r"/stores-reader/v2/inventoryItems/([^/]+)/getVariants")
PRODUCT_VARIANTS = re.compile(re.escape(BASE) + r"/stores-reader/v1/products/([^/]+)/variants/q")


def make_product(n: int, *, stock: bool = True, variants: bool = True) -> dict:
    variant = {"id": NIL_GUID, "choices": {}, "variant": {"sku": "", "visible": True}}
    if stock:
        variant["stock"] = {"trackQuantity": True, "quantity": n, "inStock": n > 0}
    product = {"id": f"p{n}", "name": f"P{n}", "sku": f"SKU-{n}", "visible": n % 7 != 0,
               "numericId": str(1000 + n * 3), "inventoryItemId": f"i{n}",
               "stock": {"trackInventory": True}}
    if variants:
        product["variants"] = [variant]
    return product


class FakeQueryProducts:
    """Answers Query Products like Wix: string filter/sort, offset paging, totalResults.

    ``short_every``: every n-th page comes back 10 short mid-stream (the cut products are
    not skipped); ``max_offset``: offsets from there on are refused with a 400.
    """

    def __init__(self, products: list[dict]) -> None:
        self.products = products
        self.bodies: list[dict] = []
        self.after_call = None
        self.count_visible_only = False
        self.short_every = 0
        self.max_offset = 10_000
        self.list_key = "products"

    def __call__(self, url, **kwargs) -> CallbackResult:
        body = kwargs["json"]
        self.bodies.append(body)
        assert body["includeHiddenProducts"] is True
        query = body["query"]
        sort = json.loads(query.get("sort", '[{"numericId": "asc"}]'))
        assert sort in ([{"numericId": "asc"}], [{"numericId": "desc"}])
        matches = list(self.products)
        if "filter" in query:
            assert isinstance(query["filter"], str), "V1 filters are JSON strings"
            flt = json.loads(query["filter"])
            if "numericId" in flt:
                bounds = flt["numericId"]
                assert all(isinstance(v, int) for v in bounds.values()), "bounds are numbers"
                matches = [p for p in matches
                           if int(p["numericId"]) > bounds.get("$gt", -1)
                           and int(p["numericId"]) <= bounds.get("$lte", 10**18)]
            if "id" in flt:
                wanted = set(flt["id"]["$hasSome"])
                matches = [p for p in matches if p["id"] in wanted]
        if sort == [{"numericId": "desc"}]:
            matches.reverse()
        offset, limit = query["paging"]["offset"], query["paging"]["limit"]
        assert limit <= 100
        if offset >= self.max_offset:
            return CallbackResult(status=400, payload={"message": "offset too large"})
        page = matches[offset : offset + limit]
        if self.short_every and len(self.bodies) % self.short_every == 0 \
                and offset + limit < len(matches):
            page = page[:-10]
        if self.after_call:
            self.after_call(self)
        total = len(matches)
        if self.count_visible_only:
            total = sum(1 for p in matches if p["visible"])
        return CallbackResult(payload={self.list_key: page, "totalResults": total,
                                       "metadata": {"items": len(page), "offset": offset}})


def ids_of(snapshot) -> list[str]:
    return sorted({v.product_id for v in snapshot.variants}, key=lambda i: int(i[1:]))


@pytest.fixture
def reader(client):
    return V1Reader(client, WalkSettings(workers=3, queue_size=10))


class TestV1Walk:
    async def test_offset_windows_stay_far_below_10000_and_the_walk_costs_ceil_p_plus_1(
        self, reader
    ):
        fake = FakeQueryProducts([make_product(n) for n in range(1, 2501)])
        with aioresponses() as mock:
            mock.post(QUERY, callback=fake, repeat=True)
            snapshot = await reader.walk()
        assert ids_of(snapshot) == [f"p{n}" for n in range(1, 2501)]
        assert len(snapshot.variants) == 2500
        assert snapshot.api_calls == math.ceil(2501 / 100)
        offsets = [b["query"]["paging"]["offset"] for b in fake.bodies]
        assert max(offsets) == 1900 and offsets.count(0) == 4  # two ends + two windows

    async def test_the_walk_ends_where_the_two_ends_meet_without_an_empty_page(self, reader):
        fake = FakeQueryProducts([make_product(n) for n in range(1, 251)])
        with aioresponses() as mock:
            mock.post(QUERY, callback=fake, repeat=True)
            snapshot = await reader.walk()
        assert ids_of(snapshot) == [f"p{n}" for n in range(1, 251)]
        assert snapshot.api_calls == 3
        assert all(b.get("query", {}).get("filter") is None or "$lte" in b["query"]["filter"]
                   for b in fake.bodies)

    async def test_a_multiple_of_100_products_costs_one_page_more(self, reader):
        fake = FakeQueryProducts([make_product(n) for n in range(1, 201)])
        with aioresponses() as mock:
            mock.post(QUERY, callback=fake, repeat=True)
            snapshot = await reader.walk()
        assert len(snapshot.variants) == 200
        assert snapshot.api_calls == 3  # the contract's ceil(P/100), +1 for P = 200

    async def test_sequential_crawl_sends_the_numeric_id_bound_as_a_number(self, client):
        reader = V1Reader(client, WalkSettings(parallel_pages=False))
        fake = FakeQueryProducts([make_product(n) for n in range(1, 301)])
        with aioresponses() as mock:
            mock.post(QUERY, callback=fake, repeat=True)
            snapshot = await reader.walk()
        assert len(snapshot.variants) == 300
        assert snapshot.api_calls == 4, "three pages and the empty one that ends the crawl"
        filters = [b["query"].get("filter") for b in fake.bodies]
        assert filters[0] is None
        assert json.loads(filters[1]) == {"numericId": {"$gt": 1000 + 100 * 3}}
        assert all(b["query"]["paging"]["offset"] == 0 for b in fake.bodies)

    async def test_short_pages_mid_stream_lose_no_product(self, reader):
        fake = FakeQueryProducts([make_product(n) for n in range(1, 2501)])
        fake.short_every = 3
        with aioresponses() as mock:
            mock.post(QUERY, callback=fake, repeat=True)
            snapshot = await reader.walk()
        assert ids_of(snapshot) == [f"p{n}" for n in range(1, 2501)]
        assert len(snapshot.variants) == 2500

    async def test_a_refused_offset_shrinks_the_windows_and_loses_nothing(self, reader):
        fake = FakeQueryProducts([make_product(n) for n in range(1, 2501)])
        fake.max_offset = 500
        with aioresponses() as mock:
            mock.post(QUERY, callback=fake, repeat=True)
            snapshot = await reader.walk()
            first_walk = len(fake.bodies)
            await reader.walk()
        assert ids_of(snapshot) == [f"p{n}" for n in range(1, 2501)]
        refused = [b for b in fake.bodies if b["query"]["paging"]["offset"] >= 500]
        assert len(refused) == 15, "one window's refused pages, once: the limit is learned"
        assert len(fake.bodies) - first_walk == math.ceil(2501 / 100)

    async def test_a_window_that_moved_is_crawled_again_sequentially(self, reader):
        products = [make_product(n) for n in range(1, 2501)]
        fake = FakeQueryProducts(products)

        def delete_one_after_the_middle_starts(f: FakeQueryProducts) -> None:
            if len(f.bodies) == 3:
                f.products = [p for p in f.products if p["id"] != "p500"]

        fake.after_call = delete_one_after_the_middle_starts
        with aioresponses() as mock:
            mock.post(QUERY, callback=fake, repeat=True)
            snapshot = await reader.walk()
        # Nothing after p500 was skipped by the shift of offsets.
        assert ids_of(snapshot) == [f"p{n}" for n in range(1, 2501) if n != 500]

    async def test_an_undercounting_total_never_ends_the_crawl_early(self, reader):
        fake = FakeQueryProducts([make_product(n) for n in range(1, 2501)])
        fake.count_visible_only = True  # as if hidden products were left out of the count
        with aioresponses() as mock:
            mock.post(QUERY, callback=fake, repeat=True)
            snapshot = await reader.walk()
        assert ids_of(snapshot) == [f"p{n}" for n in range(1, 2501)]

    async def test_products_without_page_stock_are_resolved_by_the_inventory(self, reader):
        products = [make_product(n, stock=n != 2) for n in range(1, 6)]
        fake = FakeQueryProducts(products)
        inventory_calls = []

        def inventory(url, **kwargs):
            inventory_calls.append(kwargs["json"])
            return CallbackResult(payload={"inventoryItem": {
                "trackQuantity": True, "variants": [
                    {"variantId": NIL_GUID, "quantity": 77, "inStock": True}]}})

        with aioresponses() as mock:
            mock.post(QUERY, callback=fake, repeat=True)
            mock.post(INVENTORY, callback=inventory, repeat=True)
            snapshot = await reader.walk()
        assert inventory_calls == [{"inventoryId": "i2"}]
        assert sorted(v.quantity for v in snapshot.variants) == [1, 3, 4, 5, 77]
        assert snapshot.api_calls == 3

    async def test_many_products_without_page_stock_are_read_by_one_inventory_crawl(
        self, reader
    ):
        fake = FakeQueryProducts([make_product(n, stock=False) for n in range(1, 251)])
        items = [{"id": f"i{n}", "productId": f"p{n}", "numericId": str(1000 + n * 3),
                  "trackQuantity": True,
                  "variants": [{"variantId": NIL_GUID, "quantity": n + 1}]}
                 for n in range(1, 251)]
        inventory = FakeQueryProducts(items)
        inventory.list_key = "inventoryItems"
        with aioresponses() as mock:
            mock.post(QUERY, callback=fake, repeat=True)
            mock.post(BASE + "/stores-reader/v2/inventoryItems/query",
                      callback=lambda url, **kw: inventory(url, json={
                          **kw["json"], "includeVariants": True, "includeHiddenProducts": True}
                      ), repeat=True)
            snapshot = await reader.walk()
        assert sorted(v.quantity for v in snapshot.variants) == list(range(2, 252))
        assert snapshot.api_calls == 3 + 3, "two crawls of ceil(251/100) instead of 250 calls"

    async def test_products_without_variants_get_their_variants_and_stock(self, reader):
        fake = FakeQueryProducts([make_product(1, variants=False)])
        answers = iter([{"variants": [{"id": "va", "variant": {"sku": "A"}},
                                      {"id": "vb", "variant": {"sku": ""}}]}, {}])
        with aioresponses() as mock:
            mock.post(QUERY, callback=fake, repeat=True)
            mock.post(PRODUCT_VARIANTS, callback=lambda url, **kw: CallbackResult(
                payload=next(answers)), repeat=True)
            mock.post(INVENTORY, payload={"inventoryItem": {"trackQuantity": False, "variants": [
                {"variantId": "va", "inStock": True}, {"variantId": "vb", "inStock": False}]}})
            snapshot = await reader.walk()
        assert [(v.variant_id, v.sku, v.in_stock) for v in snapshot.variants] == [
            ("va", "A", True), ("vb", "SKU-1", False)]
        assert snapshot.api_calls == 5  # two ends, variants and the empty page, inventory

    async def test_a_product_deleted_before_its_inventory_read_is_left_out(self, reader):
        fake = FakeQueryProducts([make_product(1, stock=False), make_product(2)])

        def gone(url, **kwargs):
            fake.products = [p for p in fake.products if p["id"] != "p1"]
            return CallbackResult(status=404, payload={"message": "not found"})

        with aioresponses() as mock:
            mock.post(QUERY, callback=fake, repeat=True)
            mock.post(INVENTORY, callback=gone)
            snapshot = await reader.walk()
        assert [v.product_id for v in snapshot.variants] == ["p2"]

    async def test_a_404_for_a_product_that_still_exists_fails_the_walk(self, reader):
        fake = FakeQueryProducts([make_product(1, stock=False), make_product(2)])
        with aioresponses() as mock:
            mock.post(QUERY, callback=fake, repeat=True)
            mock.post(INVENTORY, status=404)
            with pytest.raises(WixError, match="still exists: the route is wrong"):
                await reader.walk()

    async def test_a_worker_failure_surfaces_as_its_own_error(self, reader):
        fake = FakeQueryProducts([make_product(n, stock=n == 1) for n in range(1, 4)])
        with aioresponses() as mock:
            mock.post(QUERY, callback=fake, repeat=True)
            mock.post(INVENTORY, status=401, repeat=True)
            with pytest.raises(WixAuthError):
                await reader.walk()

    async def test_refresh_queries_ids_in_chunks_of_100(self, reader):
        fake = FakeQueryProducts([make_product(n) for n in range(1, 301)])
        wanted = [f"p{n}" for n in range(1, 151)] + ["p-gone"]
        with aioresponses() as mock:
            mock.post(QUERY, callback=fake, repeat=True)
            snapshot = await reader.refresh(wanted)
        assert [v.product_id for v in snapshot.variants] == wanted[:-1]
        assert snapshot.api_calls == 3, "two chunks, and an empty answer for the missing id"
        assert [len(json.loads(b["query"]["filter"])["id"]["$hasSome"]) for b in fake.bodies] \
            == [100, 51, 1]

    async def test_refresh_asks_again_for_ids_a_short_answer_left_out(self, reader):
        fake = FakeQueryProducts([make_product(n) for n in range(1, 301)])
        fake.short_every = 1
        with aioresponses() as mock:
            mock.post(QUERY, callback=fake, repeat=True)
            snapshot = await reader.refresh([f"p{n}" for n in range(1, 101)])
        assert len(snapshot.variants) == 100


class TestV3Walk:
    async def test_cursor_follow_ups_send_only_cursor_paging(self, client):
        bodies = []

        def query(url, **kwargs):
            bodies.append(kwargs["json"])
            cursor = kwargs["json"]["query"]["cursorPaging"].get("cursor")
            page = {None: ("c1", 0), "c1": ("c2", 1000), "c2": (None, 2000)}[cursor]
            size = 1000 if page[0] else 5
            # Small items: aioresponses cannot feed bodies past 64 KiB under aiohttp 3.14.
            items = [{"id": f"i{page[1] + i}", "quantity": 1} for i in range(size)]
            return CallbackResult(payload={"inventoryItems": items, "pagingMetadata": {
                "count": size, "cursors": {"next": page[0]}}})

        reader = V3Reader(client, WalkSettings(location_id="loc-1", v3_segments=1))
        with aioresponses() as mock:
            mock.post(BASE + "/stores/v3/inventory-items/query", callback=query, repeat=True)
            snapshot = await reader.walk()
        assert len(snapshot.variants) == 2005 and snapshot.api_calls == 3
        assert bodies[0] == {"query": {"cursorPaging": {"limit": 1000},
                                       "filter": {"locationId": {"$eq": "loc-1"}}}}
        assert bodies[1] == {"query": {"cursorPaging": {"limit": 1000, "cursor": "c1"}}}

    async def test_a_server_ignoring_productid_ranges_gets_one_cursor_and_no_repeats(
            self, client):
        def query(url, **kwargs):
            body = kwargs["json"]["query"]
            cursor = body["cursorPaging"].get("cursor")
            start = int(cursor) if cursor else 0
            size = min(1000, 2500 - start)
            items = [{"id": f"i{start + i}", "productId": f"{(start + i) % 256:02x}",
                      "quantity": 1} for i in range(size)]
            following = str(start + size) if start + size < 2500 else None
            return CallbackResult(payload={"inventoryItems": items, "pagingMetadata": {
                "count": size, "cursors": {"next": following}}})

        reader = V3Reader(client, WalkSettings(v3_segments=4))
        with aioresponses() as mock:
            mock.post(BASE + "/stores/v3/inventory-items/query", callback=query, repeat=True)
            first = await reader.walk()
            second = await reader.walk()
        for snapshot in (first, second):
            ids = [v.inventory_item_id for v in snapshot.variants]
            assert len(ids) == 2500 and len(set(ids)) == 2500
        assert second.api_calls == 3, "the ignored range is remembered: one cursor"

    async def test_refresh_filters_items_by_id_in_chunks(self, client):
        bodies = []

        def query(url, **kwargs):
            bodies.append(kwargs["json"])
            ids = kwargs["json"]["query"]["filter"]["id"]["$in"]
            items = [{"id": i, "revision": "2", "quantity": 0} for i in ids]
            return CallbackResult(payload={"inventoryItems": items, "pagingMetadata": {}})

        reader = V3Reader(client, WalkSettings(refresh_chunk=2))
        with aioresponses() as mock:
            mock.post(BASE + "/stores/v3/inventory-items/query", callback=query, repeat=True)
            snapshot = await reader.refresh(item_ids=["a", "b", "c", "a"])
        assert [v.inventory_item_id for v in snapshot.variants] == ["a", "b", "c"]
        assert snapshot.api_calls == 2
