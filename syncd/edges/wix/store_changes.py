"""Read what changed in a store since a server timestamp: the list-then-watch half of a walk.

V3 inventory items are filterable and sortable by ``updatedDate``, V1 products by
``lastUpdated`` (contract §7.3, §4). ``ChangeReader.newest`` asks for the newest timestamp
the server holds (one call, sorted descending, limit 1); ``ChangeReader.since`` reads every
item (V3) or product (V1) stamped at or after a given time. Timestamps are always the
server's own values, never this host's clock.

Paging is by key, not by cursor: each request is a fresh first page, ``stamp >= S`` sorted
ascending, and the next one starts at the newest stamp of the page before. A cursor over a
sort on a field that changes while we page (an item sold between two pages moves to the
end) may skip items whose position shifts; a fresh query cannot, because every request sees
the items as they are at that moment and an item that changes meanwhile only moves to a
later stamp, which a later request reads. Items stamped exactly at a page boundary are read
twice and de-duplicated. Should a whole page share one timestamp (a bulk write of more than
a page), all of that timestamp is read by cursor (V3) or by numericId (V1, whose offsets
fail from 10,000 on), which is safe because those items cannot move past each other, and
the next request starts after it.

Whether a stock change moves these timestamps at all is not confirmed for every path; the
sync layer's informer (``syncd.cycle.incremental``) checks that with its canary.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from syncd.base.errors import WixWalkIncomplete
from syncd.base.model import Catalog, StoreVariant
from syncd.edges.config.client import WalkSettings
from syncd.edges.wix.answers import V1Product, V3InventoryObjectsPage, convert_answer
from syncd.edges.wix.bounds import page_budget
from syncd.edges.wix.client import CallCounter, JSONObject, WixClient
from syncd.edges.wix.crawl_v1 import BoundType
from syncd.edges.wix.cursor_v3 import read_cursor_query
from syncd.edges.wix.parse_v1 import product_variants, variants_need_inventory
from syncd.edges.wix.walk_v3 import item_variant_of

V3_QUERY_ITEMS = "/stores/v3/inventory-items/query"
V1_QUERY_PRODUCTS = "/stores-reader/v1/products/query"
V3_PAGE = 1000
V1_PAGE = 100


def parse_stamp(value: object) -> datetime | None:
    """A Wix ISO-8601 timestamp (``2020-08-31T20:05:40.348Z``) as an aware datetime."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def format_stamp(value: datetime) -> str:
    """The inverse of ``parse_stamp``, in Wix's spelling (milliseconds, ``Z``)."""
    text = value.astimezone(UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


def stamp_minus(value: datetime, seconds: float) -> datetime:
    """``value`` moved back by ``seconds`` (the overlap window)."""
    return value - timedelta(seconds=seconds)


@dataclass(frozen=True, slots=True)
class Changed:
    """One changed unit: a V3 inventory item, or a V1 product with all its variants."""

    key: str
    """The V3 inventory item id, or the V1 product id."""
    product_id: str
    stamp: datetime
    """Its ``updatedDate`` (V3) / ``lastUpdated`` (V1) as the server reported it."""
    revision: str | None
    """V3 revision (None on V1, which has none)."""
    variants: tuple[StoreVariant, ...]


@dataclass(slots=True)
class ChangeRead:
    """What one read of changes returned, de-duplicated by key (newest revision/stamp wins)."""

    units: dict[str, Changed] = field(default_factory=dict)
    api_calls: int = 0
    newest: datetime | None = None
    """The newest timestamp seen (None: nothing came back)."""

    def add(self, unit: Changed) -> None:
        old = self.units.get(unit.key)
        if old is None or _newer(unit, old):
            self.units[unit.key] = unit
        if self.newest is None or unit.stamp > self.newest:
            self.newest = unit.stamp


def _newer(new: Changed, old: Changed) -> bool:
    if new.revision is not None and old.revision is not None:
        try:
            return int(new.revision) > int(old.revision)
        except ValueError:
            pass
    return new.stamp > old.stamp


class ChangeReader:
    """Timestamp reads of one store (V1 or V3) over its client."""

    def __init__(self, client: WixClient, settings: WalkSettings, catalog: Catalog) -> None:
        self._client = client
        self._settings = settings
        self._catalog = catalog
        self._bound = BoundType()
        """The JSON type Wix compares a ``numericId`` bound as, learned (``crawl_v1``)."""

    async def newest(self) -> tuple[datetime | None, int]:
        """``(newest timestamp in the store, calls)``; None when nothing carries one."""
        counter = CallCounter()
        if self._catalog is Catalog.V3:
            data = await self._v3_page(None, V3_PAGE, counter, limit=1, descending=True)
            items = _objects(data.get("inventoryItems"))
            stamp = parse_stamp(items[0].get("updatedDate")) if items else None
        else:
            data = await self._v1_page(None, counter, limit=1, descending=True)
            products = _objects(data.get("products"))
            stamp = parse_stamp(products[0].get("lastUpdated")) if products else None
        return stamp, counter.total

    async def since(self, since: datetime) -> ChangeRead:
        """Every unit stamped at or after ``since`` (keyset paging, see the module doc)."""
        counter = CallCounter()
        read = ChangeRead()
        floor, inclusive = since, True
        while True:
            if self._catalog is Catalog.V3:
                full, first, last = await self._v3_keyset(floor, inclusive, read, counter)
            else:
                full, first, last = await self._v1_keyset(floor, inclusive, read, counter)
            if not full or first is None or last is None:
                break
            if first == last:
                # A whole page at one timestamp: read all of it by position, then go past it.
                await self._same_stamp(last, read, counter)
                floor, inclusive = last, False
            else:
                floor, inclusive = last, True
        read.api_calls = counter.total
        return read

    # -- V3 ----------------------------------------------------------------------------------

    def _v3_filter(self, since: datetime | None, *, op: str = "$gte") -> JSONObject:
        query_filter: JSONObject = {}
        if since is not None:
            query_filter["updatedDate"] = {op: format_stamp(since)}
        if self._settings.location_id is not None:
            query_filter["locationId"] = {"$eq": self._settings.location_id}
        return query_filter

    async def _v3_page(self, since: datetime | None, page: int, counter: CallCounter, *,
                       limit: int | None = None, descending: bool = False,
                       op: str = "$gte") -> JSONObject:
        query: JSONObject = {
            "sort": [{"fieldName": "updatedDate", "order": "DESC" if descending else "ASC"}],
            "cursorPaging": {"limit": limit or page},
        }
        query_filter = self._v3_filter(since, op=op)
        if query_filter:
            query["filter"] = query_filter
        return await self._client.request("POST", V3_QUERY_ITEMS,
                                          endpoint="v3.inventory_items.query",
                                          body={"query": query}, counter=counter)

    async def _v3_keyset(self, floor: datetime, inclusive: bool, read: ChangeRead,
                         counter: CallCounter) -> tuple[bool, datetime | None, datetime | None]:
        data = await self._v3_page(floor, V3_PAGE, counter, op="$gte" if inclusive else "$gt")
        items = _objects(data.get("inventoryItems"))
        units = [u for u in map(_v3_unit, items) if u is not None]
        return (len(items) >= V3_PAGE, *_span(units, read))

    # -- V1 ----------------------------------------------------------------------------------

    async def _v1_page(self, since: datetime | None, counter: CallCounter, *, limit: int,
                       descending: bool = False, op: str = "$gte") -> JSONObject:
        query: JSONObject = {
            "sort": json.dumps([{"lastUpdated": "desc" if descending else "asc"}]),
            "paging": {"limit": limit, "offset": 0},
        }
        if since is not None:
            query["filter"] = json.dumps({"lastUpdated": {op: format_stamp(since)}})
        return await self._client.request(
            "POST", V1_QUERY_PRODUCTS, endpoint="v1.products.query",
            body={"query": query, "includeVariants": True, "includeHiddenProducts": True},
            counter=counter)

    async def _v1_keyset(self, floor: datetime, inclusive: bool, read: ChangeRead,
                         counter: CallCounter) -> tuple[bool, datetime | None, datetime | None]:
        data = await self._v1_page(floor, counter, limit=V1_PAGE,
                                   op="$gte" if inclusive else "$gt")
        products = _objects(data.get("products"))
        units = [u for u in map(_v1_unit, products) if u is not None]
        return (len(products) >= V1_PAGE, *_span(units, read))

    async def _same_stamp(self, stamp: datetime, read: ChangeRead, counter: CallCounter
                          ) -> None:
        if self._catalog is Catalog.V3:
            # One cursor query, read to an end however Wix marks it (``cursor_v3``).
            items = await read_cursor_query(
                self._client, path=V3_QUERY_ITEMS, endpoint="v3.inventory_items.query",
                answer=V3InventoryObjectsPage,
                query_filter=self._v3_filter(stamp, op="$eq"),
                page_size=V3_PAGE, counter=counter)
            for item in items:
                if (unit := _v3_unit(item)) is not None:
                    read.add(unit)
            return
        # V1: by numericId within the timestamp (offsets fail from 10,000 on). A short page
        # may come mid-stream, so only an empty page ends the read; the bound's JSON type
        # is learned as the crawl learns it (an empty bounded page before the type ever
        # matched is asked again with the other type), and pages are bounded by what the
        # distinct products read explain.
        last_id: int | None = None
        seen: set[str] = set()
        pages = 0
        while True:
            products = await self._v1_stamp_page(stamp, last_id, counter)
            pages += 1
            if not products and last_id is not None and not self._bound.proven:
                self._bound.as_string = not self._bound.as_string
                products = await self._v1_stamp_page(stamp, last_id, counter)
                pages += 1
                if not products:
                    self._bound.as_string = not self._bound.as_string
            if products and last_id is not None:
                self._bound.proven = True
            for product in products:
                seen.add(str(product.get("id")))
                if (unit := _v1_unit(product)) is not None:
                    read.add(unit)
            numeric = _numeric_id(products[-1]) if products else None
            if numeric is None or (last_id is not None and numeric <= last_id):
                return
            if pages > page_budget(len(seen), V1_PAGE):
                raise WixWalkIncomplete(
                    f"v1.products.query: products stamped {format_stamp(stamp)} kept coming "
                    f"after {pages} pages ({len(seen)} distinct): the incremental read cannot "
                    "end; nothing was written")
            last_id = numeric

    async def _v1_stamp_page(self, stamp: datetime, after: int | None,
                             counter: CallCounter) -> list[JSONObject]:
        """One page of the products stamped ``stamp``, past numericId ``after``."""
        query_filter: JSONObject = {"lastUpdated": {"$eq": format_stamp(stamp)}}
        if after is not None:
            query_filter["numericId"] = {"$gt": self._bound.encode(after)}
        query = {"filter": json.dumps(query_filter),
                 "sort": json.dumps([{"numericId": "asc"}]),
                 "paging": {"limit": V1_PAGE, "offset": 0}}
        data = await self._client.request(
            "POST", V1_QUERY_PRODUCTS, endpoint="v1.products.query",
            body={"query": query, "includeVariants": True, "includeHiddenProducts": True},
            counter=counter)
        return _objects(data.get("products"))


def _numeric_id(product: Mapping[str, Any]) -> int | None:
    """A product's ``numericId`` as a number, None when absent or not a number."""
    try:
        return int(str(product.get("numericId")))
    except ValueError:
        return None


def _span(units: list[Changed], read: ChangeRead) -> tuple[datetime | None, datetime | None]:
    """Add ``units`` to ``read``; the oldest and newest stamps among them."""
    for unit in units:
        read.add(unit)
    if not units:
        return None, None
    stamps = [u.stamp for u in units]
    return min(stamps), max(stamps)


def incomplete_products(read: ChangeRead) -> list[str]:
    """V1 products whose page lacked stock data (marked by an empty variant tuple)."""
    return [u.product_id for u in read.units.values() if not u.variants]


def _v3_unit(item: Mapping[str, Any]) -> Changed | None:
    stamp = parse_stamp(item.get("updatedDate"))
    if stamp is None or not item.get("id"):
        return None
    variant = item_variant_of(item, endpoint="v3.inventory_items.query")
    return Changed(key=variant.inventory_item_id, product_id=variant.product_id, stamp=stamp,
                   revision=variant.revision, variants=(variant,))


def _v1_unit(product: JSONObject) -> Changed | None:
    stamp = parse_stamp(product.get("lastUpdated"))
    product_id = str(product.get("id") or "")
    if stamp is None or not product_id:
        return None
    # A product whose page lacks stock is re-read by id by the caller (empty variants).
    typed = convert_answer(product, V1Product, endpoint="v1.products.query")
    variants = () if variants_need_inventory(typed) else tuple(product_variants(typed))
    return Changed(key=product_id, product_id=product_id, stamp=stamp, revision=None,
                   variants=variants)


def _objects(value: Any) -> list[JSONObject]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []
