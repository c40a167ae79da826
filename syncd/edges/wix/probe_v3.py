"""The read-only questions a probe asks a Catalog V3 store, and those both catalogs share.

V3 pages by cursor: two small Query Inventory Items reads show whether a cursor can be
followed at once (``cursor_expiry``) and whether the last page of a query still carries a
cursor (``cursor_last_page``). The shared questions: how a key Wix does not know is refused
(``auth_status``), and how the other catalog's endpoint answers (``catalog_mismatch_status``,
which only a V3 store can show: a V1 store answers the documented 428 to V3 calls).
"""

from __future__ import annotations

from typing import Any

from syncd.core.findings import UNDETERMINED, Finding
from syncd.edges.wix.probe_ask import Asker, Reply, default_valued_field
from syncd.edges.wix.probe_v1 import PRODUCTS_PATH, products_body

ITEMS_PATH = "/stores/v3/inventory-items/query"
VERSION_PATH = "/stores/v3/provision/version"
ITEMS_MAX = 1000
"""V3 Query Inventory Items' page maximum."""


def items_body(limit: int, *, cursor: str | None = None,
               ids: list[str] | None = None) -> dict[str, Any]:
    paging: dict[str, Any] = {"limit": limit}
    if cursor is not None:
        return {"query": {"cursorPaging": {"cursor": cursor, **paging}}}
    query: dict[str, Any] = {"cursorPaging": paging}
    if ids is not None:
        query["filter"] = {"id": {"$in": ids}}
    return {"query": query}


async def items(asker: Asker, body: dict[str, Any], shown: str) -> Reply:
    return await asker.ask("POST", ITEMS_PATH, endpoint="v3.inventory.query", body=body,
                           shown=shown)


def next_cursor(reply: Reply) -> str | None:
    meta = reply.data.get("pagingMetadata")
    cursors = meta.get("cursors") if isinstance(meta, dict) else None
    value = cursors.get("next") if isinstance(cursors, dict) else None
    return value if isinstance(value, str) and value else None


async def auth_status(asker: Asker) -> Finding:
    reply = await asker.ask_with_wrong_key(VERSION_PATH, endpoint="catalog.version")
    if reply.status in (401, 403):
        return Finding("auth_status", str(reply.status), reply.says("a wrong key is refused"))
    return Finding("auth_status", UNDETERMINED, reply.says("neither 401 nor 403"))


async def catalog_mismatch(asker: Asker) -> Finding:
    """One V1 Query Products on a V3 store."""
    body = products_body(limit=1)
    reply = await asker.ask("POST", PRODUCTS_PATH, endpoint="v1.products.query", body=body,
                            shown="(limit 1, a V1 call on a V3 store)")
    if reply.status in (404, 428):
        return Finding("catalog_mismatch_status", str(reply.status), reply.says(""))
    return Finding("catalog_mismatch_status", UNDETERMINED, reply.says("neither 428 nor 404"))


async def v3_findings(asker: Asker) -> tuple[list[Finding], Reply]:
    """``json_defaults``, ``cursor_expiry`` and ``cursor_last_page`` from at most four
    Query Inventory Items reads; also returns the first page."""
    first = await items(asker, items_body(2), "(limit 2)")
    found: list[Finding] = []
    records = first.records("inventoryItems")
    if not records:
        found.append(Finding("json_defaults", UNDETERMINED, first.says("no inventory item")))
    elif (name := default_valued_field(records)) is not None:
        found.append(Finding("json_defaults", "present",
                             first.says(f"inventoryItems{name} holds its default value")))
    else:
        found.append(Finding("json_defaults", "omitted", first.says(
            f"no field of {len(records)} items holds false, 0, \"\" or []")))
    cursor = next_cursor(first)
    if cursor is None:
        found.append(Finding("cursor_expiry", UNDETERMINED, first.says(
            "no cursor: the store holds fewer than 3 inventory items")))
    else:
        follow = await items(asker, items_body(2, cursor=cursor), "(the next cursor at once)")
        if follow.ok:
            found.append(Finding("cursor_expiry", "lasts", follow.says(
                "a cursor followed at once was served")))
        elif follow.status == 400:
            found.append(Finding("cursor_expiry", "expires", follow.says(
                "a cursor followed at once was refused")))
        else:
            found.append(Finding("cursor_expiry", UNDETERMINED, follow.says("")))
    ids = [str(r.get("id")) for r in records if r.get("id")]
    if not ids:
        found.append(Finding("cursor_last_page", UNDETERMINED, first.says("no item to ask")))
        return found, first
    last = await items(asker, items_body(len(ids), ids=ids),
                       f"(limit {len(ids)}, filter id $in the {len(ids)} items above)")
    after = next_cursor(last)
    if not last.ok:
        found.append(Finding("cursor_last_page", UNDETERMINED, last.says("")))
    elif after is None:
        found.append(Finding("cursor_last_page", "no_cursor", last.says(
            f"{len(last.records('inventoryItems'))} items, no next cursor")))
    else:
        empty = await items(asker, items_body(len(ids), cursor=after),
                            "(the cursor of that last page)")
        got = len(empty.records("inventoryItems"))
        reading = "cursor_to_empty_page" if empty.ok and got == 0 else UNDETERMINED
        found.append(Finding("cursor_last_page", reading, last.says(
            "the last page carries a next cursor") + "; " + empty.says(f"{got} items")))
    return found, first
