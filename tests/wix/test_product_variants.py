"""Reading one product's variants by offset ends however the server pages, and never loops."""

from __future__ import annotations

from typing import Any

import pytest

from syncd.base.errors import WixWalkIncomplete
from syncd.edges.wix.answers import convert_answer
from syncd.edges.wix.product_variants import MAX_PRODUCT_VARIANTS, read_product_variants


class Pages:
    """Answers Query Product Variants from a script of pages (by call), counting calls."""

    def __init__(self, answer) -> None:
        self.answer = answer
        self.offsets: list[int] = []

    async def request_as(self, answer, method, path, **kwargs):
        """Like the client: the fake's JSON decoded into ``answer``."""
        return convert_answer(await self.request(method, path, **kwargs), answer,
                              endpoint=kwargs.get("endpoint", path))

    async def request(self, method: str, path: str, *, body: Any, **_: Any) -> dict:
        offset = body["paging"]["offset"]
        self.offsets.append(offset)
        return self.answer(offset, len(self.offsets))


def variants(start: int, count: int) -> list[dict]:
    return [{"id": f"v{n}"} for n in range(start, start + count)]


async def read(pages: Pages, page_size: int = 100) -> list[dict]:
    return await read_product_variants(pages, path="/p/variants/query",  # type: ignore[arg-type]
                                       endpoint="v1.product_variants.query",
                                       page_size=page_size)


async def test_a_short_page_mid_stream_does_not_end_the_read_without_a_total():
    store = variants(0, 250)
    pages = Pages(lambda offset, _n: {"variants": store[offset:offset + 60]})
    assert [v.id for v in await read(pages)] == [v["id"] for v in store]
    assert pages.offsets == [0, 60, 120, 180, 240, 250]


async def test_a_short_page_ends_the_read_when_the_total_says_all_are_in():
    store = variants(0, 30)
    pages = Pages(lambda offset, _n: {"variants": store[offset:offset + 100],
                                      "totalResults": 30})
    assert len(await read(pages)) == 30
    assert pages.offsets == [0]


async def test_a_total_above_what_was_read_keeps_reading():
    store = variants(0, 150)
    pages = Pages(lambda offset, _n: {"variants": store[offset:offset + 70],
                                      "totalResults": 150})
    assert len(await read(pages)) == 150


async def test_a_server_repeating_the_same_page_stops_the_read_loudly():
    pages = Pages(lambda _offset, _n: {"variants": variants(0, 100)})
    with pytest.raises(WixWalkIncomplete, match="kept answering"):
        await read(pages)
    assert len(pages.offsets) < 20


async def test_a_server_inventing_variants_forever_stops_at_the_product_limit():
    pages = Pages(lambda offset, _n: {"variants": variants(offset, 100)})
    with pytest.raises(WixWalkIncomplete, match="at most 1000"):
        await read(pages)
    assert len(pages.offsets) <= MAX_PRODUCT_VARIANTS // 100 + 1
