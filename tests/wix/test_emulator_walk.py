"""Walks of whole emulated stores over real HTTP on 127.0.0.1: completeness and call counts."""

from __future__ import annotations

import asyncio
import math
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from syncd.base.model import StoreSnapshot
from syncd.edges.config import WalkSettings, WixSettings
from syncd.edges.wix import StoreAdapter, WixClient, open_store
from syncd_emulator import EmulatorConfig, RunningEmulator, serve

KEY = "emulator-key-0001"
SITE = "emulator-site"

FIELDS = ("product_id", "variant_id", "inventory_item_id", "sku", "tracked", "quantity",
          "in_stock", "hidden", "revision", "location_id")


@asynccontextmanager
async def emulated_store(
    config: EmulatorConfig, *, settings: WixSettings | None = None,
    walk: WalkSettings | None = None,
) -> AsyncIterator[tuple[RunningEmulator, StoreAdapter]]:
    async with serve(config) as emu:
        wix_settings = settings or WixSettings()
        wix_settings = WixSettings(**{**_as_dict(wix_settings), "base_url": emu.url})
        async with WixClient(api_key=KEY, site_id=SITE, settings=wix_settings) as client:
            yield emu, await open_store(client, settings=walk)


def _as_dict(settings: WixSettings) -> dict:
    return {name: getattr(settings, name) for name in settings.__dataclass_fields__}


def config(catalog: str, products: int, **overrides) -> EmulatorConfig:
    values = {"catalog": catalog, "site_id": SITE, "api_key": KEY,
              "generate_products": products, "seed": 7, "rate_limit": None}
    values.update(overrides)
    return EmulatorConfig(**values)


def expected_rows(emu: RunningEmulator, *, skip: tuple[str, ...] = ()) -> Counter:
    """The emulator's truth, in the walker's terms.

    Untracked V1 variants: the API omits their stored quantity, so it is not compared.
    V3 variants without an inventory item are invisible to an inventory walk (gotcha 18).
    """
    rows: Counter = Counter()
    for row in emu.state():
        if row["inventory_item_id"] is None:
            continue
        if not row["tracked"]:
            row = {**row, "quantity": None}
        rows[tuple(row[f] for f in FIELDS if f not in skip)] += 1
    return rows


def walked_rows(snapshot: StoreSnapshot, *, skip: tuple[str, ...] = ()) -> Counter:
    return Counter(tuple(getattr(v, f) for f in FIELDS if f not in skip)
                   for v in snapshot.variants)


@pytest.mark.slow
async def test_v1_walk_of_12000_products_reads_every_variant_including_hidden():
    products = 12_000
    async with emulated_store(config("v1", products)) as (emu, store):
        snapshot = await store.walk()
        stats = emu.stats()
    assert walked_rows(snapshot) == expected_rows(emu)
    assert any(v.hidden for v in snapshot.variants)
    per_product = Counter(v.product_id for v in snapshot.variants)
    assert max(per_product.values()) > 100  # products with hundreds of variants came whole
    assert len(per_product) == products
    # ceil(P/100) pages, the version call, and not one call more than the +2 allowance.
    assert stats["requests_total"] <= math.ceil(products / 100) + 2
    assert snapshot.api_calls <= math.ceil(products / 100) + 1
    assert stats["rate_limited"] == 0


async def test_v1_sequential_crawl_reads_the_same_store():
    async with emulated_store(config("v1", 450),
                              walk=WalkSettings(parallel_pages=False)) as (emu, store):
        snapshot = await store.walk()
    assert walked_rows(snapshot) == expected_rows(emu)
    # Five pages and the empty one that proves the end (a short page does not).
    assert snapshot.api_calls == math.ceil(450 / 100) + 1


async def test_v3_walk_reads_every_item_in_ceil_i_over_1000_calls():
    async with emulated_store(config("v3", 1500),
                              walk=WalkSettings(v3_product_visibility=True)) as (emu, store):
        snapshot = await store.walk()
        stats = emu.stats()
    items = sum(expected_rows(emu).values())
    assert items > 10_000
    assert walked_rows(snapshot) == expected_rows(emu)
    assert any(v.hidden for v in snapshot.variants)
    # ceil(I/1000) item pages, one part-filled page more per productId range the first
    # walk reads side by side (16 at most), one page of hidden products, the version call.
    assert stats["requests_total"] <= math.ceil(items / 1000) + 16 + 2


async def test_v3_walk_without_product_visibility_costs_only_the_item_pages():
    async with emulated_store(config("v3", 800)) as (emu, store):
        snapshot = await store.walk()
        stats = emu.stats()
    # Without the extra pass, hidden reflects the variant's own visibility only.
    assert walked_rows(snapshot, skip=("hidden",)) == expected_rows(emu, skip=("hidden",))
    items = sum(expected_rows(emu).values())
    assert snapshot.api_calls == math.ceil(items / 1000)
    assert stats["requests_total"] == snapshot.api_calls + 1


@pytest.mark.parametrize("catalog", ["v1", "v3"])
async def test_walk_returns_the_exact_store_despite_failures_and_latency(catalog):
    faulty = config(catalog, 3000 if catalog == "v1" else 1200, fail_rate=0.1, drop_rate=0.03,
                    latency_ms=200)
    patient = WixSettings(retry_delays_s=(0.0,) * 8, jitter=0.0)
    async with emulated_store(faulty, settings=patient,
                              walk=WalkSettings(v3_product_visibility=True)) as (emu, store):
        snapshot = await store.walk()
        stats = emu.stats()
    assert stats["faults_injected"] > 0
    assert walked_rows(snapshot) == expected_rows(emu)


async def test_refresh_by_query_and_by_seed_flow_agree_with_the_walk():
    async with emulated_store(config("v1", 300)) as (_emu, store):
        snapshot = await store.walk()
        wanted = list(dict.fromkeys(v.product_id for v in snapshot.variants))[::29]
        by_query = await store.refresh(product_ids=wanted)
        seed_store = type(store)(store.client, WalkSettings(refresh_mode="seed"))
        by_seed = await seed_store.refresh(product_ids=wanted)
    expected = [v for v in snapshot.variants if v.product_id in set(wanted)]
    assert list(by_query.variants) == expected
    assert by_query.api_calls == 1
    assert list(by_seed.variants) == expected
    # The seed flow: Get Product, item, variants, and one read per variant.
    assert by_seed.api_calls == 3 * len(wanted) + len(expected)


async def test_v3_refresh_by_item_and_product_ids():
    async with emulated_store(config("v3", 200)) as (_emu, store):
        snapshot = await store.walk()
        picked = snapshot.variants[::50]
        by_item = await store.refresh(item_ids=[v.inventory_item_id for v in picked])
        product = snapshot.variants[7].product_id
        by_product = await store.refresh(product_ids=[product])
    def by_id(variants):
        return sorted(variants, key=lambda v: v.inventory_item_id)

    assert by_id(by_item.variants) == by_id(picked)
    assert by_id(by_product.variants) == by_id(
        v for v in snapshot.variants if v.product_id == product)


@pytest.mark.parametrize("catalog", ["v1", "v3"])
async def test_a_cancelled_walk_stops_its_tasks_promptly(catalog):
    async with emulated_store(config(catalog, 1500, latency_ms=300)) as (_emu, store):
        walk = asyncio.create_task(store.walk(), name="walk under test")
        await asyncio.sleep(0.5)
        assert not walk.done()
        walk.cancel()
        async with asyncio.timeout(2.0):
            with pytest.raises(asyncio.CancelledError):
                await walk
        left = [t.get_name() for t in asyncio.all_tasks() if t.get_name().startswith("wix ")]
        assert left == []
