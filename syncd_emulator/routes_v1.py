"""Catalog V1 and Inventory V2 reads (served under both ``/stores/`` and ``/stores-reader/``).

Query Products and Query Inventory take V1's string-encoded filter and sort, page by
offset (limit <= 100, offset < 10,000) and, unless asked otherwise, order by numericId
ascending. Hidden products are dropped from Query Products (and not counted in
``totalResults``) unless ``includeHiddenProducts`` is true, as Wix does silently.

Choices where Wix documents nothing: hidden products *are* listed by Query Inventory (it is
not a catalog view) but not by Query Store Variants (a catalog view without a flag to ask
for them); Get Product answers hidden products by id.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from typing import Any

from aiohttp import web

from syncd_emulator.bodies import get_bool, get_dict, get_list, read_request
from syncd_emulator.context import EMULATOR, Emulator
from syncd_emulator.error_answers import not_found, validation_error
from syncd_emulator.fields import STORE_VARIANT_FIELDS, V2_INVENTORY_FIELDS, v1_product_fields
from syncd_emulator.jsontext import dumps
from syncd_emulator.paging import Page, cursor_paging, offset_paging, paging_metadata
from syncd_emulator.query import (
    Resolver,
    SortSpec,
    check_sort,
    compile_filter,
    parse_json_string,
    parse_sort_list,
    parse_v1_sort,
    sort_records,
)
from syncd_emulator.respond import json_response, json_text_response
from syncd_emulator.store import ProductState, Store
from syncd_emulator.variants import has_number_bound, has_string_bound, short_length
from syncd_emulator.views_v1 import (
    inventory_item_dict,
    product_json,
    product_json_without_stock,
    product_variant_dict,
    store_variant_dict,
)

READ_PREFIXES = ("/stores", "/stores-reader")
NUMERIC_ASC: SortSpec = [("numericId", False)]


def add_routes(router: web.UrlDispatcher) -> None:
    """Register every V1/V2 read under both prefixes."""
    for prefix in READ_PREFIXES:
        # Static paths before ``{id}`` ones, although the router prefers them anyway.
        router.add_post(f"{prefix}/v1/products/query", query_products)
        router.add_post(f"{prefix}/v1/products/query-platformized", query_platformized)
        router.add_get(f"{prefix}/v1/products/query-platformized", query_platformized,
                       allow_head=False)
        router.add_get(f"{prefix}/v1/products/{{id}}", get_product, allow_head=False)
        router.add_post(f"{prefix}/v1/products/{{id}}/variants/query", query_product_variants)
        router.add_post(f"{prefix}/v1/variants/query", query_store_variants)
        router.add_get(f"{prefix}/v1/variants/{{id}}", get_store_variant, allow_head=False)
        router.add_post(f"{prefix}/v2/inventoryItems/query", query_inventory)
        router.add_post(f"{prefix}/v2/inventoryItems/{{inventoryId}}/getVariants",
                        get_inventory_variants)
        router.add_post(f"{prefix}/v2/inventoryItems/product/{{productId}}/getVariants",
                        get_inventory_variants_by_product)


def _product(store: Store, product_id: str) -> ProductState:
    product = store.by_id.get(product_id)
    if product is None:
        raise not_found("product", product_id)
    return product


# -- products -------------------------------------------------------------------------------


async def get_product(request: web.Request) -> web.Response:
    """Get Product: ``{"product"}`` without variants."""
    product = _product(request.app[EMULATOR].store, request.match_info["id"])
    return json_text_response('{"product":' + product_json(product, include_variants=False) + "}")


def numeric_window(filter_doc: Any, numeric_ids: list[int]) -> tuple[int, int]:
    """Index range of products a top-level ``numericId`` condition can match.

    Only narrows the candidates of a numericId crawl (the compiled filter still decides), so
    a crawl page costs a binary search instead of a scan of the whole store.
    """
    lo, hi = 0, len(numeric_ids)
    cond = filter_doc.get("numericId") if isinstance(filter_doc, dict) else None
    if not isinstance(cond, dict):
        return lo, hi
    for op, raw in cond.items():
        try:
            value = int(raw)
        except (TypeError, ValueError):
            continue
        if op == "$gt":
            lo = max(lo, bisect.bisect_right(numeric_ids, value))
        elif op == "$gte":
            lo = max(lo, bisect.bisect_left(numeric_ids, value))
        elif op == "$lt":
            hi = min(hi, bisect.bisect_left(numeric_ids, value))
        elif op == "$lte":
            hi = min(hi, bisect.bisect_right(numeric_ids, value))
    return lo, max(lo, hi)


def select_products(
    store: Store, filter_doc: Any, sort: SortSpec, *, fields: Resolver[ProductState],
    include_hidden: bool, where: str,
) -> list[ProductState]:
    """Products matching a V1 filter, in ``sort`` order (numericId ascending by default)."""
    predicate = compile_filter(filter_doc, fields, field=where)
    check_sort(sort, fields)
    lo, hi = numeric_window(filter_doc, store.numeric_ids)
    candidates = store.products[lo:hi]
    if predicate is None:
        matches = candidates if include_hidden else [p for p in candidates if p.visible]
    elif include_hidden:
        matches = [p for p in candidates if predicate(p)]
    else:
        matches = [p for p in candidates if p.visible and predicate(p)]
    if sort and sort != NUMERIC_ASC:
        matches = sort_records(matches, sort, fields)
    return matches


def _offset_page(
    emu: Emulator, query: dict[str, Any], *, fields: Resolver[ProductState],
    include_hidden: bool,
) -> tuple[list[ProductState], int, int]:
    """``(page, offset, totalResults)`` of a V1 offset-paged numericId-sortable query, with
    the variant switches that bear on it (``syncd_emulator.variants``)."""
    variants = emu.variants
    filter_doc = parse_json_string(query.get("filter"), field="query.filter", expect=dict)
    sort = parse_v1_sort(query.get("sort"))
    limit, offset = offset_paging(query.get("paging"), where="query.paging",
                                  max_offset=variants.offset_cap)
    matches = select_products(emu.store, filter_doc, sort, fields=fields,
                              include_hidden=include_hidden, where="query.filter")
    if variants.numeric_bound_type_refused and has_number_bound(filter_doc):
        raise validation_error("query.filter", "numericId is an int64 string: compare it with "
                               "a string, not a number", rule="FORMAT")
    if (variants.strict_numeric_bound and has_string_bound(filter_doc)) or (
            variants.numeric_bound_string_only and has_number_bound(filter_doc)):
        matches = []
    page = matches[offset : offset + limit]
    if variants.short_pages and page and offset + limit < len(matches):
        page = page[: short_length(page[0].numeric_id, limit)]
    total = sum(p.visible for p in matches) if variants.visible_totals else len(matches)
    return page, offset, total


def _items(emu: Emulator, query: Mapping[str, Any], page: Sequence[object]) -> int:
    """``metadata.items`` of an offset page: the records returned, or under
    ``items_echo_limit`` the limit asked for (what the contract leaves open)."""
    if not emu.variants.items_echo_limit:
        return len(page)
    limit, _offset = offset_paging(query.get("paging"), where="query.paging")
    return limit


async def query_products(request: web.Request) -> web.Response:
    """Query Products: string filter/sort, offset paging, hidden products only on request."""
    body = await read_request(request)
    query = get_dict(body, "query", "")
    include_variants = bool(get_bool(body, "includeVariants", ""))
    include_hidden = bool(get_bool(body, "includeHiddenProducts", ""))
    emu = request.app[EMULATOR]
    page, offset, total = _offset_page(emu, query, fields=v1_product_fields,
                                       include_hidden=include_hidden)
    if include_variants and emu.variants.no_variant_stock:
        products = ",".join(product_json_without_stock(p) for p in page)
    else:
        products = ",".join(product_json(p, include_variants=include_variants) for p in page)
    return json_text_response(
        f'{{"products":[{products}],"metadata":{{"items":{_items(emu, query, page)},'
        f'"offset":{offset}}},'
        f'"totalResults":{total}}}'
    )


async def query_platformized(request: web.Request) -> web.Response:
    """The SDK's ``queryProducts()``: object filter, sort array, offset or cursor paging."""
    body = await read_request(request)
    query = get_dict(body, "query", "")
    include_variants = bool(get_bool(body, "includeVariants", ""))
    include_hidden = bool(get_bool(body, "includeHiddenProducts", ""))
    page = _platform_page(query, kind="v1-products", extra={"hidden": include_hidden})
    hidden = bool(page.extra and page.extra.get("hidden"))
    matches = select_products(request.app[EMULATOR].store, page.filter,
                              parse_sort_list(page.sort or [], field="query.sort"),
                              fields=v1_product_fields, include_hidden=hidden,
                              where="query.filter")
    chunk = matches[page.offset : page.offset + page.limit]
    meta = _platform_metadata(page, kind="v1-products", total=len(matches), returned=len(chunk),
                              cursor="cursorPaging" in query)
    products = ",".join(product_json(p, include_variants=include_variants) for p in chunk)
    return json_text_response(f'{{"products":[{products}],"metadata":{dumps(meta)}}}')


def _platform_page(query: dict[str, Any], *, kind: str, extra: Any = None) -> Page:
    """A ``PlatformQuery`` page: ``paging`` (offset) or ``cursorPaging``; object filters."""
    if "cursorPaging" in query:
        page = cursor_paging(query, kind=kind, where="query", max_limit=100, default_limit=100,
                             extra=extra)
    else:
        limit, offset = offset_paging(query.get("paging"), where="query.paging")
        page = Page(limit=limit, offset=offset, filter=query.get("filter"),
                    sort=query.get("sort"), extra=extra)
    if page.filter is not None and not isinstance(page.filter, dict):
        raise validation_error("query.filter", "must be a JSON object, not a string",
                               rule="FORMAT")
    return page


def _platform_metadata(
    page: Page, *, kind: str, total: int, returned: int, cursor: bool
) -> dict[str, Any]:
    meta: dict[str, Any] = {"count": returned, "offset": page.offset, "total": total}
    if cursor:
        meta["cursors"] = paging_metadata(page, kind=kind, total=total, returned=returned,
                                          has_next_field=False)["cursors"]
    else:
        meta["cursors"] = {}
    return meta


# -- variants -------------------------------------------------------------------------------


async def query_product_variants(request: web.Request) -> web.Response:
    """Query Product Variants (the seed's S4): by ``choices`` or ``variantIds``, or all."""
    product = _product(request.app[EMULATOR].store, request.match_info["id"])
    body = await read_request(request)
    choices = get_dict(body, "choices", "")
    variant_ids = get_list(body, "variantIds", "")
    limit, offset = offset_paging(body.get("paging"), where="paging")
    variants = product.variants
    if choices:
        wanted = {str(k): str(v) for k, v in choices.items()}
        variants = [v for v in variants
                    if all(dict(v.choices).get(k) == val for k, val in wanted.items())]
    elif variant_ids:
        ids = set(map(str, variant_ids))
        variants = [v for v in variants if v.id in ids]
    page = variants[offset : offset + limit]
    return json_response({
        "variants": [product_variant_dict(v) for v in page],
        "metadata": {"items": len(page), "offset": offset},
        "totalResults": len(variants),
    })


async def query_store_variants(request: web.Request) -> web.Response:
    """Query Store Variants: every visible product's variants, object filter, both pagings."""
    body = await read_request(request)
    query = get_dict(body, "query", "")
    page = _platform_page(query, kind="v1-store-variants")
    predicate = compile_filter(page.filter, STORE_VARIANT_FIELDS)
    sort = parse_sort_list(page.sort or [], field="query.sort")
    check_sort(sort, STORE_VARIANT_FIELDS)
    store = request.app[EMULATOR].store
    matches = [v for p in store.products if p.visible for v in p.variants
               if predicate is None or predicate(v)]
    if sort:
        matches = sort_records(matches, sort, STORE_VARIANT_FIELDS)
    chunk = matches[page.offset : page.offset + page.limit]
    meta = _platform_metadata(page, kind="v1-store-variants", total=len(matches),
                              returned=len(chunk), cursor="cursorPaging" in query)
    return json_response({"variants": [store_variant_dict(v) for v in chunk], "metadata": meta})


async def get_store_variant(request: web.Request) -> web.Response:
    """Get Store Variant: id is ``{productId}-{variantId}``."""
    ident = request.match_info["id"]
    store = request.app[EMULATOR].store
    product = store.by_id.get(ident[:36]) if len(ident) > 37 and ident[36] == "-" else None
    variant = store.variant(product, ident[37:]) if product is not None else None
    if variant is None:
        raise not_found("store variant", ident)
    return json_response({"variant": store_variant_dict(variant)})


# -- Inventory V2 reads ---------------------------------------------------------------------


async def query_inventory(request: web.Request) -> web.Response:
    """Query Inventory: one item per product (hidden ones too, unless
    ``inventory_hides_hidden``), string filter/sort."""
    body = await read_request(request)
    query = get_dict(body, "query", "")
    emu = request.app[EMULATOR]
    page, offset, total = _offset_page(emu, query, fields=V2_INVENTORY_FIELDS,
                                       include_hidden=not emu.variants.inventory_hides_hidden)
    return json_response({
        "inventoryItems": [inventory_item_dict(p) for p in page],
        "metadata": {"items": _items(request.app[EMULATOR], query, page), "offset": offset},
        "totalResults": total,
    })


async def get_inventory_variants(request: web.Request) -> web.Response:
    """Get Inventory Variants by inventory item id."""
    store = request.app[EMULATOR].store
    inventory_id = request.match_info["inventoryId"]
    product = store.by_inventory_id.get(inventory_id)
    if product is None:
        raise not_found("inventory item", inventory_id)
    return await _inventory_variants(request, product)


async def get_inventory_variants_by_product(request: web.Request) -> web.Response:
    """Get Inventory Variants by product id (the older documented path)."""
    product = _product(request.app[EMULATOR].store, request.match_info["productId"])
    return await _inventory_variants(request, product)


async def _inventory_variants(request: web.Request, product: ProductState) -> web.Response:
    body = await read_request(request)
    for key, expected in (("inventoryId", product.inventory_item_id), ("productId", product.id),
                          ("externalId", product.id)):
        value = body.get(key)
        if value not in (None, "", expected):
            raise validation_error(key, "does not match the item in the path", rule="OTHER")
    variant_ids = get_list(body, "variantIds", "")
    wanted = frozenset(map(str, variant_ids)) if variant_ids else None
    return json_response({"inventoryItem": inventory_item_dict(product, variant_ids=wanted)})
