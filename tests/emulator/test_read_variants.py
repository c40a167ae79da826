"""The read-side switches: numericId bound types, cursor ends and expiry, 429 hints and
bodies, each playing its other reading only when on."""

from __future__ import annotations

import aiohttp

from syncd_emulator.variants import RETRY_AFTER_HUGE_S, WixVariants

from .conftest import AUTH, Connect

ITEMS = "/stores/v3/inventory-items/query"
VERSION = "/stores/v3/provision/version"


def on(*names: str) -> WixVariants:
    return WixVariants(**dict.fromkeys(names, True))


async def test_a_number_bound_matches_nothing_when_only_strings_compare(wix: Connect):
    w = await wix(catalog="v1", generate_products=20, seed=3,
                  variants=on("numeric_bound_string_only"))
    first = int(w.emu.store.products[0].numeric_id)
    as_number = await w.query_products(query={"filter": {"numericId": {"$gt": first}}},
                                       includeHiddenProducts=True)
    as_string = await w.query_products(query={"filter": {"numericId": {"$gt": str(first)}}},
                                       includeHiddenProducts=True)
    assert as_number.body["products"] == []
    assert len(as_string.body["products"]) == 19


async def test_a_number_bound_is_refused_when_the_type_is_checked(wix: Connect):
    w = await wix(catalog="v1", generate_products=20, seed=3,
                  variants=on("numeric_bound_type_refused"))
    first = int(w.emu.store.products[0].numeric_id)
    as_number = await w.query_products(query={"filter": {"numericId": {"$gt": first}}},
                                       includeHiddenProducts=True)
    as_string = await w.query_products(query={"filter": {"numericId": {"$gt": str(first)}}},
                                       includeHiddenProducts=True)
    assert as_number.status == 400 and "numericId" in as_number.body["message"]
    assert len(as_string.body["products"]) == 19


async def _follow(w, query: dict) -> tuple[list[dict], list[dict]]:
    """Pages and paging metadata of a query, following at most 5 cursors."""
    pages, metas = [], []
    for _ in range(5):
        answer = await w.post(ITEMS, {"query": query})
        assert answer.status == 200, answer.body
        pages.append(answer.body["inventoryItems"])
        metas.append(answer.body["pagingMetadata"])
        cursor = answer.body["pagingMetadata"]["cursors"]["next"]
        if not cursor:
            break
        query = {"cursorPaging": {"limit": 5, "cursor": cursor}}
    return pages, metas


async def test_the_last_page_keeps_a_cursor_to_an_empty_page(wix: Connect):
    w = await wix(catalog="v3", variants=on("cursor_on_last_page"))
    total = len([r for r in w.emu.state() if r["inventory_item_id"]])
    pages, metas = await _follow(w, {"cursorPaging": {"limit": total}})
    assert [len(p) for p in pages[:3]] == [total, 0, 0]
    assert all(m["cursors"]["next"] for m in metas), "the cursor never goes away"
    search = await w.post("/stores/v3/inventory-items/search",
                          {"search": {"cursorPaging": {"limit": total}}})
    assert search.body["pagingMetadata"]["hasNext"] is False
    assert search.body["pagingMetadata"]["cursors"]["next"]


async def test_by_default_the_last_page_carries_no_cursor(wix: Connect):
    w = await wix(catalog="v3")
    total = len([r for r in w.emu.state() if r["inventory_item_id"]])
    pages, metas = await _follow(w, {"cursorPaging": {"limit": total}})
    assert len(pages) == 1 and metas[0]["cursors"]["next"] is None


async def test_an_expiring_cursor_is_refused_once_then_the_query_asked_again_is_served(
        wix: Connect):
    w = await wix(catalog="v3", variants=on("expiring_cursor"))
    first = await w.post(ITEMS, {"query": {"cursorPaging": {"limit": 2}}})
    cursor = first.body["pagingMetadata"]["cursors"]["next"]
    expired = await w.post(ITEMS, {"query": {"cursorPaging": {"limit": 2, "cursor": cursor}}})
    assert expired.status == 400 and "expired" in expired.body["message"]
    again = await w.post(ITEMS, {"query": {"cursorPaging": {"limit": 2}}})
    cursor = again.body["pagingMetadata"]["cursors"]["next"]
    served = await w.post(ITEMS, {"query": {"cursorPaging": {"limit": 2, "cursor": cursor}}})
    assert served.status == 200 and len(served.body["inventoryItems"]) == 2


async def _over_budget(w) -> aiohttp.ClientResponse:
    await w.get(VERSION)
    return await w.session.get(w.emu.url + VERSION, headers=AUTH)


async def test_retry_after_in_milliseconds_says_when_the_window_frees(wix: Connect):
    w = await wix(catalog="v1", rate_limit=(1, 2.0), variants=on("retry_after_ms"))
    async with await _over_budget(w) as answer:
        assert answer.status == 429
        assert 1000 < int(answer.headers["Retry-After"]) <= 2000


async def test_a_huge_retry_after_says_a_day(wix: Connect):
    w = await wix(catalog="v1", rate_limit=(1, 2.0), variants=on("retry_after_huge"))
    async with await _over_budget(w) as answer:
        assert answer.status == 429
        assert answer.headers["Retry-After"] == str(RETRY_AFTER_HUGE_S)


async def test_text_429_answers_429_and_5xx_in_html_or_plain_text(wix: Connect):
    w = await wix(catalog="v1", rate_limit=(1, 60.0), variants=on("text_429"))
    async with await _over_budget(w) as answer:
        assert answer.status == 429 and answer.content_type == "text/html"
        assert "<html>" in await answer.text()
    w2 = await wix(catalog="v1", fail_rate=1.0, variants=on("text_429"))
    async with w2.session.get(w2.emu.url + VERSION, headers=AUTH) as answer:
        assert answer.status >= 500 and answer.content_type == "text/plain"
        assert (await answer.text()).strip()


async def test_a_wrong_key_answers_403_instead_of_401_when_switched(wix: Connect):
    for variants, status in ((WixVariants(), 401), (on("auth_403"), 403)):
        w = await wix(catalog="v1", generate_products=3, variants=variants)
        answer = await w.call("GET", "/stores/v3/provision/version",
                              headers={**AUTH, "Authorization": "not-the-key"})
        assert answer.status == status


async def test_metadata_items_echoes_the_limit_when_switched(wix: Connect):
    for variants, items in ((WixVariants(), 7), (on("items_echo_limit"), 100)):
        w = await wix(catalog="v1", generate_products=7, variants=variants)
        answer = await w.query_products(query={"paging": {"limit": 100}},
                                        includeHiddenProducts=True)
        assert len(answer.body["products"]) == 7
        assert answer.body["metadata"]["items"] == items


async def test_query_inventory_leaves_hidden_products_out_when_switched(wix: Connect):
    for variants in (WixVariants(), on("inventory_hides_hidden")):
        w = await wix(catalog="v1", generate_products=60, seed=2, variants=variants)
        hidden = {p.id for p in w.emu.store.products if not p.visible}
        assert hidden, "the generated store has hidden products"
        answer = await w.call("POST", "/stores-reader/v2/inventoryItems/query",
                              {"query": {"paging": {"limit": 100}}}, headers=AUTH)
        listed = {item["productId"] for item in answer.body["inventoryItems"]}
        assert bool(hidden & listed) is not variants.inventory_hides_hidden
        assert len(listed) == 60 - (len(hidden) if variants.inventory_hides_hidden else 0)
