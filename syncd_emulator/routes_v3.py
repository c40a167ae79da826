"""Catalog V3 reads: version, products, read-only variants and inventory item queries.

Queries page by cursor (filter, sort and position baked into the cursor; follow-ups send
only the cursor). Inventory items come from the inventory service, one per variant and
location; a variant without one simply does not appear (items are never created as a side
effect of reading). The API key is treated as an admin key, so hidden products and their
items are included.
"""

from __future__ import annotations

from typing import Any, TypeVar

from aiohttp import web

from syncd_emulator.bodies import get_dict, read_request
from syncd_emulator.context import EMULATOR, Emulator
from syncd_emulator.error_answers import not_found, validation_error
from syncd_emulator.fields import (
    V3_INVENTORY_FIELDS,
    V3_PRODUCT_FIELDS,
    V3_READONLY_VARIANT_FIELDS,
)
from syncd_emulator.jsontext import dumps
from syncd_emulator.matchcache import only_immutable
from syncd_emulator.paging import Page, cursor_paging, expire_once, paging_metadata
from syncd_emulator.query import Resolver, check_sort, compile_filter, parse_sort_list, sort_records
from syncd_emulator.respond import json_response, json_text_response
from syncd_emulator.store import ItemState, Store
from syncd_emulator.views_v3 import (
    inventory_item_dict,
    inventory_item_json,
    product_dict,
    readonly_variant_dict,
)

T = TypeVar("T")

CATALOG_VERSIONS = {"v1": "V1_CATALOG", "v3": "V3_CATALOG", "none": "STORES_NOT_INSTALLED"}


def add_routes(router: web.UrlDispatcher) -> None:
    """Register the V3 reads; queries also answer the SDK's GET form."""
    router.add_get("/stores/v3/provision/version", get_catalog_version, allow_head=False)
    for path, handler in (
        ("/stores/v3/products/query", query_products),
        ("/stores/v3/products/query-variants", query_variants),
        ("/stores/v3/inventory-items/query", query_inventory_items),
        ("/stores/v3/inventory-items/search", search_inventory_items),
    ):
        router.add_post(path, handler)
        router.add_get(path, handler, allow_head=False)
    router.add_get("/stores/v3/products/{productId}", get_product, allow_head=False)
    router.add_get("/stores/v3/inventory-items/{inventoryItemId}", get_inventory_item,
                   allow_head=False)


def _cursor_page(emu: Emulator, query: dict[str, Any], *, kind: str, where: str,
                 max_limit: int, default_limit: int, extra: Any = None) -> Page:
    """The page a cursor query asks for, with the ``expiring_cursor`` switch applied."""
    page = cursor_paging(query, kind=kind, where=where, max_limit=max_limit,
                         default_limit=default_limit, extra=extra)
    paging = query.get("cursorPaging")
    if emu.variants.expiring_cursor and isinstance(paging, dict) and paging.get("cursor"):
        expire_once(page, kind=kind, where=f"{where}.cursorPaging.cursor",
                    expired=emu.expired_queries)
    return page


def _paging(emu: Emulator, page: Page, *, kind: str, total: int, returned: int,
            has_next_field: bool) -> dict[str, Any]:
    return paging_metadata(page, kind=kind, total=total, returned=returned,
                           has_next_field=has_next_field,
                           keep_last_cursor=emu.variants.cursor_on_last_page)


async def get_catalog_version(request: web.Request) -> web.Response:
    """Which catalog the site runs (answered on every site)."""
    catalog = request.app[EMULATOR].config.catalog
    return json_response({"catalogVersion": CATALOG_VERSIONS[catalog]})


def _run_query(
    records: list[T], page: Page, fields: Resolver[T], *, where: str,
    default_sort: list[tuple[str, bool]] | None = None, store: Store | None = None,
) -> tuple[list[T], int]:
    """``(page of matches, total matches)`` for an object filter and sort."""
    if page.filter is not None and not isinstance(page.filter, dict):
        raise validation_error(f"{where}.filter", "must be a JSON object, not a string",
                               rule="FORMAT")
    predicate = compile_filter(page.filter, fields, field=f"{where}.filter")
    sort = parse_sort_list(page.sort or [], field=f"{where}.sort")
    check_sort(sort, fields, field=f"{where}.sort")
    if predicate is None and not (sort or default_sort):
        return records[page.offset : page.offset + page.limit], len(records)

    def compute() -> list[T]:
        matches = records if predicate is None else [r for r in records if predicate(r)]
        if sort or default_sort:
            matches = sort_records(matches, sort or default_sort or [], fields)
        return matches

    if store is None:
        matches = compute()
    else:
        counter = (store.creations if only_immutable(page.filter, page.sort)
                   else store.changes)
        matches = store.match_cache.get(records, (page.filter, page.sort), counter, compute)
    return matches[page.offset : page.offset + page.limit], len(matches)


async def query_products(request: web.Request) -> web.Response:
    """Query Products: up to 100 per page, no variant data."""
    emu = request.app[EMULATOR]
    body = await read_request(request)
    query = get_dict(body, "query", "")
    page = _cursor_page(emu, query, kind="v3-products", where="query", max_limit=100,
                        default_limit=100)
    chunk, total = _run_query(emu.store.products, page, V3_PRODUCT_FIELDS, where="query")
    location = emu.store.location_id
    return json_response({
        "products": [product_dict(p, location, include_variants=False) for p in chunk],
        "pagingMetadata": _paging(emu, page, kind="v3-products", total=total,
                                  returned=len(chunk), has_next_field=True),
    })


async def get_product(request: web.Request) -> web.Response:
    """Get Product, with ``variantsInfo``."""
    emu = request.app[EMULATOR]
    product_id = request.match_info["productId"]
    product = emu.store.by_id.get(product_id)
    if product is None:
        raise not_found("product", product_id)
    return json_response(
        {"product": product_dict(product, emu.store.location_id, include_variants=True)}
    )


async def query_variants(request: web.Request) -> web.Response:
    """Read-only variants: SKU and stock status, never quantities; up to 1000 per page."""
    emu = request.app[EMULATOR]
    body = await read_request(request)
    query = get_dict(body, "query", "")
    page = _cursor_page(emu, query, kind="v3-variants", where="query", max_limit=1000,
                        default_limit=100)
    variants = [v for p in emu.store.products for v in p.variants]
    chunk, total = _run_query(variants, page, V3_READONLY_VARIANT_FIELDS, where="query")
    location = emu.store.location_id
    return json_response({
        "variants": [readonly_variant_dict(v, location) for v in chunk],
        "pagingMetadata": _paging(emu, page, kind="v3-variants", total=total,
                                  returned=len(chunk), has_next_field=True),
    })


async def query_inventory_items(request: web.Request) -> web.Response:
    """Query Inventory Items: up to 1000 per page, in creation order unless sorted."""
    emu = request.app[EMULATOR]
    body = await read_request(request)
    query = get_dict(body, "query", "")
    page = _cursor_page(emu, query, kind="v3-items-query", where="query", max_limit=1000,
                        default_limit=100)
    chunk, total = _run_query(emu.store.items, page, V3_INVENTORY_FIELDS, where="query",
                              store=emu.store)
    # Query's paging metadata has no hasNext in the SDK type; clients stop on a null cursor.
    meta = _paging(emu, page, kind="v3-items-query", total=total, returned=len(chunk),
                   has_next_field=False)
    return _items_response(chunk, meta)


async def search_inventory_items(request: web.Request) -> web.Response:
    """Search Inventory Items: Query plus free text; newest first unless sorted."""
    emu = request.app[EMULATOR]
    body = await read_request(request)
    search = get_dict(body, "search", "")
    text = get_dict(search, "search", "search.")
    expression = text.get("expression")
    if expression is not None and not isinstance(expression, str):
        raise validation_error("search.search.expression", "must be a string", rule="FORMAT")
    page = _cursor_page(emu, search, kind="v3-items-search", where="search", max_limit=1000,
                        default_limit=100, extra={"expression": expression})
    items: list[ItemState] = emu.store.items[::-1]
    needle = (page.extra or {}).get("expression")
    if needle:
        needle = needle.lower()
        items = [i for i in items if _matches_text(i, needle)]
    chunk, total = _run_query(items, page, V3_INVENTORY_FIELDS, where="search",
                              default_sort=[("createdDate", True)])
    meta = _paging(emu, page, kind="v3-items-search", total=total, returned=len(chunk),
                   has_next_field=True)
    return _items_response(chunk, meta, extra=',"aggregationData":{}')


def _items_response(items: list[ItemState], meta: dict[str, object], *, extra: str = ""
                    ) -> web.Response:
    # Cached item JSON spliced into the page: a 1000-item page is a string join.
    body = ",".join(inventory_item_json(i) for i in items)
    return json_text_response(
        f'{{"inventoryItems":[{body}],"pagingMetadata":{dumps(meta)}{extra}}}'
    )


def _matches_text(item: ItemState, needle: str) -> bool:
    return needle in item.product.name.lower() or needle in item.variant.sku.lower()


async def get_inventory_item(request: web.Request) -> web.Response:
    """Get Inventory Item."""
    emu = request.app[EMULATOR]
    item_id = request.match_info["inventoryItemId"]
    item = emu.store.items_by_id.get(item_id)
    if item is None:
        raise not_found("inventory item", item_id)
    return json_response({"inventoryItem": inventory_item_dict(item)})


