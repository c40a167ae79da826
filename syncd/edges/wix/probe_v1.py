"""The read-only questions a probe asks a Catalog V1 store, one function per open point.

Each function reads what earlier answers already hold (``V1Pages``) or asks one or two
requests of its own, and returns a ``Finding``: the reading the store showed, or
``UNDETERMINED`` with the reason (a store too small, no hidden product to tell by). The
pages are the ones a walk reads (Query Products with variants and hidden products, 100 at
a time), so what they show is what the walker sees.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from syncd.core.findings import UNDETERMINED, Finding
from syncd.edges.wix.probe_ask import Asker, Reply, default_valued_field, numeric

PRODUCTS_PATH = "/stores-reader/v1/products/query"
INVENTORY_PATH = "/stores-reader/v2/inventoryItems/query"
PAGE = 100
OFFSET_ASKED = 9_900
"""The offset the offset-cap question asks for: the last page below the documented 10,000."""


def products_body(*, limit: int = PAGE, offset: int = 0, descending: bool = False,
                  hidden: bool = True, filter_doc: dict[str, Any] | None = None,
                  **extra: Any) -> dict[str, Any]:
    """A Query Products body as the walker sends it (``extra``: further top-level fields)."""
    query: dict[str, Any] = {"sort": json.dumps([{"numericId": "desc" if descending
                                                  else "asc"}]),
                             "paging": {"limit": limit, "offset": offset}}
    if filter_doc is not None:
        query["filter"] = json.dumps(filter_doc)
    body: dict[str, Any] = {"query": query, "includeVariants": True, **extra}
    if hidden:
        body["includeHiddenProducts"] = True
    return body


def shown(body: dict[str, Any]) -> str:
    """A Query Products body in a few words, for evidence."""
    query = body["query"]
    paging = query["paging"]
    words = [f"limit {paging['limit']}"]
    if paging["offset"]:
        words.append(f"offset {paging['offset']}")
    if "desc" in query["sort"]:
        words.append("numericId desc")
    if "filter" in query:
        words.append(f"filter {query['filter']}")
    words.append("hidden included" if body.get("includeHiddenProducts") else "visible only")
    words += [k for k in body if k not in ("query", "includeVariants",
                                           "includeHiddenProducts")]
    return "(" + ", ".join(words) + ")"


async def products(asker: Asker, **kwargs: Any) -> Reply:
    body = products_body(**kwargs)
    return await asker.ask("POST", PRODUCTS_PATH, endpoint="v1.products.query", body=body,
                           shown=shown(body))


def hidden(product: dict[str, Any]) -> bool:
    """Hidden: ``visible`` false, or left out (its default is false)."""
    return product.get("visible") is not True


def total(reply: Reply) -> int | None:
    value = reply.data.get("totalResults")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@dataclass(slots=True)
class V1Pages:
    """The pages every V1 question may look at, read once."""

    first: Reply
    """Lowest 100 by numericId, hidden products included."""
    last: Reply
    """Highest 100, hidden products included."""
    visible: Reply
    """Lowest 100 without ``includeHiddenProducts``."""
    more: list[Reply] = field(default_factory=list)
    """Further full-size pages read by other questions (for the page-length question)."""

    @property
    def seen(self) -> dict[str, dict[str, Any]]:
        """Every product the hidden-included pages hold, by id."""
        return {str(p.get("id")): p for r in (self.first, self.last)
                for p in r.records("products")}


async def read_pages(asker: Asker) -> V1Pages:
    first = await products(asker)
    last = await products(asker, descending=True)
    visible = await products(asker, hidden=False)
    return V1Pages(first, last, visible)


def json_defaults(pages: V1Pages) -> Finding:
    products_ = pages.first.records("products")
    if not products_:
        return Finding("json_defaults", UNDETERMINED, pages.first.says("no product to look at"))
    name = default_valued_field(products_)
    if name is not None:
        return Finding("json_defaults", "present",
                       pages.first.says(f"products{name} holds its default value"))
    return Finding("json_defaults", "omitted", pages.first.says(
        f"no field of {len(products_)} products holds false, 0, \"\" or []"))


def variant_stock(pages: V1Pages) -> Finding:
    variants = [v for p in pages.first.records("products")
                for v in (p.get("variants") or []) if isinstance(v, dict)]
    if not variants:
        return Finding("variant_stock", UNDETERMINED, pages.first.says("no variant listed"))
    lacking = sum(1 for v in variants if not isinstance(v.get("stock"), dict))
    if lacking:
        return Finding("variant_stock", "absent", pages.first.says(
            f"{lacking} of {len(variants)} variants carry no stock"))
    return Finding("variant_stock", "in_variants", pages.first.says(
        f"all {len(variants)} variants carry variants[].stock"))


def unmanaged_options(pages: V1Pages) -> Finding:
    with_options = [p for p in pages.seen.values() if p.get("productOptions")]
    unmanaged = [p for p in with_options if p.get("manageVariants") is not True]
    if unmanaged:
        return Finding("unmanaged_options", "seen", pages.first.says(
            f"{len(unmanaged)} of {len(with_options)} products with options have "
            f"manageVariants false (e.g. {unmanaged[0].get('id')})"))
    return Finding("unmanaged_options", "none_seen", pages.first.says(
        f"all {len(with_options)} products with options manage their variants"))


def total_results(pages: V1Pages) -> Finding:
    with_hidden, visible_only = total(pages.first), total(pages.visible)
    seen = pages.seen
    hidden_seen = sum(1 for p in seen.values() if hidden(p))
    evidence = (f"totalResults {with_hidden} with hidden products, {visible_only} without; "
                f"{hidden_seen} hidden among {len(seen)} products read")
    if with_hidden is None or visible_only is None:
        return Finding("total_results", UNDETERMINED, pages.first.says(evidence))
    if with_hidden > visible_only:
        return Finding("total_results", "counts_hidden", pages.first.says(evidence))
    if hidden_seen or len(seen) > with_hidden:
        return Finding("total_results", "visible_only", pages.first.says(evidence))
    return Finding("total_results", UNDETERMINED,
                   pages.first.says(evidence + ": no hidden product to tell by"))


def page_length(pages: V1Pages) -> Finding:
    """Short pages show on any page that has more after it; full ones prove little, so the
    reading ``full`` says how many pages were seen whole."""
    candidates = [pages.first, pages.last, pages.visible, *pages.more]
    checked = 0
    for reply in candidates:
        got, count = len(reply.records("products")), total(reply)
        offset = reply.data.get("metadata", {}).get("offset", 0) if isinstance(
            reply.data.get("metadata"), dict) else 0
        if count is None or not isinstance(offset, int) or offset + PAGE >= count:
            continue  # the last page of its query: short by right
        checked += 1
        if got < PAGE:
            return Finding("v1_page_length", "short", reply.says(
                f"{got} of {PAGE} products although totalResults {count} says more follow"))
    if not checked:
        return Finding("v1_page_length", UNDETERMINED, pages.first.says(
            "fewer than 100 products: no page has more after it"))
    return Finding("v1_page_length", "full", pages.first.says(
        f"{checked} pages with more after them all came back with {PAGE} products"))


async def numeric_bound(asker: Asker, pages: V1Pages) -> tuple[Finding, list[Reply]]:
    """A ``$gt`` bound below the two highest products, sent as a number, then a string."""
    top = [n for n in (numeric(p.get("numericId")) for p in pages.last.records("products"))
           if n is not None]
    if len(top) < 3:
        return Finding("numeric_bound", UNDETERMINED, pages.last.says(
            "fewer than 3 products: no bound that leaves some out")), []
    bound = top[2]
    as_number = await products(asker, filter_doc={"numericId": {"$gt": bound}})
    as_string = await products(asker, filter_doc={"numericId": {"$gt": str(bound)}})

    def outcome(reply: Reply) -> str:
        if not reply.ok:
            return "refused" if reply.status == 400 else "failed"
        return "matches" if reply.records("products") else "nothing"

    n, s = outcome(as_number), outcome(as_string)
    evidence = as_number.says(f"number bound {n}") + "; " + as_string.says(
        f"string bound {s}")
    reading = {("matches", "matches"): "number_or_string",
               ("matches", "nothing"): "number_only",
               ("nothing", "matches"): "string_only",
               ("refused", "matches"): "string_only_number_refused"}.get((n, s), UNDETERMINED)
    return Finding("numeric_bound", reading, evidence), [as_number, as_string]


def metadata_items(replies: list[Reply]) -> Finding:
    """A page with fewer records than its limit tells a count from an echo."""
    for reply in replies:
        meta = reply.data.get("metadata")
        got = len(reply.records("products") or reply.records("inventoryItems"))
        if not reply.ok or not isinstance(meta, dict) or not isinstance(meta.get("items"), int):
            continue
        if got == PAGE:
            continue
        items = meta["items"]
        if items == got:
            return Finding("metadata_items", "count", reply.says(
                f"metadata.items {items} for {got} records (limit {PAGE})"))
        if items == PAGE:
            return Finding("metadata_items", "echo_limit", reply.says(
                f"metadata.items {items} for {got} records (limit {PAGE})"))
    return Finding("metadata_items", UNDETERMINED,
                   "no page came back with fewer records than its limit")


async def offset_cap(asker: Asker) -> Finding:
    reply = await products(asker, limit=1, offset=OFFSET_ASKED)
    if reply.ok:
        return Finding("offset_cap", "10000", reply.says(f"offset {OFFSET_ASKED} answered"))
    if reply.status == 400:
        return Finding("offset_cap", "lower", reply.says(f"offset {OFFSET_ASKED} refused"))
    return Finding("offset_cap", UNDETERMINED, reply.says(""))


async def unknown_fields(asker: Asker, path: str, body: dict[str, Any], *,
                         endpoint: str) -> Finding:
    """One read with a field the endpoint does not know (``syncdProbeUnknownField``)."""
    reply = await asker.ask("POST", path, endpoint=endpoint,
                            body={**body, "syncdProbeUnknownField": True})
    if reply.ok:
        return Finding("unknown_fields", "ignored", reply.says("the unknown field is ignored"))
    if reply.status == 400:
        return Finding("unknown_fields", "refused", reply.says("the unknown field is refused"))
    return Finding("unknown_fields", UNDETERMINED, reply.says(""))


async def page_limit(asker: Asker, path: str, body: dict[str, Any], *, limit: int,
                     list_key: str, endpoint: str) -> Finding:
    """One read asking for one more record than the documented page maximum."""
    reply = await asker.ask("POST", path, endpoint=endpoint, body=body,
                            shown=f"(page limit {limit + 1})")
    if reply.status == 400:
        return Finding("page_limit", "refused", reply.says(f"limit {limit + 1} is refused"))
    if reply.ok:
        got = len(reply.records(list_key))
        return Finding("page_limit", "clamped" if got <= limit else "exceeded", reply.says(
            f"{got} records returned for limit {limit + 1}"))
    return Finding("page_limit", UNDETERMINED, reply.says(""))


async def inventory_hidden(asker: Asker, pages: V1Pages) -> Finding:
    """Query Inventory for hidden products read on the product pages."""
    hidden_ids = [pid for pid, p in pages.seen.items() if hidden(p)][:PAGE]
    if not hidden_ids:
        return Finding("inventory_hidden", UNDETERMINED, pages.first.says(
            "no hidden product among those read to look for"))
    body = {"query": {"filter": json.dumps({"productId": {"$hasSome": hidden_ids}}),
                      "paging": {"limit": PAGE, "offset": 0}}}
    reply = await asker.ask("POST", INVENTORY_PATH, endpoint="v2.inventory.query", body=body,
                            shown=f"(filter productId $hasSome {len(hidden_ids)} hidden "
                                  "products)")
    if not reply.ok:
        return Finding("inventory_hidden", UNDETERMINED, reply.says(""))
    listed = {str(i.get("productId")) for i in reply.records("inventoryItems")}
    found = sum(1 for pid in hidden_ids if pid in listed)
    reading = "listed" if found else "left_out"
    return Finding("inventory_hidden", reading, reply.says(
        f"{found} of {len(hidden_ids)} hidden products have an inventory item listed"))
