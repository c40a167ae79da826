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
"""

from __future__ import annotations

import itertools
import string

from syncd.base.errors import WixAuthError, WixClientError
from syncd.edges.wix.answers import V3InventoryItem, V3InventoryPage
from syncd.edges.wix.client import CallCounter, JSONObject, WixClient
from syncd.edges.wix.cursor_v3 import read_cursor_query
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

    async def _read(self, query_filter: JSONObject, counter: CallCounter
                    ) -> list[V3InventoryItem]:
        return await read_cursor_query(
            self._client, path=self._path, endpoint=self._endpoint, answer=V3InventoryPage,
            query_filter=query_filter, page_size=self._page_size, counter=counter)
