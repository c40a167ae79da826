"""Wix's answers as typed, slotted structs holding only the fields syncd reads.

A Catalog V1 page of 100 products with their variants is a few hundred kilobytes of JSON, of
which syncd reads a dozen fields per product and five per variant. Decoding it into dicts
builds every price, option, media item and URL only to drop them, and that was most of a
walk's CPU. ``msgspec`` decodes the bytes straight into these structs instead: fields not
declared here are skipped without building anything, and each declared field is checked on
the way in.

The contract's rules for the shape of an answer:

- An unknown field is tolerated (ignored), so Wix adding a field breaks nothing.
- Any field may be absent (proto3 JSON leaves out fields holding their default: ``false``,
  ``0``, ``""``, empty lists), and ``null`` reads as absent: every field defaults to
  None, and the parsers give it the meaning the contract gives a missing field (a tracked
  variant's missing quantity is 0, a missing ``visible`` is "unknown").
- Numbers may come as JSON numbers or as numeric strings (int64 values such as
  ``numericId`` and ``revision`` are strings on the wire): decoding is lax
  (``strict=False``), so ``"1598904314932014"`` and ``1598904314932014`` give the same int.
- A field of the wrong type (an object where a quantity belongs, a word where a number
  belongs) fails the answer with a ``WixServerError`` naming the endpoint and the field's
  path (``$.products[3].variants[0].stock.quantity``), as an answer that is not a JSON
  object does: never a silent default.

The structs are not tracked by the cyclic garbage collector (``gc=False``): a decoded
answer is a tree that nothing points back into, so it can hold no cycle. Building a page's
tens of thousands of tracked objects used to set off collections that walked every value
the walk had already built; in a 12,000-product plan that cost more CPU than decoding.

Not here: what the fields mean (``parse_v1``, ``walk_v3``) and error bodies (``client``).
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

import msgspec

from syncd.base.errors import WixServerError

T = TypeVar("T")


# -- Catalog V1 (stores-reader) ------------------------------------------------------------


class V1VariantStock(msgspec.Struct, gc=False):
    """A V1 variant's ``stock`` (or an Inventory V2 item's variant entry)."""

    trackQuantity: bool | None = None
    quantity: int | None = None
    inStock: bool | None = None
    variantId: str | None = None
    """Inventory V2 only: which variant the entry is for."""


class V1VariantDetails(msgspec.Struct, gc=False):
    """A V1 variant's ``variant`` object: its own SKU and visibility."""

    sku: str | None = None
    visible: bool | None = None


class V1Variant(msgspec.Struct, gc=False):
    """One V1 product variant (Query Products with ``includeVariants``, Query Product
    Variants); ``stock`` is None when the answer did not carry it."""

    id: str | None = None
    variant: V1VariantDetails | None = None
    stock: V1VariantStock | None = None


class V1ProductStock(msgspec.Struct, gc=False):
    """A V1 product's ``stock``: tracking is one flag per product."""

    trackInventory: bool | None = None


class V1Product(msgspec.Struct, gc=False):
    """One V1 product, with the fields the walk and the stock resolution read."""

    id: str | None = None
    numericId: int | None = None
    name: str | None = None
    sku: str | None = None
    visible: bool | None = None
    """None when the answer left it out (a hidden product's ``false`` may be left out)."""
    manageVariants: bool | None = None
    inventoryItemId: str | None = None
    stock: V1ProductStock | None = None
    variants: list[V1Variant] | None = None
    """None when the answer carried no variants (missing, ``null`` or empty)."""


class V1ProductAnswer(msgspec.Struct, gc=False):
    """An answer of Get Product (V1)."""

    product: V1Product | None = None


class V1VariantStockAnswer(msgspec.Struct, gc=False):
    """An answer of the seed's Get Inventory Variant (V1): the variant's stock."""

    variant: V1VariantStock | None = None


class V2InventoryItem(msgspec.Struct, gc=False):
    """One Inventory V2 item: a V1 product's stock, one entry per variant."""

    id: str | None = None
    numericId: int | None = None
    productId: str | None = None
    externalId: str | None = None
    trackQuantity: bool | None = None
    variants: list[V1VariantStock] | None = None


class V1ProductsPage(msgspec.Struct, gc=False):
    """An answer of Query Products (V1)."""

    products: list[V1Product] | None = None
    totalResults: int | None = None

    @property
    def records(self) -> list[V1Product]:
        """The products listed (none when the list is missing)."""
        return self.products or []


class V1VariantsPage(msgspec.Struct, gc=False):
    """An answer of Query Product Variants (V1)."""

    variants: list[V1Variant] | None = None
    totalResults: int | None = None


class V2InventoryPage(msgspec.Struct, gc=False):
    """An answer of Query Inventory (V2)."""

    inventoryItems: list[V2InventoryItem] | None = None
    totalResults: int | None = None

    @property
    def records(self) -> list[V2InventoryItem]:
        """The items listed (none when the list is missing)."""
        return self.inventoryItems or []


class V2InventoryAnswer(msgspec.Struct, gc=False):
    """An answer of Get Inventory Variants (V2)."""

    inventoryItem: V2InventoryItem | None = None


# -- Catalog V3 ----------------------------------------------------------------------------


class V3ItemProduct(msgspec.Struct, gc=False):
    """A V3 inventory item's ``product``: the variant's SKU, visibility and product name."""

    variantSku: str | None = None
    variantVisible: bool | None = None
    name: str | None = None


class V3InventoryItem(msgspec.Struct, gc=False):
    """One V3 inventory item (one variant at one location)."""

    id: str | None = None
    productId: str | None = None
    variantId: str | None = None
    locationId: str | None = None
    trackQuantity: bool | None = None
    quantity: int | None = None
    inStock: bool | None = None
    availabilityStatus: str | None = None
    revision: str | int | None = None
    product: V3ItemProduct | None = None


class V3Cursors(msgspec.Struct, gc=False):
    """``pagingMetadata.cursors`` of a V3 query."""

    next: str | None = None


class V3PagingMetadata(msgspec.Struct, gc=False):
    """``pagingMetadata`` of a V3 query: how the cursor goes on."""

    cursors: V3Cursors | None = None
    hasNext: bool | None = None


class V3InventoryPage(msgspec.Struct, gc=False):
    """An answer of Query Inventory Items (V3)."""

    inventoryItems: list[V3InventoryItem] | None = None
    pagingMetadata: V3PagingMetadata | None = None

    @property
    def records(self) -> list[V3InventoryItem]:
        """The items listed (none when the list is missing)."""
        return self.inventoryItems or []


class V3InventoryObjectsPage(msgspec.Struct, gc=False):
    """An answer of Query Inventory Items (V3) with each item kept whole (timestamp reads
    look at fields the walk never reads)."""

    inventoryItems: list[dict[str, Any]] | None = None
    pagingMetadata: V3PagingMetadata | None = None

    @property
    def records(self) -> list[dict[str, Any]]:
        """The items listed (none when the list is missing)."""
        return self.inventoryItems or []


class V3ProductsPage(msgspec.Struct, gc=False):
    """An answer of Query Products (V3), each product kept whole (read rarely)."""

    products: list[dict[str, Any]] | None = None
    pagingMetadata: V3PagingMetadata | None = None

    @property
    def records(self) -> list[dict[str, Any]]:
        """The products listed (none when the list is missing)."""
        return self.products or []


class V3VariantsPage(msgspec.Struct, gc=False):
    """An answer of Query Variants (V3), each variant kept whole (read by lint only)."""

    variants: list[dict[str, Any]] | None = None
    pagingMetadata: V3PagingMetadata | None = None

    @property
    def records(self) -> list[dict[str, Any]]:
        """The variants listed (none when the list is missing)."""
        return self.variants or []


# -- decoding ------------------------------------------------------------------------------


_DECODERS: dict[type[Any], msgspec.json.Decoder[Any]] = {}
"""One decoder per answer type, built on first use (building one compiles the type)."""


def _decoder(answer: type[Any]) -> msgspec.json.Decoder[Any]:
    decoder = _DECODERS.get(answer)
    if decoder is None:
        decoder = _DECODERS[answer] = msgspec.json.Decoder(answer, strict=False)
    return decoder


class NotJSON(ValueError):
    """The body is not JSON at all (the caller decides whether that is a foreign answer)."""


def decode_answer(raw: bytes, answer: type[T], *, endpoint: str, status: int) -> T:
    """``raw`` decoded into ``answer``; an empty body is an empty object.

    Raises ``NotJSON`` for a body that is not JSON, ``WixServerError`` for JSON of the
    wrong shape. What counts as JSON is the standard library's (it also takes ``NaN``),
    as for the answers decoded into dicts.
    """
    if not raw.strip():
        raw = b"{}"
    try:
        decoded: T = _decoder(answer).decode(raw)
        return decoded
    except msgspec.ValidationError as exc:
        raise malformed(exc, endpoint=endpoint, status=status) from None
    except msgspec.DecodeError:
        pass
    try:  # msgspec is stricter than the standard library about what JSON is
        data = json.loads(raw)
    except ValueError:
        raise NotJSON(endpoint) from None
    return convert_answer(data, answer, endpoint=endpoint, status=status)


def convert_answer(data: object, answer: type[T], *, endpoint: str, status: int = 200) -> T:
    """An already decoded JSON value (dicts and lists) as ``answer``, by the same rules."""
    try:
        converted: T = msgspec.convert(data, answer, strict=False)
        return converted
    except msgspec.ValidationError as exc:
        raise malformed(exc, endpoint=endpoint, status=status) from None


def malformed(exc: msgspec.ValidationError, *, endpoint: str, status: int) -> WixServerError:
    """The error for an answer of the wrong shape: the endpoint, the field and the way out."""
    return WixServerError(
        f"{endpoint}: Wix answered HTTP {status} with JSON of an unexpected shape: {exc} "
        "(see the Wix API contract for the field's type; nothing was written from this "
        "answer, and the call is retried like a server error)",
        status=status, endpoint=endpoint)
