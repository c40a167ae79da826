"""One V3 cursor query read to its end: bounded, without repeats, restarted when its cursor
expires, never silently cut short.

How a cursor query ends is unconfirmed (contract §11): the last page may carry no cursor,
or a ``next`` cursor with ``hasNext: false``, or a cursor that leads to an empty page (or
to the same page again); and how long a cursor stays valid is not documented. So a query
ends on the first of: no ``next`` cursor, ``hasNext: false``, an empty page, a page holding
only items this pass already read, or a cursor already followed. Items are kept once (by
id) whatever the server repeats.

A follow-up refused with a 4xx (an expired or evicted cursor) restarts the query from its
first page, keeping what was read, up to ``MAX_RESTARTS`` times; then, or when a pass asks
for more pages than its items explain (``syncd.edges.wix.bounds``), ``WixWalkIncomplete`` names
what happened. A refused *first* page is the caller's to handle (``segments_v3`` falls
back to one cursor when range filters are refused).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol, TypeVar

import msgspec

from syncd.base.errors import (
    WixAuthError,
    WixClientError,
    WixConflict,
    WixForeignAnswer,
    WixNotFound,
    WixWalkIncomplete,
)
from syncd.edges.wix.answers import V3PagingMetadata
from syncd.edges.wix.bounds import page_budget
from syncd.edges.wix.client import CallCounter, JSONObject, WixClient

_NO_PAGING = V3PagingMetadata()

MAX_RESTARTS = 3
"""Restarts of one query after its cursor was refused, before the walk gives up."""

R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)
PageSeen = Callable[[int, bool], None]
"""Told after each page: the items the pass read so far, and whether more pages follow."""


class CursorPage(Protocol[R_co]):
    """One answer of a V3 cursor query, decoded (``syncd.edges.wix.answers``)."""

    @property
    def records(self) -> Sequence[R_co]: ...

    @property
    def pagingMetadata(self) -> V3PagingMetadata | None: ...


Key = Callable[[R], str]


def item_key(item: object) -> str:
    """An item's identity: its ``id``, else its whole JSON text."""
    if isinstance(item, Mapping):
        ident = item.get("id")
        return str(ident) if ident else json.dumps(item, sort_keys=True, default=str)
    ident = getattr(item, "id", None)
    return str(ident) if ident else msgspec.json.encode(item).decode()


class _CursorRefused(Exception):
    def __init__(self, error: WixClientError) -> None:
        super().__init__(str(error))
        self.error = error


async def read_cursor_query(
    client: WixClient,
    *,
    path: str,
    endpoint: str,
    answer: type[CursorPage[R]],
    query_filter: JSONObject | None,
    page_size: int,
    counter: CallCounter,
    key: Key[R] = item_key,
    on_page: PageSeen | None = None,
) -> list[R]:
    """Every item the query (``query_filter`` or everything) lists, each once; ``answer``
    is what each page decodes into. ``on_page(items, more)`` is told after each page how
    many items this pass read so far and whether the query goes on (a first walk sizes its
    segments from the first page)."""
    items: dict[str, R] = {}
    last: WixClientError | None = None
    for restart in range(MAX_RESTARTS + 1):
        try:
            await _one_pass(client, path=path, endpoint=endpoint, answer=answer,
                            query_filter=query_filter, page_size=page_size, counter=counter,
                            key=key, items=items, on_page=on_page)
            return list(items.values())
        except _CursorRefused as refused:
            client.log.warning("wix_cursor_restart", endpoint=endpoint,
                               restart=f"{restart + 1}/{MAX_RESTARTS}", items=len(items),
                               error=str(refused.error))
            last = refused.error
    raise WixWalkIncomplete(
        f"{endpoint}: the walk cannot prove it read the whole store: its cursor was refused "
        f"{MAX_RESTARTS + 1} times ({last}); {len(items)} items read; nothing was written",
        endpoint=endpoint, status=last.status if last else None)


async def _one_pass(
    client: WixClient, *, path: str, endpoint: str, answer: type[CursorPage[R]],
    query_filter: JSONObject | None, page_size: int, counter: CallCounter, key: Key[R],
    items: dict[str, R], on_page: PageSeen | None = None,
) -> None:
    query: JSONObject = {"cursorPaging": {"limit": page_size}}
    if query_filter:
        query["filter"] = query_filter
    this_pass: set[str] = set()
    followed: set[str] = set()
    pages = 0
    while True:
        try:
            data = await client.request_as(answer, "POST", path, endpoint=endpoint,
                                           body={"query": query}, counter=counter)
        except (WixAuthError, WixNotFound, WixConflict, WixForeignAnswer):
            raise
        except WixClientError as exc:
            if pages:
                raise _CursorRefused(exc) from exc
            raise
        pages += 1
        fresh = 0
        for item in data.records:
            ident = key(item)
            if ident not in this_pass:
                this_pass.add(ident)
                fresh += 1
            items.setdefault(ident, item)
        paging = data.pagingMetadata or _NO_PAGING
        cursor = paging.cursors.next if paging.cursors is not None else None
        if not cursor or paging.hasNext is False or not fresh:
            if on_page is not None:
                on_page(len(this_pass), False)
            return
        if cursor in followed:
            client.log.warning("wix_cursor_repeated", endpoint=endpoint, pages=pages)
            if on_page is not None:
                on_page(len(this_pass), False)
            return
        if on_page is not None:
            on_page(len(this_pass), True)
        followed.add(cursor)
        budget = page_budget(len(this_pass), page_size)
        if pages >= budget:
            raise WixWalkIncomplete(
                f"{endpoint}: the walk cannot prove it read the whole store: {pages} pages "
                f"hold only {len(this_pass)} items (at most {budget} pages expected) and the "
                "server still sends a cursor; nothing was written", endpoint=endpoint)
        query = {"cursorPaging": {"limit": page_size, "cursor": cursor}}
