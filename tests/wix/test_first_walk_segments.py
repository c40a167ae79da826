"""A process's first V3 walk reads the store as productId ranges side by side, sized from
the first range's first page, and still reads every item exactly once."""

from __future__ import annotations

import math
from typing import Any

from syncd.edges.config import WalkSettings

from .test_emulator_walk import config, emulated_store, expected_rows, walked_rows


def _spy(store: Any) -> list[dict[str, Any]]:
    """Record the ``query`` of every Query Inventory Items request the store's client sends."""
    client = store.client
    sent: list[dict[str, Any]] = []
    original = client.request_as

    async def request_as(answer: Any, method: str, path: str, **kwargs: Any) -> Any:
        if kwargs.get("endpoint") == "v3.inventory_items.query":
            sent.append(dict((kwargs.get("body") or {}).get("query") or {}))
        return await original(answer, method, path, **kwargs)

    client.request_as = request_as
    return sent


def _first_pages(sent: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The filters of the queries' first pages (follow-ups carry only a cursor)."""
    return [q.get("filter") or {} for q in sent if "cursor" not in q.get("cursorPaging", {})]


async def test_the_first_v3_walk_of_a_process_reads_in_segments_side_by_side():
    walk = WalkSettings(v3_segments=4)
    async with emulated_store(config("v3", 900), walk=walk) as (emu, store):
        sent = _spy(store)
        first = await store.walk()
        truth = expected_rows(emu, skip=("hidden",))
        items = sum(1 for r in emu.state() if r["inventory_item_id"])
    assert items > 4 * 1000, "the store is large enough for every segment"
    ranges = _first_pages(sent)
    assert len(ranges) == 4, ranges
    assert all("productId" in f for f in ranges), "every query is a productId range"
    assert walked_rows(first, skip=("hidden",)) == truth
    ids = [v.inventory_item_id for v in first.variants]
    assert len(ids) == len(set(ids)), "no item read twice"
    assert first.api_calls <= math.ceil(items / 1000) + 4  # one part-filled page a range


async def test_a_small_store_first_walk_costs_one_call_more_than_one_cursor():
    walk = WalkSettings(v3_segments=16)
    async with emulated_store(config("v3", 40), walk=walk) as (emu, store):
        sent = _spy(store)
        first = await store.walk()
        second = await store.walk()
        truth = expected_rows(emu, skip=("hidden",))
    assert walked_rows(first, skip=("hidden",)) == truth
    assert walked_rows(second, skip=("hidden",)) == truth
    assert first.api_calls == 2, "the first range sized the rest as one more range"
    assert second.api_calls == 1, "sized from the first walk: one cursor"
    assert len(_first_pages(sent)) == 3
