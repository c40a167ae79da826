"""A V3 cursor walk ends however the last page is marked, never repeats an item, restarts
a query whose cursor expired, and is bounded: never a loop, never a silent cut."""

from __future__ import annotations

import math
from typing import Any

import pytest
import structlog

from syncd.base.errors import WixClientError, WixWalkIncomplete
from syncd.edges.config import WalkSettings, WixSettings
from syncd.edges.wix import WixClient
from syncd.edges.wix.answers import V3InventoryObjectsPage, convert_answer
from syncd.edges.wix.bounds import PAGE_SLACK
from syncd.edges.wix.client import CallCounter
from syncd.edges.wix.cursor_v3 import MAX_RESTARTS, read_cursor_query
from syncd.edges.wix.variants_v3 import read_catalog_variants
from syncd_emulator.variants import WixVariants

from .test_emulator_walk import KEY, SITE, config, emulated_store, expected_rows, walked_rows

PRODUCTS = 600


def _items(emu) -> int:
    return sum(1 for r in emu.state() if r["inventory_item_id"])


@pytest.mark.parametrize("segments", [1, 4])
@pytest.mark.parametrize(("reading", "extra_per_query"), [
    ("cursor_on_last_page", 1),  # the kept cursor is followed once, to an empty page
    ("expiring_cursor", 2),  # the refused follow-up and the first page again
])
async def test_a_v3_walk_reads_every_item_once_whichever_way_cursors_end(
        reading, extra_per_query, segments):
    variants = WixVariants(**{reading: True})
    walk = WalkSettings(v3_segments=segments, v3_product_visibility=True)
    async with emulated_store(config("v3", PRODUCTS, variants=variants),
                              walk=walk) as (emu, store):
        first = await store.walk()
        second = await store.walk()  # sized from the first: several segments when asked
        truth = expected_rows(emu, skip=("hidden",))
        items = _items(emu)
    for snapshot in (first, second):
        assert walked_rows(snapshot, skip=("hidden",)) == truth
        ids = [v.inventory_item_id for v in snapshot.variants]
        assert len(ids) == len(set(ids)), "no item read twice"
    hidden_pass = 1  # the hidden products fit one page of 100
    queries = 2  # the item query and the hidden-products query
    # One part-filled page more per productId range, and each range's cursor ends its way.
    queries += segments - 1 if segments > 1 else 0
    assert first.api_calls <= (math.ceil(items / 1000) + (segments if segments > 1 else 0)
                               + hidden_pass + extra_per_query * queries)


class FakeCursorServer:
    """Query answers from a function of the call number; records what was asked."""

    def __init__(self, answer) -> None:
        self.answer = answer
        self.calls: list[dict[str, Any]] = []
        self.log = structlog.get_logger("test")

    async def request_as(self, answer, method, path, **kwargs):
        """Like the client: the fake's JSON decoded into ``answer``."""
        return convert_answer(await self.request(method, path, **kwargs), answer,
                              endpoint=kwargs.get("endpoint", path))

    async def request(self, method: str, path: str, *, endpoint: str, body: dict[str, Any],
                      counter: CallCounter | None = None, **_: Any) -> dict[str, Any]:
        self.calls.append(body["query"])
        return self.answer(len(self.calls), body["query"])


def _page(ids: list[int], cursor: str | None, **paging: Any) -> dict[str, Any]:
    return {"inventoryItems": [{"id": f"i{n}"} for n in ids],
            "pagingMetadata": {"cursors": {"next": cursor}, **paging}}


async def _read(server: FakeCursorServer) -> list[dict[str, Any]]:
    return await read_cursor_query(
        server, path="/q", endpoint="v3.inventory_items.query",  # type: ignore[arg-type]
        answer=V3InventoryObjectsPage, query_filter=None, page_size=3, counter=CallCounter())


async def test_a_last_page_that_repeats_itself_ends_the_query_without_repeats():
    def answer(call: int, query: dict[str, Any]) -> dict[str, Any]:
        return _page([1, 2, 3], "c1") if call == 1 else _page([4, 5], "c-last")

    server = FakeCursorServer(answer)
    items = await _read(server)
    assert [i["id"] for i in items] == ["i1", "i2", "i3", "i4", "i5"]
    assert len(server.calls) == 3


async def test_has_next_false_is_believed_over_a_cursor():
    server = FakeCursorServer(lambda call, q: _page([1, 2], "c", hasNext=False))
    assert len(await _read(server)) == 2 and len(server.calls) == 1


async def test_a_server_that_always_has_more_is_stopped_by_the_page_budget():
    # One new item per page, forever: the pages soon outnumber what the items explain.
    server = FakeCursorServer(lambda call, q: _page([call], f"c{call}"))
    with pytest.raises(WixWalkIncomplete, match="pages hold only"):
        await _read(server)
    assert len(server.calls) <= 3 * PAGE_SLACK, "1 item per page of 3: stopped near 3x slack"


async def test_a_cursor_refused_every_time_fails_after_a_few_restarts():
    def answer(call: int, query: dict[str, Any]) -> dict[str, Any]:
        if "cursor" in query["cursorPaging"]:
            raise WixClientError("HTTP 400: cursor expired", status=400)
        return _page([1, 2, 3], "c")

    server = FakeCursorServer(answer)
    with pytest.raises(WixWalkIncomplete, match="cursor was refused"):
        await _read(server)
    assert len(server.calls) == 2 * (MAX_RESTARTS + 1)


async def test_catalog_variants_end_on_a_kept_last_cursor_and_survive_expiry(emulator):
    emu = await emulator(catalog="v3", site_id=SITE, api_key=KEY, rate_limit=None,
                         generate_products=PRODUCTS,
                         variants=WixVariants(cursor_on_last_page=True, expiring_cursor=True))
    async with WixClient(api_key=KEY, site_id=SITE,
                         settings=WixSettings(base_url=emu.url)) as client:
        variants, calls = await read_catalog_variants(client)
    assert len(variants) == sum(len(p.variants) for p in emu.store.products)
    pages = math.ceil(len(variants) / 1000)
    assert pages > 1, "the store must need a follow-up cursor"
    assert calls <= pages + 1 + 2, "the kept cursor once, the expired one and a restart"
