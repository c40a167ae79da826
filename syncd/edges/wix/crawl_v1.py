"""A numericId crawl of a V1 query endpoint (Query Products, Query Inventory) that is complete
whichever way Wix's unconfirmed paging behaviours turn out.

What the crawl does *not* rely on (each is unconfirmed, see the contract §4 and gotcha 3):

- a short page meaning the end: pages may come back short mid-stream;
- ``totalResults``: it may count visible products only; it is used as a hint for how many
  pages to fetch at once, never to decide that the crawl is over;
- offsets near 10,000: where offsets start failing is unknown.

What it does rely on: a page holds matches in ``numericId`` order with none skipped between
its first and last (a short page is a prefix).

The bound's JSON type. ``numericId`` is an int64 string on the wire; Wix's pagination doc
shows the bound unquoted. Whether a bound of the other type is compared, refused (400) or
silently matches nothing is unconfirmed, so the type is learned (``BoundType``, kept for the
reader's life): a number first; a filtered first page that is refused, or empty before the
type has ever matched anything, is asked again with a string (and the other way round).

Completeness is proven, never assumed. Every walk ends with a proof that costs nothing when
it holds: the records read must number at least the ``totalResults`` of the unfiltered
pages (which may count visible products only, so a smaller total is consistent and a larger
one is not), and a range that should hold the top page's lowest product must reach it. When
either fails, a second look (the top page again, for a fresh count; or the range without its
upper bound) tells a store that changed during the walk from a filter that stopped matching;
the latter raises ``WixWalkIncomplete`` naming the counts and the numericIds read. Loops are
bounded too: a page must move the crawl past the last numericId, and the pages of a walk may
not outnumber what the store's size allows (``page_budget``).

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
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

import structlog

from syncd.base.errors import (
    WixAuthError,
    WixClientError,
    WixConflict,
    WixError,
    WixForeignAnswer,
    WixNotFound,
    WixWalkIncomplete,
)
from syncd.edges.wix.answer_digest import KnownAnswers
from syncd.edges.wix.bounds import page_budget
from syncd.edges.wix.client import CallCounter, JSONObject, WixClient
from syncd.edges.wix.tasks import task_group

PAGE_SIZE = 100
"""V1 query maximum page size (``@max 100``)."""


class Record(Protocol):
    """What the crawl reads of a record (a product, an inventory item)."""

    @property
    def id(self) -> str | None: ...

    @property
    def numericId(self) -> int | None: ...


R = TypeVar("R", bound=Record)
R_co = TypeVar("R_co", bound=Record, covariant=True)


class Listing(Protocol[R_co]):
    """One answer of a V1 query endpoint, decoded (``syncd.edges.wix.answers``)."""

    @property
    def records(self) -> Sequence[R_co]: ...

    @property
    def totalResults(self) -> int | None: ...


Emit = Callable[[R], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class CrawlTarget(Generic[R]):
    """One V1 query endpoint: where, what it is called, what its answers decode into."""

    path: str
    endpoint: str
    answer: type[Listing[R]]
    body: Mapping[str, Any]
    """Fields sent besides ``query`` (``includeVariants``, ``includeHiddenProducts``)."""


@dataclass(frozen=True, slots=True)
class _Page(Generic[R]):
    records: Sequence[R]
    total: int | None


class BoundType:
    """The JSON type a ``numericId`` bound is sent as, learned from Wix's answers."""

    def __init__(self, *, as_string: bool = False) -> None:
        self.as_string = as_string
        """Send bounds as strings (the field's wire type) instead of numbers."""
        self.proven = False
        """A filtered page sent with this type has returned records: the type works."""

    def encode(self, value: int) -> int | str:
        """A bound as it is sent."""
        return str(value) if self.as_string else value

    @property
    def name(self) -> str:
        """``string`` or ``number``."""
        return "string" if self.as_string else "number"


class OffsetLimit:
    """What a store taught its crawls, kept for the reader's life: the largest offset known
    to work (learned from failures) and, per endpoint, the ``numericId`` bound type."""

    def __init__(self, window_pages: int, *, bound_as_string: bool = False) -> None:
        self.pages = max(1, window_pages)
        self._bound_as_string = bound_as_string
        """Start with string bounds (a probe found number bounds refused or unmatched)."""
        """Pages per window, the first (offset 0) included."""
        self.bounds: dict[str, BoundType] = {}
        """The bound type each endpoint compares, once learned."""

    def bound(self, endpoint: str) -> BoundType:
        """The bound type of ``endpoint`` (a number, or a string when a probe found that,
        until Wix says otherwise)."""
        return self.bounds.setdefault(endpoint, BoundType(as_string=self._bound_as_string))

    def learn_failure(self, offset: int) -> None:
        """An offset failed: use windows that stay below it from now on."""
        self.pages = max(1, min(self.pages, offset // PAGE_SIZE))


class NumericIdCrawl(Generic[R]):
    """Emit every record of ``target`` once (or more: callers drop repeats by id)."""

    def __init__(
        self,
        client: WixClient,
        target: CrawlTarget[R],
        *,
        counter: CallCounter,
        offsets: OffsetLimit,
        parallel: bool,
        log: structlog.typing.FilteringBoundLogger,
        known: KnownAnswers[Listing[R]] | None = None,
    ) -> None:
        self._client = client
        self._known = known
        """Pages the last walk decoded, not decoded again when answered the same."""
        self._target = target
        self._counter = counter
        self._offsets = offsets
        self._parallel = parallel
        self._log = log
        self._bound = offsets.bound(target.endpoint)
        self._read: set[int] = set()
        """numericIds emitted by this crawl."""
        self._total: int | None = None
        """The largest ``totalResults`` an unfiltered page gave (None: never given)."""
        self._pages = 0

    async def run(self, emit: Emit[R]) -> None:
        """Crawl the whole endpoint, hidden products included (as ``target.body`` asks), then
        prove that nothing was missed; ``WixWalkIncomplete`` when that cannot be shown."""

        async def counted(record: R) -> None:
            self._read.add(numeric_id(record))
            await emit(record)

        await self._crawl(counted)
        await self._prove()

    async def _crawl(self, emit: Emit[R]) -> None:
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
            if high.records:  # the store changed between the two answers: crawl it all
                await self._between(None, None, emit)
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

    async def _between(self, cursor: int | None, stop_at: int | None, emit: Emit[R]) -> None:
        """Every record with ``cursor < numericId <= stop_at`` (None: unbounded)."""
        while True:
            window = await self._window(cursor, stop_at)
            if not window[0].records:
                if cursor is not None and stop_at is not None and cursor < stop_at:
                    # The top page listed ``stop_at``: the range should not be empty.
                    await self._confirm_empty_range(cursor, stop_at)
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
            last = numeric_id(next(p for p in reversed(window) if p.records).records[-1])
            if cursor is not None and last <= cursor:
                raise self._incomplete(f"a page after numericId {cursor} ended at {last}: "
                                       "the filter did not move the crawl forward")
            cursor = last
            if stop_at is not None and cursor >= stop_at:
                return  # reached the record the range ends with
            self._check_budget()

    async def _confirm_empty_range(self, cursor: int, stop_at: int) -> None:
        """A range the top page says holds ``stop_at`` came back empty: ask for everything
        past ``cursor``. Only records past ``stop_at`` (it was deleted meanwhile) end the
        range; anything else means the filter stopped matching."""
        page = await self._page(cursor, None, 0)
        inside = [n for n in map(numeric_id, page.records) if n <= stop_at]
        if page.records and not inside:
            self._log.info("wix_crawl_range_emptied", endpoint=self._target.endpoint,
                           after_numeric_id=cursor, up_to=stop_at)
            return
        raise self._incomplete(
            f"the filter {cursor} < numericId <= {stop_at} matched nothing although the top "
            f"page lists numericId {stop_at}; without the upper bound Wix answered "
            f"{len(page.records)} record(s), {len(inside)} of them inside that range")

    async def _prove(self) -> None:
        """Raise unless the crawl read at least as many records as Wix counts (see the
        module docstring); costs one call only when the first count does not add up."""
        read, total = len(self._read), self._total
        if total is None or read >= total:
            return
        top = await self._page(None, None, 0, descending=True)
        highest = max(self._read, default=-1)
        newer = sum(1 for n in map(numeric_id, top.records) if n > highest)
        if top.total is not None and read + newer >= top.total:
            self._log.info("wix_walk_store_changed", endpoint=self._target.endpoint,
                           read=read, total_before=total, total_now=top.total, newer=newer)
            return
        raise self._incomplete(
            f"Wix counts {total} records (then {top.total} on a second look, {newer} of them "
            f"created since) but the walk read {read}")

    def _check_budget(self) -> None:
        budget = page_budget(max(self._total or 0, len(self._read)), PAGE_SIZE,
                             window=self._offsets.pages)
        if self._pages > budget:
            raise self._incomplete(f"{self._pages} pages exceed the {budget} that "
                                   f"{len(self._read)} records can take")

    def _incomplete(self, what: str) -> WixWalkIncomplete:
        span = (f"numericIds {min(self._read)}..{max(self._read)}" if self._read
                else "no numericIds")
        return WixWalkIncomplete(
            f"{self._target.endpoint}: the walk cannot prove it read the whole store: {what} "
            f"({len(self._read)} records read, {span}, bound sent as a {self._bound.name}); "
            "nothing was written", endpoint=self._target.endpoint)

    async def _window(self, cursor: int | None, stop_at: int | None) -> list[_Page[R]]:
        first = await self._first_page(cursor, stop_at)
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

    async def _first_page(self, cursor: int | None, stop_at: int | None) -> _Page[R]:
        """The offset-0 page of a filter, learning the bound type while it is unproven: a
        refusal (4xx) or an empty page is asked again with the other type once."""
        if cursor is None and stop_at is None:
            return await self._page(None, None, 0)
        try:
            page = await self._page(cursor, stop_at, 0)
        except (WixAuthError, WixNotFound, WixConflict, WixForeignAnswer):
            raise
        except WixClientError as exc:
            if self._bound.proven:
                raise
            return await self._other_type(cursor, stop_at, refused=exc)
        if page.records:
            self._bound.proven = True
        elif not self._bound.proven:
            return await self._other_type(cursor, stop_at, refused=None)
        return page

    async def _other_type(self, cursor: int | None, stop_at: int | None,
                          refused: WixClientError | None) -> _Page[R]:
        tried = self._bound.name
        self._bound.as_string = not self._bound.as_string
        try:
            page = await self._page(cursor, stop_at, 0)
        except WixClientError:
            self._bound.as_string = not self._bound.as_string
            if refused is not None:
                raise refused from None
            raise
        if page.records:
            self._bound.proven = True
            self._log.warning("wix_crawl_bound_type", endpoint=self._target.endpoint,
                              refused=tried, now=self._bound.name,
                              why="refused" if refused is not None else "matched nothing")
            return page
        self._bound.as_string = not self._bound.as_string  # neither matched: keep the first
        if refused is not None:
            raise refused
        return page

    async def _page_or_refusal(
        self, cursor: int | None, stop_at: int | None, offset: int
    ) -> _Page[R] | WixClientError:
        try:
            return await self._page(cursor, stop_at, offset)
        except WixAuthError:
            raise
        except WixClientError as exc:
            return exc

    async def _page(
        self, cursor: int | None, stop_at: int | None, offset: int, *, descending: bool = False
    ) -> _Page[R]:
        query: JSONObject = {
            "sort": json.dumps([{"numericId": "desc" if descending else "asc"}]),
            "paging": {"limit": PAGE_SIZE, "offset": offset},
        }
        bounds: dict[str, int | str] = {}
        if cursor is not None:
            bounds["$gt"] = self._bound.encode(cursor)
        if stop_at is not None:
            bounds["$lte"] = self._bound.encode(stop_at)
        if bounds:
            query["filter"] = json.dumps({"numericId": bounds})
        self._pages += 1
        data = await self._client.request_as(
            self._target.answer, "POST", self._target.path, endpoint=self._target.endpoint,
            body={"query": query, **self._target.body}, counter=self._counter,
            known=self._known,
        )
        page = _Page(data.records, data.totalResults)
        if not bounds and page.total is not None:
            self._total = max(self._total or 0, page.total)
        return page


def numeric_id(record: Record) -> int:
    """A record's ``numericId`` as a number (compared as one, sent as ``BoundType`` says;
    decoding took it as a number or a numeric string)."""
    value = record.numericId
    if value is None:
        raise WixError(f"record {record.id} has no numericId; cannot crawl past it")
    return value

