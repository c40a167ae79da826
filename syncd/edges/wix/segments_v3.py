"""A full V3 walk read as several independent segments side by side.

One cursor over Query Inventory Items is sequential: each page's cursor comes from the page
before, so a 105,000-item store takes ~105 round trips one after the other (37 s at 300 ms).
Split the items by ``productId`` into ranges, and each range is a query of its own with its
own cursor; the ranges are read concurrently under the site's in-flight limit.

Why ``productId`` ranges: the field is filterable and sortable (``InventoryItemQuerySpec``),
it is immutable, so an item can never move from one segment to another while the walk runs
(a range on ``quantity`` or ``availabilityStatus`` could lose or double an item that sells
mid-walk), and the ranges ``(-inf, b1), [b1, b2), ..., [bn, +inf)`` cover every possible
string whatever the ids look like; GUIDs spread evenly over the hex boundaries used here.

Whether Wix accepts ``$gte``/``$lt`` on ``productId`` is not confirmed. When any segment's
first page is refused (a 4xx), the walk falls back to the single cursor and remembers that
for this reader, so a refusing server costs one failed call per process, not per walk.
A refused follow-up (an expired cursor) is not a refusal of segments: ``cursor_v3``
restarts that segment's query.

A process's first walk does not know the store's size, and V3 Query Inventory Items reports
no total (``pagingMetadata`` has only ``count``, the page's items; the count endpoint is not
public). ``run_first`` therefore reads the first of ``most`` ranges first and takes its first
page as the size hint: ids are spread evenly, so a range of 1/``most`` of the id space that
ends within one page holds about 1/``most`` of the store; one that does not end there means
a store large enough for every range. The rest of the id space is then read as that many
ranges side by side. The hint only sizes the ranges: they cover every id once whatever it
says, and each is read to its proven end, so a wrong hint costs calls or time, never items.
"""

from __future__ import annotations

import asyncio
import itertools
import string

from syncd.base.errors import WixAuthError, WixClientError
from syncd.edges.wix.answers import V3InventoryItem, V3InventoryPage
from syncd.edges.wix.client import CallCounter, JSONObject, WixClient
from syncd.edges.wix.cursor_v3 import PageSeen, read_cursor_query
from syncd.edges.wix.tasks import task_group

HEX = string.digits + "abcdef"


def boundaries(segments: int) -> list[str]:
    """The ``segments - 1`` ascending split points over hex-leading ids (two hex digits)."""
    if segments <= 1:
        return []
    cells = [a + b for a in HEX for b in HEX]  # 256 two-character prefixes
    segments = min(segments, len(cells))
    return [cells[len(cells) * n // segments] for n in range(1, segments)]


def segment_filters(segments: int) -> list[JSONObject]:
    """One ``productId`` range filter per segment; together they cover every id once."""
    points = boundaries(segments)
    if not points:
        return [{}]
    filters: list[JSONObject] = [{"productId": {"$lt": points[0]}}]
    for low, high in itertools.pairwise(points):
        filters.append({"productId": {"$gte": low, "$lt": high}})
    filters.append({"productId": {"$gte": points[-1]}})
    return filters


def rest_filters(most: int, groups: int) -> list[JSONObject]:
    """``groups`` ranges covering what the first of ``most`` segments leaves, once each."""
    points = boundaries(most)
    if not points:
        return []
    groups = max(1, min(groups, len(points)))
    starts = [points[len(points) * n // groups] for n in range(groups)]
    filters: list[JSONObject] = [{"productId": {"$gte": low, "$lt": high}}
                                 for low, high in itertools.pairwise(starts)]
    filters.append({"productId": {"$gte": starts[-1]}})
    return filters


class SegmentedQuery:
    """Runs one query per segment concurrently; None when the server refuses segments."""

    def __init__(self, client: WixClient, *, path: str, endpoint: str, page_size: int) -> None:
        self._client = client
        self._path = path
        self._endpoint = endpoint
        self._page_size = page_size
        self.refused = False
        """True once a segment query was refused: later walks go straight to one cursor."""

    async def run(self, base_filter: JSONObject, segments: int, counter: CallCounter
                  ) -> list[V3InventoryItem] | None:
        """Every item matching ``base_filter``, segment by segment; None when refused."""
        if self.refused or segments <= 1:
            return None
        filters = [{**base_filter, **f} for f in segment_filters(segments)]
        try:
            async with task_group() as group:
                tasks = [group.create_task(self._read(f, counter),
                                           name=f"wix v3 segment {n} site={self._client.site_id}")
                         for n, f in enumerate(filters)]
        except WixAuthError:
            raise
        except WixClientError as error:
            self.refused = True
            self._client.log.warning("wix_segments_refused", error=str(error),
                                     fallback="one cursor")
            return None
        return [item for task in tasks for item in task.result()]

    async def run_first(self, base_filter: JSONObject, most: int, per_segment: int,
                        counter: CallCounter) -> list[V3InventoryItem] | None:
        """Every item matching ``base_filter`` when the store's size is unknown: the first
        of ``most`` ranges sizes the rest (module doc), aiming at ``per_segment`` items a
        range; None when the server refuses segments."""
        if self.refused or most <= 1:
            return None
        head_filter = {**base_filter, **segment_filters(most)[0]}
        first: asyncio.Future[tuple[int, bool]] = asyncio.get_running_loop().create_future()

        def seen(items: int, more: bool) -> None:
            # A part-filled first page ended the range, whatever cursor it kept.
            if not first.done():
                first.set_result((items, more and items >= self._page_size))

        try:
            async with task_group() as group:
                head = group.create_task(
                    self._read(head_filter, counter, on_page=seen),
                    name=f"wix v3 segment 0 site={self._client.site_id}")
                await asyncio.wait((head, first), return_when=asyncio.FIRST_COMPLETED)
                groups = _rest_groups(first.result(), most, per_segment) if first.done() \
                    else 0
                tasks = [head] + [
                    group.create_task(self._read({**base_filter, **f}, counter),
                                      name=f"wix v3 segment {n} site={self._client.site_id}")
                    for n, f in enumerate(rest_filters(most, groups) if groups else [], 1)]
        except WixAuthError:
            raise
        except WixClientError as error:
            self.refused = True
            self._client.log.warning("wix_segments_refused", error=str(error),
                                     fallback="one cursor")
            return None
        finally:
            first.cancel()
        self._client.log.debug("wix_first_walk_segments", segments=len(tasks))
        return [item for task in tasks for item in task.result()]

    async def _read(self, query_filter: JSONObject, counter: CallCounter,
                    on_page: PageSeen | None = None) -> list[V3InventoryItem]:
        items = await read_cursor_query(
            self._client, path=self._path, endpoint=self._endpoint, answer=V3InventoryPage,
            query_filter=query_filter, page_size=self._page_size, counter=counter,
            on_page=on_page)
        bounds = query_filter.get("productId")
        if isinstance(bounds, dict):
            low, high = bounds.get("$gte"), bounds.get("$lt")
            for item in items:
                pid = item.productId or ""
                if (isinstance(low, str) and pid < low) or (isinstance(high, str) and pid >= high):
                    # A server that ignores the range would have every segment read the
                    # whole store: the walk cannot rely on it, whatever else it returned.
                    raise WixClientError(
                        f"{self._endpoint}: item {item.id} of product {pid!r} came back for "
                        f"the productId range {bounds}: the range filter is not applied",
                        endpoint=self._endpoint, status=None)
        return items


def _rest_groups(first_page: tuple[int, bool], most: int, per_segment: int) -> int:
    """Ranges for the rest of the id space, from the first range's first page: every one
    of them when that range did not end within a page, else sized by the estimate."""
    items, more = first_page
    if more:
        return most - 1
    estimate = items * most
    return max(1, -(-estimate // max(1, per_segment)) - 1)
