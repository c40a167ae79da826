"""Domain values shared by every layer.

Everything here is a frozen, slotted dataclass, a frozen ``msgspec.Struct`` (``StoreVariant``,
built once per variant of a store at every walk: msgspec builds one in C, about ten times
faster than a dataclass) or a string enum, and nothing here imports from the rest of syncd.
Raw JSON from Wix and raw rows from CSV/YAML are turned into these values once, at the edges
(``syncd.edges.wix`` and ``syncd.desired``); nothing past the edge sees dicts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol, runtime_checkable

import msgspec

NIL_GUID = "00000000-0000-0000-0000-000000000000"
"""Variant id of the single variant of an option-less V1 product (never used in V3)."""

MAX_QUANTITY = 99_999
"""Highest stock quantity Wix accepts (V1 ``@max 99999``; V3 allows -99999..99999)."""


LOCATION_SEPARATOR = " @ "
"""Joins a SKU and a stock location id into one target key (``SKU-1 @ loc-id``)."""


class Catalog(StrEnum):
    """Which Wix catalog a site runs; a site runs exactly one, forever."""

    V1 = "v1"
    V3 = "v3"


class StoreVariant(msgspec.Struct, frozen=True, gc=False):
    """One variant as observed in the store: the unit the walker produces and the differ reads.

    ``quantity`` is None when the store did not report one (untracked variants may omit it).
    ``inventory_item_id`` is the V1 product's ``inventoryItemId`` (one per product) or the V3
    inventory item's id (one per variant and location). ``revision`` and ``location_id`` are
    V3 only. Frozen and hashable like the dataclasses here, and never part of a reference
    cycle (its fields are strings, numbers and flags), so the garbage collector does not
    track it (``gc=False``): a walk makes thousands. ``msgspec.structs.replace`` copies one
    with fields changed.
    """

    product_id: str
    variant_id: str
    inventory_item_id: str
    sku: str
    tracked: bool
    quantity: int | None
    in_stock: bool
    hidden: bool
    product_name: str = ""
    revision: str | None = None
    location_id: str | None = None
    shared_sku: bool = False
    """V1: the SKU is the product's (``manageVariants`` false), shared by all its variants,
    which a row naming it sets together; a SKU shared across products stays ambiguous."""

    managed_variant: bool | None = None
    """V1: the product's ``manageVariants`` (variants carry their own SKU and stock); None
    when the store did not say (V3 has no such flag)."""


@dataclass(frozen=True, slots=True)
class StoreSnapshot:
    """Every variant of one store at one moment, plus the cost of reading it."""

    catalog: Catalog
    variants: tuple[StoreVariant, ...]
    api_calls: int = 0
    answers: int | None = None
    """A digest of the walk's answers and of the requests that got them (``syncd.edges.wix.
    answer_digest``): equal digests mean Wix answered the same, byte for byte. None when
    the walk does not keep one."""
    unchanged: bool = False
    """The walk was asked whether its answers equal a digest, and they did: ``variants``
    is then empty, as the variants are those of the read that digest came from."""


@dataclass(frozen=True, slots=True)
class DesiredStock:
    """One valid row of the source of truth: what a single variant should say.

    A row targets its variant by ``sku``, or by ``product_id`` (plus ``variant_id`` for
    products with options). Exactly one of ``quantity`` and ``in_stock`` is set. ``source``
    and ``line`` point back at the row for every message about it.
    """

    sku: str | None
    product_id: str | None
    variant_id: str | None
    quantity: int | None
    in_stock: bool | None
    source: str
    line: int
    note: str = ""
    """The quantity rules that set the value (``values: 'In stock' = 10``), for the plan."""

    @property
    def key(self) -> str:
        """A human-readable key naming the target: the SKU, or ``product[/variant]``."""
        if self.sku is not None:
            return self.sku
        if self.variant_id is not None:
            return f"{self.product_id}/{self.variant_id}"
        return f"{self.product_id}"


@dataclass(frozen=True, slots=True)
class RowError:
    """A rejected source row, reported as ``file:line: field: reason``."""

    source: str
    line: int
    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: {self.field}: {self.reason}"


def holds(variant: StoreVariant, *, quantity: int | None, in_stock: bool | None) -> bool:
    """True when ``variant`` already says what writing ``quantity`` (tracked) or
    ``in_stock`` (untracked) would make it say."""
    if quantity is not None:
        return variant.tracked and variant.quantity == quantity
    return not variant.tracked and variant.in_stock == in_stock


# The columnar value encoding: how sources hand rows to the differ without a row object
# per line. A row's value is one int: its quantity, or a negative code for ``in_stock``.

VALUE_OUT_OF_STOCK = -1
"""``value_column`` code of an ``in_stock: false`` row (quantities are 0..99999)."""
VALUE_IN_STOCK = -2
"""``value_column`` code of an ``in_stock: true`` row."""


def encode_value(quantity: int | None, in_stock: bool | None) -> int:
    """A row's value as one int: the quantity, or a negative code for ``in_stock``."""
    if quantity is not None:
        return quantity
    return VALUE_IN_STOCK if in_stock else VALUE_OUT_OF_STOCK


def decode_value(value: int) -> tuple[int | None, bool | None]:
    """``(quantity, in_stock)`` from ``encode_value``'s int."""
    if value >= 0:
        return value, None
    return None, value == VALUE_IN_STOCK


@runtime_checkable
class ColumnarRows(Protocol):
    """Desired rows the differ can read as columns, without a row object per line.

    ``syncd.edges.sources.DesiredRows`` implements it; any other iterable of ``DesiredStock`` is
    accepted too (and read through the same columns).
    """

    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> DesiredStock: ...

    def sku_column(self) -> Sequence[str | None]:
        """Each row's SKU, None for rows that target by ids."""
        ...

    def value_column(self) -> Sequence[int]:
        """Each row's value as ``encode_value`` gives it."""
        ...

@dataclass(frozen=True, slots=True)
class CatalogVariant:
    """One variant as Catalog V3's Query Variants lists it (no stock quantity).

    Read by ``syncd.edges.wix.variants_v3``; here so that ``syncd.core.lint`` can take it.
    """

    product_id: str
    variant_id: str
    sku: str
    product_name: str
    product_visible: bool
    """False for a hidden product (``productData.visible``)."""
