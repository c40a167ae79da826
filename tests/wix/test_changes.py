"""Reads of what changed (watermark, overlap, keyset paging, de-duplication) and the
segmented V3 walk, against the emulator and a scripted server."""

from __future__ import annotations

import math
import random
import string
from datetime import UTC, datetime, timedelta

import pytest

from syncd.base.errors import WixClientError
from syncd.base.model import Catalog
from syncd.cycle.incremental import _merge
from syncd.edges.config import WalkSettings
from syncd.edges.wix.answers import convert_answer
from syncd.edges.wix.client import CallCounter
from syncd.edges.wix.segments_v3 import SegmentedQuery, segment_filters
from syncd.edges.wix.store_changes import (
    Changed,
    ChangeRead,
    ChangeReader,
    format_stamp,
    parse_stamp,
    stamp_minus,
)
from syncd_emulator import EmulatorConfig
from syncd_emulator.variants import WixVariants

from .test_emulator_walk import KEY, SITE, emulated_store


def _v3(**kw) -> EmulatorConfig:
    return EmulatorConfig(catalog="v3", api_key=KEY, site_id=SITE, rate_limit=None, **kw)


def _stamp_items(emu, items, stamp: str) -> None:
    for item in items:
        item.updated = stamp
        item.json = None
    emu.store.changes += 1


def test_timestamps_round_trip_in_wix_spelling():
    stamp = parse_stamp("2020-08-31T20:05:40.348Z")
    assert stamp == datetime(2020, 8, 31, 20, 5, 40, 348000, tzinfo=UTC)
    assert format_stamp(stamp) == "2020-08-31T20:05:40.348Z"
    assert format_stamp(stamp_minus(stamp, 1.5)) == "2020-08-31T20:05:38.848Z"
    assert parse_stamp("yesterday") is None and parse_stamp(None) is None


async def test_newest_timestamp_is_the_servers_not_the_local_clock():
    async with emulated_store(_v3(generate_products=30, seed=2)) as (emu, store):
        _stamp_items(emu, emu.store.items[5:6], "2031-01-02T03:04:05.678Z")
        reader = ChangeReader(store.client, WalkSettings(), Catalog.V3)
        newest, calls = await reader.newest()
    assert format_stamp(newest) == "2031-01-02T03:04:05.678Z"
    assert calls == 1


async def test_changes_since_a_time_include_it_and_nothing_older():
    async with emulated_store(_v3(generate_products=40, seed=3)) as (emu, store):
        items = emu.store.items
        _stamp_items(emu, items[:3], "2030-01-01T00:00:00.000Z")
        _stamp_items(emu, items[3:5], "2030-01-01T00:00:10.000Z")
        reader = ChangeReader(store.client, WalkSettings(), Catalog.V3)
        read = await reader.since(parse_stamp("2030-01-01T00:00:00.000Z"))
    assert set(read.units) == {i.id for i in items[:5]}
    assert format_stamp(read.newest) == "2030-01-01T00:00:10.000Z"
    assert read.api_calls == 1


async def test_an_overlap_window_catches_a_change_committed_with_an_older_timestamp():
    async with emulated_store(_v3(generate_products=40, seed=3)) as (emu, store):
        items = emu.store.items
        _stamp_items(emu, items[:1], "2030-01-01T00:01:00.000Z")  # the watermark
        _stamp_items(emu, items[1:2], "2030-01-01T00:00:45.000Z")  # committed late
        reader = ChangeReader(store.client, WalkSettings(), Catalog.V3)
        watermark = parse_stamp("2030-01-01T00:01:00.000Z")
        without = await reader.since(watermark)
        with_overlap = await reader.since(stamp_minus(watermark, 30))
    assert items[1].id not in without.units
    assert items[1].id in with_overlap.units


@pytest.mark.parametrize("variants", [WixVariants(), WixVariants(cursor_on_last_page=True)],
                         ids=["default", "cursor_on_last_page"])
async def test_keyset_paging_reads_more_than_a_page_sharing_one_timestamp_exactly_once(
        variants):
    async with emulated_store(_v3(generate_products=400, seed=5,
                                  variants=variants)) as (emu, store):
        items = emu.store.items
        assert len(items) > 1600
        # 1500 items stamped by one bulk write, then a few later ones, out of store order.
        chosen = random.Random(1).sample(items, 1500)
        _stamp_items(emu, chosen, "2030-05-05T05:05:05.005Z")
        later = [i for i in items if i not in set(chosen)][:20]
        _stamp_items(emu, later, "2030-05-05T05:05:06.000Z")
        reader = ChangeReader(store.client, WalkSettings(), Catalog.V3)
        read = await reader.since(parse_stamp("2030-05-05T05:05:00.000Z"))
    assert set(read.units) == {i.id for i in chosen} | {i.id for i in later}
    kept_cursor = 2 if variants.cursor_on_last_page else 0  # each query follows it once
    assert read.api_calls <= 2 + math.ceil(1520 / 1000) + kept_cursor


async def test_v1_changes_come_as_whole_products_by_last_updated():
    config = EmulatorConfig(catalog="v1", api_key=KEY, site_id=SITE, rate_limit=None,
                            generate_products=250, seed=4)
    async with emulated_store(config) as (emu, store):
        products = emu.store.products
        for product in products[10:130]:
            product.touch("2030-02-02T02:02:02.000Z")
        emu.store.changes += 1
        reader = ChangeReader(store.client, WalkSettings(), Catalog.V1)
        read = await reader.since(parse_stamp("2030-02-02T02:02:00.000Z"))
    assert set(read.units) == {p.id for p in products[10:130]}
    unit = read.units[products[10].id]
    assert {v.variant_id for v in unit.variants} == {v.id for v in products[10].variants}
    # The keyset page, the products sharing its last timestamp by numericId, and the
    # empty page that ends them (a short page may come mid-stream).
    assert read.api_calls <= 2 + math.ceil(120 / 100) + 1


def _unit(key: str, revision: str, stamp_s: int, quantity: int) -> Changed:
    from syncd.base.model import StoreVariant

    variant = StoreVariant(product_id="p", variant_id=key, inventory_item_id=key, sku=key,
                           tracked=True, quantity=quantity, in_stock=quantity > 0,
                           hidden=False, revision=revision)
    stamp = datetime(2030, 1, 1, tzinfo=UTC) + timedelta(seconds=stamp_s)
    return Changed(key=key, product_id="p", stamp=stamp, revision=revision,
                   variants=(variant,))


def test_a_unit_read_twice_keeps_its_newest_revision():
    read = ChangeRead()
    read.add(_unit("a", "3", 5, 7))
    read.add(_unit("a", "2", 9, 8))  # an older revision, even with a later stamp
    read.add(_unit("b", "1", 1, 1))
    assert read.units["a"].revision == "3"
    assert format_stamp(read.newest) == "2030-01-01T00:00:09.000Z"


def test_overlap_rereads_of_a_revision_already_held_are_not_counted_as_changes():
    cache = {"a": _unit("a", "3", 5, 7).variants, "b": _unit("b", "1", 1, 1).variants}
    read = ChangeRead()
    read.add(_unit("a", "3", 5, 7))   # the overlap window, nothing new
    read.add(_unit("b", "2", 6, 0))   # sold out
    read.add(_unit("c", "1", 6, 4))   # a new item
    assert _merge(cache, read) == 2
    assert cache["b"][0].quantity == 0 and "c" in cache


def test_productid_segments_cover_every_id_exactly_once():
    rng = random.Random(7)
    alphabet = string.hexdigits.lower() + string.ascii_letters + "-_"
    ids = [f"{rng.getrandbits(128):032x}" for _ in range(300)]
    ids += ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 36)))
            for _ in range(300)] + ["", "0", "ff", "fff", "~"]
    for segments in (2, 5, 16, 40):
        filters = segment_filters(segments)
        assert len(filters) == segments
        for product_id in ids:
            hits = [f for f in filters if _in_range(product_id, f["productId"])]
            assert len(hits) == 1, (segments, product_id)


def _in_range(value: str, bounds: dict[str, str]) -> bool:
    return value >= bounds.get("$gte", "") and ("$lt" not in bounds or value < bounds["$lt"])


async def test_segmented_walk_reads_the_same_items_as_one_cursor():
    walk = WalkSettings(v3_segments=8)
    async with emulated_store(_v3(generate_products=400, seed=6), walk=walk) as (emu, store):
        first = await store.walk()  # sizes the segments
        second = await store.walk()
    assert sorted(first.variants, key=lambda v: v.inventory_item_id) == \
        sorted(second.variants, key=lambda v: v.inventory_item_id)
    assert len(second.variants) == len(emu.store.items)


class _RefusingClient:
    """Answers any productId range filter with a 400, like a server that refuses them."""

    site_id = "refusing"

    def __init__(self) -> None:
        import structlog

        self.log = structlog.get_logger("test")
        self.calls = 0

    async def request_as(self, answer, method, path, **kwargs):
        """Like the client: the fake's JSON decoded into ``answer``."""
        return convert_answer(await self.request(method, path, **kwargs), answer,
                              endpoint=kwargs.get("endpoint", path))

    async def request(self, method, path, *, endpoint, body, counter=None):
        self.calls += 1
        if "productId" in (body["query"].get("filter") or {}):
            raise WixClientError("Field 'productId' is not declared as filterable",
                                 status=400, endpoint=endpoint)
        return {"inventoryItems": [], "pagingMetadata": {"cursors": {}}}


async def test_a_refused_segment_query_falls_back_to_one_cursor_and_stays_there():
    client = _RefusingClient()
    query = SegmentedQuery(client, path="/q", endpoint="q", page_size=1000)  # type: ignore[arg-type]
    assert await query.run({}, 4, CallCounter()) is None
    assert query.refused
    calls = client.calls
    assert await query.run({}, 4, CallCounter()) is None
    assert client.calls == calls  # not asked again


def test_segments_setting_must_be_positive():
    with pytest.raises(ValueError, match="v3_segments"):
        WalkSettings(v3_segments=0)


async def test_v1_products_sharing_one_timestamp_beyond_a_page_are_crawled_by_numeric_id():
    config = EmulatorConfig(catalog="v1", api_key=KEY, site_id=SITE, rate_limit=None,
                            generate_products=320, seed=8)
    async with emulated_store(config) as (emu, store):
        products = emu.store.products
        for product in products[:250]:
            product.touch("2030-03-03T03:03:03.003Z")
        products[300].touch("2030-03-03T03:03:04.000Z")
        emu.store.changes += 1
        reader = ChangeReader(store.client, WalkSettings(), Catalog.V1)
        read = await reader.since(parse_stamp("2030-03-03T03:03:00.000Z"))
    assert set(read.units) == {p.id for p in products[:250]} | {products[300].id}
    assert read.api_calls <= 2 + math.ceil(251 / 100) + 1  # + the empty page that ends


@pytest.mark.parametrize("variants", [
    WixVariants(), WixVariants(short_pages=True), WixVariants(strict_numeric_bound=True),
    WixVariants(numeric_bound_string_only=True), WixVariants(short_pages=True, sparse_json=True),
], ids=lambda v: ",".join(v.active) or "default")
async def test_v1_products_sharing_one_timestamp_are_all_read_however_wix_pages_them(variants):
    config = EmulatorConfig(catalog="v1", api_key=KEY, site_id=SITE, rate_limit=None,
                            generate_products=400, seed=5, variants=variants)
    async with emulated_store(config) as (emu, store):
        products = emu.store.products
        for product in products[20:330]:  # a bulk edit: over three pages, one timestamp
            product.touch("2030-03-03T03:03:03.000Z")
        emu.store.changes += 1
        reader = ChangeReader(store.client, WalkSettings(), Catalog.V1)
        read = await reader.since(parse_stamp("2030-03-03T03:03:00.000Z"))
    assert set(read.units) == {p.id for p in products[20:330]}
    # The keyset page, then the pages by numericId (a short page costs one more, a bound of
    # the wrong type one more, the empty page that ends the read one).
    assert read.api_calls <= 2 + 2 * math.ceil(310 / 100) + 2
