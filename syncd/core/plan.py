"""A plan: the writes that make a store equal its source, and what the planner noticed.

These are the values ``syncd.core.diff.plan_changes`` produces and everything downstream reads
(guards, the applier, the journal, rendering). How a change is shown to a person lives in
``syncd.frontends.render``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from syncd.base.model import Catalog, DesiredStock, RowError, StoreVariant


class ChangeReason(StrEnum):
    """Why a variant is written."""

    QUANTITY = "quantity"
    """Tracked variant: the source gives another quantity."""

    OUT_OF_STOCK = "out_of_stock"
    """Tracked variant: the source says ``in_stock: false``, written as quantity 0."""

    AVAILABILITY = "availability"
    """Untracked variant: the source's availability (or quantity > 0) differs from inStock."""

    START_TRACKING = "start_tracking"
    """Untracked variant switched to quantity tracking (``untracked: track``)."""

    UNMATCHED_ZERO = "unmatched_zero"
    """Not in the source and ``unmatched: zero``."""

    ROLLBACK = "rollback"
    """Restoring the value a journaled run found (``syncd rollback``)."""


class SkipReason(StrEnum):
    """Why a matched source row is not applied."""

    IN_STOCK_NEEDS_QUANTITY = "in_stock_needs_quantity"
    """``in_stock: true`` for a tracked variant with no stock: there is no number to write."""

    PRODUCT_HAS_VARIANTS = "product_has_variants"
    """Only a product id was given, and the product has several variants."""

    CONFLICTING_ROWS = "conflicting_rows"
    """Two rows (one by SKU, one by ids) name the same variant with different values."""

    AMBIGUOUS_TARGET = "ambiguous_target"
    """The ids name several store items (one per stock location: set the site's location)."""


@dataclass(frozen=True, slots=True)
class StockChange:
    """One variant's planned write: its state before, its state after, and why."""

    variant: StoreVariant
    quantity: int | None
    """Quantity to write, or None when writing availability."""
    in_stock: bool | None
    """Availability to write (untracked variants), or None when writing a quantity."""
    track: bool
    """Quantity tracking after the write. For V1 this is the product-wide ``trackQuantity``
    to send, and it is the same for every change of one product."""
    reason: ChangeReason
    row: DesiredStock | None
    """The source row behind the change; None for ``unmatched: zero``."""
    held_back: int = 0
    """Units the buffer took off the source quantity."""
    capped_at: int | None = None
    """The cap, when it lowered the quantity."""

    @property
    def makes_unavailable(self) -> bool:
        """True when an available (or unknown) variant becomes unavailable."""
        v = self.variant
        was_available = (v.quantity is None or v.quantity > 0) if v.tracked else v.in_stock
        return was_available and (self.quantity == 0 or self.in_stock is False)


@dataclass(frozen=True, slots=True)
class AmbiguousSku:
    """A SKU carried by several store variants: never written by SKU, always reported."""

    sku: str
    variants: tuple[StoreVariant, ...]
    rows: tuple[DesiredStock, ...]
    """Source rows that target the SKU and were therefore not applied."""


@dataclass(frozen=True, slots=True)
class SkippedRow:
    """A source row that names a store variant but cannot be applied."""

    row: DesiredStock
    reason: SkipReason
    variant: StoreVariant | None
    detail: str


@dataclass(frozen=True, slots=True)
class TrackingBlocked:
    """A V1 product that ``untracked: track`` could not switch, and the variants without a
    number that kept it untracked (its rows were applied as availability instead)."""

    product_id: str
    product_name: str
    variants: tuple[StoreVariant, ...]


@dataclass(frozen=True, slots=True)
class Plan:
    """Everything a run would write, and everything it noticed but will not write."""

    catalog: Catalog
    changes: tuple[StockChange, ...]
    """In store order; at most one per variant."""
    store_variants: int
    source_rows: int
    """Valid rows given to the differ."""
    matched: int
    """Store variants named by at least one source row."""
    managed: int
    """Variants this run governs: matched ones, plus under ``unmatched: zero`` every other
    variant with a unique SKU. The changed-fraction guard divides by this."""
    unmatched_rows: tuple[DesiredStock, ...] = ()
    """Source rows that name no store variant."""
    ambiguous: tuple[AmbiguousSku, ...] = ()
    skipped: tuple[SkippedRow, ...] = ()
    tracking_blocked: tuple[TrackingBlocked, ...] = ()
    hidden_changes: int = 0
    """Changes on hidden products (they are synced like visible ones)."""
    invalid_rows: tuple[RowError, ...] = ()
    """Rows the source rejected (only with ``on_invalid_row: skip``), passed through."""

    @property
    def zeroed(self) -> int:
        """Changes that make an available variant unavailable."""
        return sum(1 for c in self.changes if c.makes_unavailable)

    def hidden(self) -> tuple[StockChange, ...]:
        """The changes on hidden products."""
        return tuple(c for c in self.changes if c.variant.hidden)

    def by_product(self) -> dict[str, list[StockChange]]:
        """Changes grouped by product id, in store order. A V1 write sends one product's
        group in a single call, with the group's (shared) ``track`` as ``trackQuantity``."""
        groups: dict[str, list[StockChange]] = {}
        for change in self.changes:
            groups.setdefault(change.variant.product_id, []).append(change)
        return groups
