"""Switches that make the emulator play the *other* plausible answer of an unconfirmed point.

The contract (``wix-api.md``) leaves several behaviours open. By default the emulator plays
one reading of each; every switch here plays another, so a client that relies on one reading
fails a test instead of failing on a real store. ``--wix-variants all`` (or a comma list of
names, see ``NAMES``) turns them on; tests set ``EmulatorConfig(variants=...)``.

- ``sparse_json``: 2xx answers leave out every field holding its default (``false``, ``0``,
  ``""``, empty lists), as proto3 JSON does; objects stay, even empty (message presence).
- ``short_pages``: V1 offset pages come back shorter than the limit mid-stream (about one in
  three pages, cut by a deterministic amount; the cut items are *not* skipped: the next
  page by numericId or by ``offset + received`` returns them).
- ``visible_totals``: ``totalResults`` counts visible products only, even with
  ``includeHiddenProducts``.
- ``strict_numeric_bound``: a ``numericId`` bound sent as a JSON string matches nothing
  (Wix compares by type).
- ``mismatch_status``: V1/V2 calls on a V3 site answer 404 instead of 428.
- ``whole_bulk_errors``: V3 Bulk Update fails as a whole (409 for a stale revision, 428 for
  the documented business codes) and applies nothing, instead of per-item results.
- ``bulk_results_unordered``: bulk results carry no ``originalIndex`` and come back in
  reverse order.
- ``low_offset_cap``: offsets from ``LOW_OFFSET_CAP`` on fail (400), not from 10,000.
- ``no_variant_stock``: Query Products leaves ``variants[].stock`` out.
- ``unmanaged_options``: on a V1 site, one product with options in four has
  ``manageVariants: false``: one SKU, on the product, shared by all its variants (each
  variant keeps its own stock, the per-variant reading of gotcha 8).
- ``strict_fields``: a request body with a field the endpoint does not know is a 400 (so a
  typo such as ``includeHiddenProduct`` is caught).
- ``rate_per_key``: the request budget is counted per API key, not per site (one key used
  for several sites shares one budget; see ``serve(..., limiter=)`` to share it between two
  emulated sites).
- ``read_lag``: the ``stores-reader`` read endpoints serve V1 stock as it was
  ``EmulatorConfig.read_lag_s`` seconds ago (default ``READ_LAG_S``): a read right after a
  write may not show it.
- ``applied_5xx``: every third V1 stock write call (Update Inventory Variants,
  Increment, Decrement) is applied, then answered 500, 503 or 504 in turn, as a gateway
  does when the service behind it finished the work.
- ``ignored_writes``: Update Inventory Variants answers ``{}`` but leaves one variant in
  ``IGNORED_EVERY`` (a fixed subset, ``ignores_write``) as it was, as for a variant the
  inventory item does not hold.
- ``numeric_bound_string_only``: a ``numericId`` bound sent as a JSON number matches nothing
  (the field is an int64 string, and Wix compares by type).
- ``numeric_bound_type_refused``: a ``numericId`` bound sent as a JSON number is a 400.
- ``cursor_on_last_page``: V3 cursor queries keep a ``next`` cursor on the last page
  (``hasNext: false`` where the answer has that field); following it gives an empty page
  that again carries a cursor.
- ``expiring_cursor``: V3 cursors live a short time: the first time a query is followed
  past its first page, its cursor is refused as expired (400); the query asked again from
  its first page is served (as after a pause for the rate budget).
- ``retry_after_ms``: a 429 carries ``Retry-After`` in milliseconds.
- ``retry_after_huge``: a 429 carries ``Retry-After: 86400`` (overrules ``retry_after_ms``).
- ``auth_403``: every authentication failure answers 403 (a key Wix does not know as well
  as a site the key may not reach), where the default answers 401 for the key.
- ``items_echo_limit``: V1/V2 offset queries' ``metadata.items`` echoes the requested limit
  instead of counting the records returned.
- ``inventory_hides_hidden``: Query Inventory leaves out the inventory items of hidden
  products (whether it lists them is unconfirmed).
- ``text_429``: 429 and 5xx answers carry an edge proxy's HTML or plain-text body, not
  Wix's JSON.

Some switches contradict another (``OVERRULES``): ``all`` leaves the overruled one off, and
a comma list naming both plays a server no client can read completely (both numericId bound
types matching nothing), which is how a test makes a walk fail its completeness proof.
"""

from __future__ import annotations

import json
import math
import zlib
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

NAMES = (
    "sparse_json", "short_pages", "visible_totals", "strict_numeric_bound", "mismatch_status",
    "whole_bulk_errors", "bulk_results_unordered", "low_offset_cap", "no_variant_stock",
    "unmanaged_options", "strict_fields", "rate_per_key",
    "read_lag", "applied_5xx", "ignored_writes",
    "numeric_bound_string_only", "numeric_bound_type_refused", "cursor_on_last_page",
    "expiring_cursor", "retry_after_ms", "retry_after_huge", "text_429",
    "auth_403", "items_echo_limit", "inventory_hides_hidden",
)
"""Every switch, in the order ``--wix-variants`` documents them."""

OVERRULES = {
    "numeric_bound_string_only": ("strict_numeric_bound",),
    "numeric_bound_type_refused": ("strict_numeric_bound",),
}
"""Switches ``all`` leaves off because another switch contradicts them: a number bound that
fails and a string bound that matches nothing together leave no way to filter by numericId."""

RETRY_AFTER_HUGE_S = 86_400
"""``Retry-After`` under ``retry_after_huge``: a day."""

LOW_OFFSET_CAP = 500
"""Offsets at or past this fail under ``low_offset_cap``."""

MISMATCH_STATUS = 404
"""Status of a V1/V2 call on a V3 site under ``mismatch_status`` (default answer: 428)."""

READ_LAG_S = 2.0
"""How far reads lag writes under ``read_lag`` unless ``EmulatorConfig.read_lag_s`` says."""

APPLIED_5XX_STATUSES = (500, 503, 504)
"""The answers of ``applied_5xx``, in turn, to every third write call."""

IGNORED_EVERY = 16
"""``ignored_writes`` leaves about one variant in this many unwritten."""


def applied_5xx_status(call_number: int) -> int | None:
    """The 5xx that answers the ``call_number``-th write call (1-based) under
    ``applied_5xx`` after it was applied, or None for a plain answer."""
    if call_number % 3:
        return None
    return APPLIED_5XX_STATUSES[(call_number // 3 - 1) % len(APPLIED_5XX_STATUSES)]


def ignores_write(product_id: str, variant_id: str) -> bool:
    """True for the variants ``ignored_writes`` leaves as they were (the same every run)."""
    return zlib.crc32(f"{product_id}/{variant_id}".encode()) % IGNORED_EVERY == 0


@dataclass(frozen=True, slots=True)
class WixVariants:
    """Which unconfirmed behaviours play their alternative answer (all off = the default)."""

    sparse_json: bool = False
    """Leave default-valued fields out of 2xx answers."""
    short_pages: bool = False
    """Return V1 offset pages shorter than the limit mid-stream."""
    visible_totals: bool = False
    """``totalResults`` counts visible products only."""
    strict_numeric_bound: bool = False
    """A string ``numericId`` bound matches nothing."""
    mismatch_status: bool = False
    """V1/V2 calls on a V3 site answer ``MISMATCH_STATUS`` instead of 428."""
    whole_bulk_errors: bool = False
    """Bulk Update fails whole (409/428) when any item would fail; nothing applied."""
    bulk_results_unordered: bool = False
    """Bulk results without ``originalIndex``, in reverse order."""
    low_offset_cap: bool = False
    """Offsets from ``LOW_OFFSET_CAP`` on fail."""
    no_variant_stock: bool = False
    """Query Products leaves ``variants[].stock`` out."""
    unmanaged_options: bool = False
    """V1: some products with options have ``manageVariants: false``."""
    strict_fields: bool = False
    """Unknown request body fields are a 400."""
    rate_per_key: bool = False
    """The request budget is counted per API key instead of per site."""
    read_lag: bool = False
    """``stores-reader`` reads show V1 stock as it was ``read_lag_s`` seconds ago."""
    applied_5xx: bool = False
    """Every third V1 stock write call is applied, then answered with a 5xx."""
    ignored_writes: bool = False
    """Update Inventory Variants answers ``{}`` but ignores a fixed subset of variants."""
    numeric_bound_string_only: bool = False
    """A number ``numericId`` bound matches nothing."""
    numeric_bound_type_refused: bool = False
    """A number ``numericId`` bound is a 400."""
    cursor_on_last_page: bool = False
    """V3 last pages keep a ``next`` cursor (to an empty page)."""
    expiring_cursor: bool = False
    """A V3 query's first follow-up cursor is refused once as expired."""
    retry_after_ms: bool = False
    """429s carry ``Retry-After`` in milliseconds."""
    retry_after_huge: bool = False
    """429s carry ``Retry-After: 86400``."""
    text_429: bool = False
    """429 and 5xx bodies are HTML or plain text."""
    auth_403: bool = False
    """Every authentication failure answers 403, a wrong key too."""
    items_echo_limit: bool = False
    """V1/V2 ``metadata.items`` echoes the requested limit."""
    inventory_hides_hidden: bool = False
    """Query Inventory leaves hidden products' items out."""

    @classmethod
    def parse(cls, text: str) -> WixVariants:
        """``"all"``, ``"none"``/``""`` or a comma list of ``NAMES``; ValueError otherwise."""
        words = [w.strip().replace("-", "_") for w in text.split(",") if w.strip()]
        if words in ([], ["none"]):
            return cls()
        if words == ["all"]:
            return cls.all()
        unknown = sorted(set(words) - set(NAMES))
        if unknown:
            raise ValueError(f"unknown Wix variant(s) {', '.join(unknown)}; "
                             f"choose from all, none, {', '.join(NAMES)}")
        return cls(**dict.fromkeys(words, True))

    @classmethod
    def all(cls) -> WixVariants:
        """Every switch on but those another one overrules (``OVERRULES``)."""
        overruled = {name for names in OVERRULES.values() for name in names}
        return cls(**dict.fromkeys((n for n in NAMES if n not in overruled), True))

    @property
    def active(self) -> tuple[str, ...]:
        """Names of the switches that are on."""
        return tuple(f.name for f in fields(self) if getattr(self, f.name))

    @property
    def offset_cap(self) -> int:
        """The first offset that fails."""
        return LOW_OFFSET_CAP if self.low_offset_cap else 10_000


def strip_defaults(value: Any) -> Any:
    """``value`` without default-valued fields (proto3 JSON): ``false``, ``0``, ``""`` and
    empty lists leave objects; objects themselves stay. List elements are kept."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if item is False or item == "" or item == [] or (
                    isinstance(item, int | float) and not isinstance(item, bool) and item == 0):
                continue
            out[key] = strip_defaults(item)
        return out
    if isinstance(value, list):
        return [strip_defaults(item) for item in value]
    return value


def sparse_body(raw: bytes) -> bytes:
    """A JSON answer body with its default-valued fields left out."""
    return json.dumps(strip_defaults(json.loads(raw)), separators=(",", ":")).encode()


def short_length(first_numeric_id: int, limit: int) -> int:
    """How many of a full page of ``limit`` to return under ``short_pages`` (deterministic
    per page content, so asking again gives the same page)."""
    if limit < 3 or (first_numeric_id // 7) % 3:
        return limit
    return limit - 1 - (first_numeric_id // 11) % (limit // 3)


def has_string_bound(filter_doc: Any) -> bool:
    """True when a ``numericId`` condition anywhere in a V1 filter compares with a string."""
    return _has_bound(filter_doc, lambda v: isinstance(v, str))


def has_number_bound(filter_doc: Any) -> bool:
    """True when a ``numericId`` condition anywhere in a V1 filter compares with a number."""
    return _has_bound(filter_doc,
                      lambda v: isinstance(v, int | float) and not isinstance(v, bool))


def _has_bound(filter_doc: Any, kind: Callable[[Any], bool]) -> bool:
    if isinstance(filter_doc, list):
        return any(_has_bound(part, kind) for part in filter_doc)
    if not isinstance(filter_doc, dict):
        return False
    for key, cond in filter_doc.items():
        if key == "numericId":
            values = cond.values() if isinstance(cond, dict) else [cond]
            for value in values:
                items = value if isinstance(value, list) else [value]
                if any(kind(v) for v in items):
                    return True
        elif key in ("$and", "$or", "$not"):
            if _has_bound(cond, kind):
                return True
    return False


def retry_after_header(variants: WixVariants, *, configured_s: float | None,
                       free_in_s: float) -> str | None:
    """The ``Retry-After`` of a 429: the configured seconds by default, the wait until the
    window frees in milliseconds under ``retry_after_ms``, a day under ``retry_after_huge``."""
    if variants.retry_after_huge:
        return str(RETRY_AFTER_HUGE_S)
    if variants.retry_after_ms:
        return str(max(1, math.ceil(free_in_s * 1000)))
    if configured_s is None:
        return None
    return f"{configured_s:g}"


_PAGING = {"limit": None, "offset": None}
_V1_QUERY = {"filter": None, "sort": None, "paging": _PAGING}
_CURSOR = {"limit": None, "cursor": None}
_V3_QUERY = {"filter": None, "sort": None, "cursorPaging": _CURSOR}
_V3_ITEM = {"id": None, "revision": None, "quantity": None, "inStock": None,
            "preorderInfo": None}

KNOWN_FIELDS: dict[str, dict[str, Any]] = {
    "POST /v1/products/query": {"query": _V1_QUERY, "includeVariants": None,
                                "includeHiddenProducts": None,
                                "includeMerchantSpecificData": None},
    "POST /v2/inventoryItems/query": {"query": _V1_QUERY},
    "POST /v2/inventoryItems/{inventoryId}/getVariants": {
        "inventoryId": None, "productId": None, "externalId": None, "variantIds": None},
    "POST /v1/products/{id}/variants/query": {
        "choices": None, "variantIds": None, "paging": _PAGING,
        "includeMerchantSpecificData": None},
    "PATCH /stores/v2/inventoryItems/product/{productId}": {"inventoryItem": {
        "id": None, "productId": None, "externalId": None, "trackQuantity": None,
        "variants": [{"variantId": None, "inStock": None, "quantity": None}],
        "preorderInfo": None}},
    "POST /stores/v3/inventory-items/query": {"query": _V3_QUERY},
    "POST /stores/v3/products/query": {"query": _V3_QUERY, "fields": None},
    "POST /stores/v3/bulk/inventory-items/update": {
        "inventoryItems": [{"inventoryItem": _V3_ITEM}], "returnEntity": None, "reason": None},
    "PATCH /stores/v3/inventory-items/{inventoryItemId}": {"inventoryItem": _V3_ITEM,
                                                           "reason": None},
}
"""Request fields per route (``None``: any value; a dict: its fields are checked too; a list
of one dict: every element is checked). V1/V2 reads are keyed without their prefix."""


def known_fields(method: str, template: str) -> dict[str, Any] | None:
    """The field schema of a route, or None when this one is not checked."""
    for prefix in ("/stores-reader", "/stores"):
        if template.startswith((prefix + "/v1/", prefix + "/v2/")):
            schema = KNOWN_FIELDS.get(f"{method} {template[len(prefix):]}")
            if schema is not None:
                return schema
    return KNOWN_FIELDS.get(f"{method} {template}")


def unknown_field(body: Any, schema: Any, where: str = "") -> str | None:
    """The dotted name of the first field of ``body`` that ``schema`` does not know."""
    if isinstance(schema, list) and isinstance(body, list):
        for index, item in enumerate(body):
            found = unknown_field(item, schema[0], f"{where}[{index}]")
            if found:
                return found
        return None
    if not isinstance(schema, dict) or not isinstance(body, dict):
        return None
    for key, value in body.items():
        name = f"{where}.{key}" if where else key
        if key not in schema:
            return name
        found = unknown_field(value, schema[key], name)
        if found:
            return found
    return None
