"""A numericId crawl of a V1 query endpoint (Query Products, Query Inventory) that is complete
whichever way Wix's unconfirmed paging behaviours turn out.

What the crawl does *not* rely on (each is unconfirmed, see the contract §4 and gotcha 3):

- a short page meaning the end: pages may come back short mid-stream;
- ``totalResults``: it may count visible products only; it is used as a hint for how many
  pages to fetch at once, never to decide that the crawl is over;
- offsets near 10,000: where offsets start failing is unknown.

What it does rely on: a page holds matches in ``numericId`` order with none skipped between
its first and last (a short page is a prefix), and the ``numericId`` bound is sent as a JSON
number, as Wix's pagination doc shows (a string bound might compare by type and match
nothing past the first page).

How it ends without an extra empty page. The first round asks for the lowest 100
(ascending) and the highest 100 (descending) at once. The products between them are crawled
ascending with the filter ``last < numericId <= lowest-of-the-top-page``: the crawl is over
when a page reaches that product (everything up to it has been seen, and the top page covers
the rest) or when the first page of a filter is empty. That costs ceil((P + 1) / 100) calls,
the contract's ceil(P/100) plus one only when P is a multiple of 100, with no reliance on
the last page being short.

Speed. Once a filter's first page has said (as a hint) that T products follow, up to
``window_pages`` further pages of that filter are fetched concurrently by offset, at offsets
far below 10,000 (1,900 by default). The window's pages are kept only while every page
reports the same ``totalResults`` (products created or deleted meanwhile shift offsets); a
page that fails with a 4xx teaches the crawl that offsets that high do not work (it keeps
smaller windows from then on, and the crawl goes on from the last page it holds); a short
page inside a window leaves a gap before the next page, which is crawled sequentially. None
of this costs a call when Wix behaves as the emulator does by default.
"""

from __future__ import annotations

import json
import math
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import structlog

from syncd.errors import WixAuthError, WixClientError, WixError
from syncd.wix.http import CallCounter, JSONObject, WixClient
from syncd.wix.tasks import task_group

PAGE_SIZE = 100
"""V1 query maximum page size (``@max 100``)."""

Emit = Callable[[JSONObject], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class CrawlTarget:
    """One V1 query endpoint: where, what it is called, which list it answers with."""

    path: str
    endpoint: str
    list_key: str
    body: Mapping[str, Any]
    """Fields sent besides ``query`` (``includeVariants``, ``includeHiddenProducts``)."""


@dataclass(frozen=True, slots=True)
class _Page:
    records: list[JSONObject]
    total: int | None


class OffsetLimit:
    """The largest offset known to work; learned from failures, kept for the reader's life."""

    def __init__(self, window_pages: int) -> None:
        self.pages = max(1, window_pages)
        """Pages per window, the first (offset 0) included."""

    def learn_failure(self, offset: int) -> None:
        """An offset failed: use windows that stay below it from now on."""
        self.pages = max(1, min(self.pages, offset // PAGE_SIZE))


class NumericIdCrawl:
    """Emit every record of ``target`` once (or more: callers drop repeats by id)."""

    def __init__(
        self,
        client: WixClient,
        target: CrawlTarget,
        *,
        counter: CallCounter,
        offsets: OffsetLimit,
        parallel: bool,
        log: structlog.typing.FilteringBoundLogger,
    ) -> None:
        self._client = client
        self._target = target
        self._counter = counter
        self._offsets = offsets
        self._parallel = parallel
        self._log = log

    async def run(self, emit: Emit) -> None:
        """Crawl the whole endpoint, hidden products included (as ``target.body`` asks)."""
        if not self._parallel:
            await self._between(None, None, emit)
            return
        async with task_group() as group:
            low_task = group.create_task(self._page(None, None, 0, descending=False),
                                         name=f"wix crawl {self._target.endpoint} first")
            high_task = group.create_task(self._page(None, None, 0, descending=True),
                                          name=f"wix crawl {self._target.endpoint} last")
        low, high = low_task.result(), high_task.result()
        for record in low.records:
            await emit(record)
        if not low.records:
            return  # the first page of an unfiltered query is empty: nothing there
        cursor = numeric_id(low.records[-1])
        if not high.records:  # the store changed between the two answers: crawl it all
            await self._between(cursor, None, emit)
            return
        top = [r for r in high.records if numeric_id(r) > cursor]
        if len(top) < len(high.records):
            # The two ends overlap: every product lies within what the two pages hold.
            for record in reversed(top):
                await emit(record)
            return
        await self._between(cursor, numeric_id(high.records[-1]), emit)
        for record in reversed(high.records):
            await emit(record)

    async def _between(self, cursor: int | None, stop_at: int | None, emit: Emit) -> None:
        """Every record with ``cursor < numericId <= stop_at`` (None: unbounded)."""
        while True:
            window = await self._window(cursor, stop_at)
            if not window[0].records:
                return  # a filter's first page is empty: nothing left in the range
            for number, page in enumerate(window):
                for record in page.records:
                    await emit(record)
                following = window[number + 1] if number + 1 < len(window) else None
                if (following is not None and following.records and page.records
                        and len(page.records) < PAGE_SIZE):
                    # A short page inside a window: the next page starts PAGE_SIZE further
                    # on, so the records cut from this one are fetched by id range.
                    self._log.info("wix_crawl_gap", endpoint=self._target.endpoint,
                                   after_numeric_id=numeric_id(page.records[-1]))
                    await self._between(numeric_id(page.records[-1]),
                                        numeric_id(following.records[0]), emit)
            last = next(p for p in reversed(window) if p.records).records[-1]
            cursor = numeric_id(last)
            if stop_at is not None and cursor >= stop_at:
                return  # reached the record the range ends with

    async def _window(self, cursor: int | None, stop_at: int | None) -> list[_Page]:
        first = await self._page(cursor, stop_at, 0)
        pages_wanted = 1
        if first.total is not None and len(first.records) == PAGE_SIZE:
            pages_wanted = min(math.ceil(first.total / PAGE_SIZE), self._offsets.pages)
        if pages_wanted <= 1 or not self._parallel:
            return [first]
        offsets = [n * PAGE_SIZE for n in range(1, pages_wanted)]
        async with task_group() as group:
            tasks = [group.create_task(self._page_or_refusal(cursor, stop_at, offset),
                                       name=f"wix crawl {self._target.endpoint} +{offset}")
                     for offset in offsets]
        window = [first]
        for offset, task in zip(offsets, tasks, strict=True):
            page = task.result()
            if isinstance(page, WixClientError):
                self._offsets.learn_failure(offset)
                self._log.warning("wix_offset_refused", endpoint=self._target.endpoint,
                                  offset=offset, window_pages=self._offsets.pages,
                                  error=str(page))
                break
            if page.total != first.total:
                self._log.warning("wix_walk_window_moved", endpoint=self._target.endpoint,
                                  after_numeric_id=cursor)
                return [first]
            window.append(page)
        return window

    async def _page_or_refusal(
        self, cursor: int | None, stop_at: int | None, offset: int
    ) -> _Page | WixClientError:
        try:
            return await self._page(cursor, stop_at, offset)
        except WixAuthError:
            raise
        except WixClientError as exc:
            return exc

    async def _page(
        self, cursor: int | None, stop_at: int | None, offset: int, *, descending: bool = False
    ) -> _Page:
        query: JSONObject = {
            "sort": json.dumps([{"numericId": "desc" if descending else "asc"}]),
            "paging": {"limit": PAGE_SIZE, "offset": offset},
        }
        bounds: dict[str, int] = {}
        if cursor is not None:
            bounds["$gt"] = cursor
        if stop_at is not None:
            bounds["$lte"] = stop_at
        if bounds:
            query["filter"] = json.dumps({"numericId": bounds})
        data = await self._client.request(
            "POST", self._target.path, endpoint=self._target.endpoint,
            body={"query": query, **self._target.body}, counter=self._counter,
        )
        total = data.get("totalResults")
        return _Page(objects(data.get(self._target.list_key)),
                     total if isinstance(total, int) and not isinstance(total, bool) else None)


def numeric_id(record: Mapping[str, Any]) -> int:
    """A record's ``numericId`` as a number (sent unquoted in filters)."""
    value = record.get("numericId")
    try:
        return int(str(value))
    except ValueError:
        raise WixError(f"record {record.get('id')} has no usable numericId ({value!r}); "
                       "cannot crawl past it") from None


def objects(value: Any) -> list[JSONObject]:
    """The objects of a JSON list (a missing list is an empty one)."""
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []

