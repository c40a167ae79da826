"""A V1 walk proves it read the whole store, or fails naming what did not add up.

The numericId bound may be compared by type (a number or a string matching nothing) or
refused when of the other type; ``totalResults`` may count visible products only. Under
each reading the walk returns the exact store; under none may it return part of one.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import pytest
import structlog

from syncd.base.errors import WixWalkIncomplete
from syncd.edges.config import WalkSettings
from syncd.edges.wix.answers import convert_answer
from syncd.edges.wix.client import CallCounter
from syncd.edges.wix.crawl_v1 import NumericIdCrawl, OffsetLimit
from syncd.edges.wix.walk_v1 import PRODUCTS as PRODUCTS_TARGET
from syncd_emulator.variants import WixVariants

from .test_emulator_walk import config, emulated_store, expected_rows, walked_rows

PRODUCTS = 1_000


def _variants(*names: str) -> WixVariants:
    return WixVariants(**dict.fromkeys(names, True))


@pytest.mark.parametrize("parallel", [True, False], ids=["parallel", "sequential"])
@pytest.mark.parametrize("reading", [
    "numeric_bound_string_only", "numeric_bound_type_refused", "strict_numeric_bound"])
async def test_the_walk_learns_the_bound_type_and_reads_every_product(reading, parallel):
    variants = _variants(reading, "visible_totals")
    async with emulated_store(config("v1", PRODUCTS, variants=variants),
                              walk=WalkSettings(parallel_pages=parallel)) as (emu, store):
        first = await store.walk()
        second = await store.walk()
        truth = expected_rows(emu)
    assert walked_rows(first) == truth and walked_rows(second) == truth
    minimum = math.ceil((PRODUCTS + 1) / 100)
    learned = 0 if reading == "strict_numeric_bound" else 1
    assert first.api_calls <= minimum + learned, "one second look, only where the type fails"
    assert second.api_calls <= minimum, "the type is learned once per reader"


async def test_a_default_walk_spends_no_call_on_its_proof():
    async with emulated_store(config("v1", PRODUCTS)) as (_, store):
        snapshot = await store.walk()
    assert snapshot.api_calls == math.ceil((PRODUCTS + 1) / 100)


@pytest.mark.parametrize("parallel", [True, False], ids=["parallel", "sequential"])
async def test_a_filter_that_matches_nothing_either_way_fails_the_walk_loudly(parallel):
    # Both bound types match nothing: only the unfiltered pages answer.
    variants = _variants("strict_numeric_bound", "numeric_bound_string_only")
    async with emulated_store(config("v1", PRODUCTS, variants=variants),
                              walk=WalkSettings(parallel_pages=parallel)) as (_, store):
        with pytest.raises(WixWalkIncomplete) as caught:
            await store.walk()
    text = str(caught.value)
    assert "cannot prove it read the whole store" in text
    assert "numericIds" in text and "records read" in text
    assert ("matched nothing" in text) if parallel else (f"counts {PRODUCTS}" in text)


class FakeQueryProducts:
    """Query Products over a list of numericIds, with hooks to change the store mid-walk."""

    def __init__(self, numeric_ids: list[int], *, total_bias: int = 0,
                 empty_past: int | None = None) -> None:
        self.ids = sorted(numeric_ids)
        self.total_bias = total_bias
        """Added to ``totalResults``: a count that disagrees with what is served."""
        self.empty_past = empty_past
        """Filtered pages past this numericId come back empty whatever the bound type."""
        self.calls = 0
        self.before_call: Callable[[int], None] = lambda n: None

    async def request_as(self, answer, method, path, **kwargs):
        """Like the client: the fake's JSON decoded into ``answer``."""
        return convert_answer(await self.request(method, path, **kwargs), answer,
                              endpoint=kwargs.get("endpoint", path))

    async def request(self, method: str, path: str, *, endpoint: str, body: dict[str, Any],
                      counter: CallCounter | None = None, **_: Any) -> dict[str, Any]:
        self.calls += 1
        self.before_call(self.calls)
        query = body["query"]
        bounds = json.loads(query.get("filter") or "{}").get("numericId", {})
        low, high = int(bounds.get("$gt", -1)), int(bounds.get("$lte", 1 << 62))
        matches = [n for n in self.ids if low < n <= high]
        if bounds and self.empty_past is not None and low >= self.empty_past:
            matches = []
        if json.loads(query["sort"])[0]["numericId"] == "desc":
            matches.reverse()
        offset, limit = query["paging"]["offset"], query["paging"]["limit"]
        page = matches[offset : offset + limit]
        return {"products": [{"id": f"p{n}", "numericId": str(n)} for n in page],
                "totalResults": len(matches) + self.total_bias}


async def _crawl(fake: FakeQueryProducts, *, parallel: bool = True) -> list[int]:
    read: list[int] = []

    async def keep(record: Any) -> None:
        read.append(record.numericId)

    crawl = NumericIdCrawl(fake, PRODUCTS_TARGET, counter=CallCounter(),  # type: ignore[arg-type]
                           offsets=OffsetLimit(20), parallel=parallel,
                           log=structlog.get_logger("test"))
    await crawl.run(keep)
    return read


@pytest.mark.parametrize("parallel", [True, False], ids=["parallel", "sequential"])
async def test_a_store_that_shrinks_during_the_walk_is_not_taken_for_a_short_walk(parallel):
    fake = FakeQueryProducts(list(range(1000, 2000)))
    top_lowest = 1900  # the top page's lowest product (parallel), deleted after round one

    def delete(call: int) -> None:
        if call == 3:
            fake.ids = [n for n in fake.ids if n not in (1500, 1501, top_lowest)]

    fake.before_call = delete
    read = await _crawl(fake, parallel=parallel)
    assert set(read) >= set(fake.ids)


@pytest.mark.parametrize("parallel", [True, False], ids=["parallel", "sequential"])
async def test_a_total_larger_than_what_the_pages_hold_fails_the_walk(parallel):
    fake = FakeQueryProducts(list(range(1000, 1450)), total_bias=30)
    with pytest.raises(WixWalkIncomplete, match=r"counts 480 records .* the walk read 450"):
        await _crawl(fake, parallel=parallel)


@pytest.mark.parametrize("parallel", [True, False], ids=["parallel", "sequential"])
async def test_pages_empty_past_some_point_whatever_the_type_fail_the_walk(parallel):
    fake = FakeQueryProducts(list(range(1000, 13000)), empty_past=1199)
    with pytest.raises(WixWalkIncomplete) as caught:
        await _crawl(fake, parallel=parallel)
    assert "numericIds 1000.." in str(caught.value)
    assert fake.calls <= 2 + 20 + 3, "a window, then a few second looks, not the rest"


async def test_a_filter_that_does_not_move_forward_is_not_followed_forever():
    fake = FakeQueryProducts(list(range(1000, 1450)))
    stuck = fake.request

    async def ignore_the_lower_bound(*args: Any, **kwargs: Any) -> dict[str, Any]:
        body = kwargs["body"]
        query = dict(body["query"])
        query.pop("filter", None)
        return await stuck(*args, **{**kwargs, "body": {**body, "query": query}})

    fake.request = ignore_the_lower_bound  # type: ignore[method-assign]
    with pytest.raises(WixWalkIncomplete, match="did not move the crawl forward"):
        await _crawl(fake, parallel=False)
