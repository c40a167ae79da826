"""Domain values shared by every layer.

Everything here is a frozen, slotted dataclass or a string enum, and nothing here imports
from the rest of syncd. Raw JSON from Wix and raw rows from CSV/YAML are turned into these
values once, at the edges (``syncd.wix`` and ``syncd.desired``); nothing past the edge sees
dicts.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

NIL_GUID = "00000000-0000-0000-0000-000000000000"
"""Variant id of the single variant of an option-less V1 product (never used in V3)."""

MAX_QUANTITY = 99_999
"""Highest stock quantity Wix accepts (V1 ``@max 99999``; V3 allows -99999..99999)."""


class Catalog(StrEnum):
    """Which Wix catalog a site runs; a site runs exactly one, forever."""

    V1 = "v1"
    V3 = "v3"


@dataclass(frozen=True, slots=True)
class StoreVariant:
    """One variant as observed in the store: the unit the walker produces and the differ reads.

    ``quantity`` is None when the store did not report one (untracked variants may omit it).
    ``inventory_item_id`` is the V1 product's ``inventoryItemId`` (one per product) or the V3
    inventory item's id (one per variant and location). ``revision`` and ``location_id`` are
    V3 only.
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


@dataclass(frozen=True, slots=True)
class StoreSnapshot:
    """Every variant of one store at one moment, plus the cost of reading it."""

    catalog: Catalog
    variants: tuple[StoreVariant, ...]
    api_calls: int = 0


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
