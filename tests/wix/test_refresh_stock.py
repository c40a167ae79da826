"""A V1 re-read of many products whose pages lack stock costs one Query Inventory crawl,
not one Get Inventory Variants per product; a few products still cost one call each."""

from __future__ import annotations

import math

from syncd_emulator.variants import WixVariants

from .test_emulator_walk import config, emulated_store

GET_VARIANTS = "POST /stores-reader/v2/inventoryItems/{inventoryId}/getVariants"
QUERY_INVENTORY = "POST /stores-reader/v2/inventoryItems/query"


def _requests(emu) -> dict[str, int]:
    return dict(emu.stats()["requests"])


async def test_a_re_read_of_many_products_without_stock_crawls_the_inventory_once():
    products = 300
    variants = WixVariants(no_variant_stock=True)
    async with emulated_store(config("v1", products, variants=variants)) as (emu, store):
        walked = await store.walk()
        before = _requests(emu)
        ids = list(dict.fromkeys(v.product_id for v in walked.variants))[:250]
        fresh = await store.refresh(product_ids=ids)
        after = _requests(emu)
    spent = {k: after.get(k, 0) - before.get(k, 0) for k in after}
    assert {v.product_id for v in fresh.variants} == set(ids)
    assert sorted((v.variant_id, v.quantity) for v in fresh.variants) == sorted(
        (v.variant_id, v.quantity) for v in walked.variants if v.product_id in set(ids))
    assert spent.get(QUERY_INVENTORY, 0) <= math.ceil(products / 100) + 1
    assert spent.get(GET_VARIANTS, 0) == 0
    assert fresh.api_calls <= math.ceil(250 / 100) + math.ceil(products / 100) + 1


async def test_a_re_read_of_a_few_products_without_stock_asks_each_one():
    variants = WixVariants(no_variant_stock=True)
    async with emulated_store(config("v1", 300, variants=variants)) as (emu, store):
        walked = await store.walk()
        before = _requests(emu)
        ids = list(dict.fromkeys(v.product_id for v in walked.variants))[:3]
        fresh = await store.refresh(product_ids=ids)
        after = _requests(emu)
    assert {v.product_id for v in fresh.variants} == set(ids)
    assert after.get(GET_VARIANTS, 0) - before.get(GET_VARIANTS, 0) == 3
    assert after.get(QUERY_INVENTORY, 0) == before.get(QUERY_INVENTORY, 0)


async def test_a_re_read_of_many_products_asks_for_its_chunks_at_once_and_keeps_their_order():
    # The re-read that verifies a round of deltas names thousands of products: its pages
    # go out together (the limiter paces them) instead of one after another, so the time
    # after the last write is not a hundred round trips long.
    async with emulated_store(config("v1", 600, latency_ms=20)) as (_emu, store):
        walked = await store.walk()
        ids = list(dict.fromkeys(v.product_id for v in walked.variants))[::-1]
        client = store.client  # type: ignore[attr-defined]
        asking = {"now": 0, "most": 0}
        request_as = client.request_as

        async def counted(*args, **kwargs):
            asking["now"] += 1
            asking["most"] = max(asking["most"], asking["now"])
            try:
                return await request_as(*args, **kwargs)
            finally:
                asking["now"] -= 1

        client.request_as = counted
        fresh = await store.refresh(product_ids=ids)
    assert asking["most"] > 1
    assert fresh.api_calls == math.ceil(len(ids) / 100)
    chunk_of = {pid: n // 100 for n, pid in enumerate(ids)}
    order = [chunk_of[pid] for pid in dict.fromkeys(v.product_id for v in fresh.variants)]
    assert order == sorted(order) and len(order) == len(ids)
