"""Planning: desired stock plus the observed store in, the writes that make them equal out.

This is the heart of syncd and it is deliberately pure: no I/O, no clock, no logger, no
randomness. ``plan_changes`` can therefore be tested with tables of cases and run on a
million variants in a couple of seconds: it indexes the store by SKU in one pass, looks
each source row up once, and creates objects only for variants that change.

Rules (docs/configuration.md explains them for users):

* A row targets a variant by SKU, or by product id (+ variant id). Store variants with an
  empty SKU are never matched by SKU; a SKU found on two or more variants is *ambiguous*:
  never written through that SKU, always reported. Targeting by ids still works for them.
* Tracked variants get a quantity. ``in_stock: false`` on a tracked variant means quantity
  0; ``in_stock: true`` on a tracked variant that has stock is already true, and on one with
  no stock it is skipped and reported, because syncd cannot invent a number.
* Untracked variants get ``inStock`` (a desired quantity > 0 means in stock), unless the
  policy says ``untracked: track``: then a desired *quantity* switches tracking on (the
  seed's step 2). Catalog V1 tracks per product, so a V1 product is switched only when
  every one of its variants gets a number in the same write: a quantity row, an
  ``in_stock: false`` row (0), or 0 from ``unmatched: zero``. Otherwise the product stays
  untracked, its rows are applied as availability, and the plan reports it in
  ``tracking_blocked``: syncd never turns an in-stock variant into "0 units" just because
  the source forgot it.
* ``buffer`` is subtracted from every desired quantity (floor 0), then ``cap`` applies; the
  change records both.
* Store variants absent from the source are left alone, unless ``unmatched: zero``: then
  tracked ones get 0 and untracked ones go out of stock (never those with an empty or
  ambiguous SKU: absence from the file says nothing about a variant it cannot name).
* Nothing is planned where the store already says what the source wants, so planning again
  after a successful write yields an empty plan.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

from syncd.model import (
    MAX_QUANTITY,
    Catalog,
    DesiredStock,
    RowError,
    StoreSnapshot,
    StoreVariant,
)

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

    ``syncd.sources.DesiredRows`` implements it; any other iterable of ``DesiredStock`` is
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


class Unmatched(StrEnum):
    """What happens to store variants the source does not mention."""

    IGNORE = "ignore"
    ZERO = "zero"


class Untracked(StrEnum):
    """How a desired quantity is applied to a variant whose quantity is not tracked."""

    IN_STOCK = "in_stock"
    """Keep it untracked; set ``inStock`` from ``quantity > 0``."""

    TRACK = "track"
    """Switch quantity tracking on and write the quantity."""


class WriteMode(StrEnum):
    """How a Catalog V1 store's quantity changes are written (V3 always writes absolute)."""

    AUTO = "auto"
    """Deltas where they need fewer calls than one absolute write per product."""
    ABSOLUTE = "absolute"
    """One Update Inventory Variants call per changed product (idempotent, never deltas)."""
    DELTA = "delta"
    """Increment/Decrement for every change that can take one, however few."""


@dataclass(frozen=True, slots=True)
class Policy:
    """How the source is applied to the store, and the limits the safety guards enforce."""

    unmatched: Unmatched = Unmatched.IGNORE
    """``ignore`` (default): variants missing from the source are not touched, so a partial
    file (one supplier's products) is safe. ``zero``: the file is the whole truth."""

    untracked: Untracked = Untracked.IN_STOCK
    """``in_stock`` (default) respects the merchant's choice not to count some products;
    ``track`` switches them to counted stock."""

    buffer: int = 0
    """Units held back from every desired quantity (safety stock against overselling while
    the store lags the warehouse); 0 by default so that numbers are written as given."""

    cap: int | None = None
    """Highest quantity ever written, applied after ``buffer``; None = no cap (up to 99999)."""

    max_changed_fraction: float = 0.5
    """Guard: refuse a plan that changes more than this fraction of the managed variants. A
    normal cycle changes a few percent; half the store at once is usually a wrong file."""

    max_zeroed: int = 50
    """Guard: refuse a plan that makes more than this many variants unavailable (quantity 0
    or out of stock). 50 lets real sell-outs through and stops a truncated export."""

    max_source_shrink: float = 0.3
    """Guard: refuse when the source has lost more than this fraction of its rows since the
    last successful run (a cut-off download looks exactly like that)."""

    write_mode: WriteMode = WriteMode.AUTO
    """Catalog V1 only: ``auto`` (default) batches quantity changes of tracked products as
    Increment/Decrement calls (300 entries each) when that needs fewer calls than one write
    per product; ``absolute`` never does; ``delta`` always does where it can."""

    def __post_init__(self) -> None:
        if not 0 <= self.buffer <= MAX_QUANTITY:
            raise ValueError(f"buffer must be within 0..{MAX_QUANTITY}")
        if self.cap is not None and not 0 <= self.cap <= MAX_QUANTITY:
            raise ValueError(f"cap must be within 0..{MAX_QUANTITY}")
        for name in ("max_changed_fraction", "max_source_shrink"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be within 0..1")
        if self.max_zeroed < 0:
            raise ValueError("max_zeroed must not be negative")


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
    def before(self) -> str:
        """The variant's current state, for display."""
        v = self.variant
        if v.tracked:
            return "?" if v.quantity is None else str(v.quantity)
        return "in stock" if v.in_stock else "out of stock"

    @property
    def after(self) -> str:
        """The state after the write, for display."""
        if self.quantity is not None:
            return f"{self.quantity} (start tracking)" if not self.variant.tracked else str(
                self.quantity)
        return "in stock" if self.in_stock else "out of stock"

    @property
    def makes_unavailable(self) -> bool:
        """True when an available (or unknown) variant becomes unavailable."""
        v = self.variant
        was_available = (v.quantity is None or v.quantity > 0) if v.tracked else v.in_stock
        return was_available and (self.quantity == 0 or self.in_stock is False)

    def explain(self) -> str:
        """The reason in words, including buffer and cap."""
        text = _REASON_TEXT[self.reason]
        row = self.row
        if row is not None and row.quantity is not None:
            text += f": source {row.quantity}"
            if self.held_back:
                text += f" - buffer {self.held_back}"
            if self.capped_at is not None:
                text += f", capped at {self.capped_at}"
        elif row is not None:
            text += f": source in_stock {'true' if row.in_stock else 'false'}"
        return text


_REASON_TEXT = {
    ChangeReason.QUANTITY: "quantity",
    ChangeReason.OUT_OF_STOCK: "out of stock",
    ChangeReason.AVAILABILITY: "availability",
    ChangeReason.START_TRACKING: "start tracking",
    ChangeReason.UNMATCHED_ZERO: "not in the source (unmatched: zero)",
    ChangeReason.ROLLBACK: "rollback",
}


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


def plan_changes(rows: ColumnarRows | Iterable[DesiredStock], snapshot: StoreSnapshot,
                 policy: Policy, *, invalid_rows: Iterable[RowError] = ()) -> Plan:
    """The writes that make ``snapshot`` say what ``rows`` want, under ``policy``.

    ``rows`` are a source's valid rows (``DesiredSource.rows``), ``invalid_rows`` its
    rejected ones (reported, never applied).
    """
    table = rows if isinstance(rows, ColumnarRows) else _ObjectRows(tuple(rows))
    planner = _Planner(snapshot, policy, table)
    planner.apply_rows()
    planner.resolve_tracking_switches()
    matched = planner.matched
    managed = matched
    if policy.unmatched is Unmatched.ZERO:
        managed += planner.zero_unmatched()
    changes = tuple(planner.changes.values())
    return Plan(
        catalog=snapshot.catalog,
        changes=changes,
        store_variants=len(snapshot.variants),
        source_rows=len(table),
        matched=matched,
        managed=managed,
        unmatched_rows=tuple(table[i] for i in planner.unmatched_rows),
        ambiguous=planner.ambiguous_report(),
        skipped=tuple(planner.skipped),
        tracking_blocked=tuple(planner.tracking_blocked),
        hidden_changes=sum(1 for c in changes if c.variant.hidden),
        invalid_rows=tuple(invalid_rows),
    )


class _ObjectRows:
    """``ColumnarRows`` over ordinary row objects."""

    __slots__ = ("_rows", "_skus", "_values")

    def __init__(self, rows: tuple[DesiredStock, ...]) -> None:
        self._rows = rows
        self._skus = [r.sku for r in rows]
        self._values = [encode_value(r.quantity, r.in_stock) for r in rows]

    def __len__(self) -> int:
        return len(self._rows)

    def __getitem__(self, index: int) -> DesiredStock:
        return self._rows[index]

    def sku_column(self) -> Sequence[str | None]:
        return self._skus

    def value_column(self) -> Sequence[int]:
        return self._values


def _adjust(quantity: int, buffer: int, cap: int | None) -> tuple[int, int, int | None]:
    """``(quantity to write, units held back, cap when it applied)``."""
    held = min(buffer, quantity)
    quantity -= held
    if cap is not None and quantity > cap:
        return cap, held, cap
    return quantity, held, None


def _describe(value: int) -> str:
    quantity, in_stock = decode_value(value)
    if quantity is not None:
        return f"quantity {quantity}"
    return f"in_stock {'true' if in_stock else 'false'}"


_MISSING: Any = object()
"""Sentinel for "no such SKU" (None in the index means "ambiguous SKU")."""


class _Planner:
    """The working state of one ``plan_changes`` call.

    Per-variant bookkeeping is keyed by ``id(variant)`` and kept only for variants that
    change or are named by ids; rows are referred to by their index in the table and turned
    into ``DesiredStock`` objects only when a change or a report needs them. Together this
    keeps a million-variant plan within a few tens of megabytes besides its inputs.
    """

    __slots__ = ("_products", "ambiguous_rows", "by_sku", "changes", "claimed_skus",
                 "conflicted", "deferred", "duplicates", "id_claims", "id_targets",
                 "matched", "policy", "skipped", "table", "tracking_blocked",
                 "unmatched_rows", "untracked_rows", "v1", "variants")

    def __init__(self, snapshot: StoreSnapshot, policy: Policy, table: ColumnarRows) -> None:
        self.variants = snapshot.variants
        self.policy = policy
        self.table = table
        self.v1 = snapshot.catalog is Catalog.V1
        self.changes: dict[int, StockChange] = {}
        """id(variant) -> its change, in source order."""
        self.matched = 0
        self.conflicted: set[int] = set()
        self.skipped: list[SkippedRow] = []
        self.unmatched_rows: list[int] = []
        self.tracking_blocked: list[TrackingBlocked] = []
        self.ambiguous_rows: dict[str, list[int]] = {}
        self.id_targets: dict[int, StoreVariant] = {}
        """Row index -> variant, for rows that target by ids."""
        self.id_claims: dict[int, int] = {}
        """id(variant) -> row index, for variants named by ids."""
        self.claimed_skus: dict[str, int] = {}
        """SKU -> row index, for variants named by ids that also have a unique SKU."""
        self.deferred: dict[str, list[int]] = {}
        """V1 untracked product -> rows that would switch it to tracking."""
        self.untracked_rows: dict[int, int] = {}
        """id(variant) -> row index, for untracked V1 variants under ``untracked: track``."""
        self._products: dict[str, list[StoreVariant]] | None = None
        self.by_sku, self.duplicates = _index_skus(self.variants)

    def apply_rows(self) -> None:
        """Match every row to its variant and plan it."""
        skus, values = self.table.sku_column(), self.table.value_column()
        if None in skus:
            self._claim_by_ids([i for i, sku in enumerate(skus) if sku is None], values)
        conflicted, id_targets, claimed_skus = self.conflicted, self.id_targets, self.claimed_skus
        find_sku = self.by_sku.get
        plan_row = self._plan_row
        changes, table = self.changes, self.table
        # The common case (a quantity for a tracked variant, no buffer or cap) is planned
        # inline: a method call per row is a tenth of the time on a million rows.
        plain = self.policy.buffer == 0 and self.policy.cap is None
        matched = 0
        for idx, (sku, value) in enumerate(zip(skus, values, strict=True)):
            if sku is None:
                target = id_targets.get(idx)
                if target is not None and id(target) not in conflicted:
                    plan_row(target, idx, value)
                continue
            v: StoreVariant | None = find_sku(sku, _MISSING)
            if v is _MISSING:
                self.unmatched_rows.append(idx)
            elif v is None:
                self.ambiguous_rows.setdefault(sku, []).append(idx)
            elif claimed_skus and sku in claimed_skus:
                self._named_twice(v, claimed_skus[sku], idx)
            else:
                matched += 1
                if plain and value >= 0 and v.tracked:
                    if v.quantity != value:
                        changes[id(v)] = StockChange(v, value, None, True, ChangeReason.QUANTITY,
                                                     table[idx])
                else:
                    plan_row(v, idx, value)
        self.matched = matched + len(self.id_claims)

    def _plan_row(self, v: StoreVariant, idx: int, value: int) -> None:
        """Plan one matched row (the hot path: one call per source row)."""
        policy = self.policy
        q: int | None = value if value >= 0 else None
        held, capped_at = 0, None
        if q is not None and (policy.buffer or policy.cap is not None):
            q, held, capped_at = _adjust(q, policy.buffer, policy.cap)
        if v.tracked:
            reason = ChangeReason.QUANTITY
            if q is None:
                if value == VALUE_IN_STOCK:
                    self._check_in_stock(v, idx)
                    return
                q, reason = 0, ChangeReason.OUT_OF_STOCK
            if v.quantity != q:
                self.changes[id(v)] = StockChange(v, q, None, True, reason, self.table[idx],
                                                  held, capped_at)
            return
        if policy.untracked is Untracked.TRACK:
            if self.v1:
                self.untracked_rows[id(v)] = idx
                if q is not None:  # product-wide switch: decided once every row is seen
                    self.deferred.setdefault(v.product_id, []).append(idx)
                    return
            elif q is not None:
                self.changes[id(v)] = StockChange(v, q, None, True, ChangeReason.START_TRACKING,
                                                  self.table[idx], held, capped_at)
                return
        want = q > 0 if q is not None else value == VALUE_IN_STOCK
        if v.in_stock != want:
            self.changes[id(v)] = StockChange(v, None, want, False, ChangeReason.AVAILABILITY,
                                              self.table[idx], held, capped_at)

    def _claim_by_ids(self, indices: list[int], values: Sequence[int]) -> None:
        """Resolve the rows that target by ids, before any row is planned, so that a SKU row
        naming the same variant can be recognised whichever comes first in the file."""
        for idx in indices:
            v = self._resolve_ids(self.table[idx], idx)
            if v is None:
                continue
            first = self.id_claims.get(id(v))
            if first is not None:
                self._named_twice(v, first, idx)
                continue
            self.id_claims[id(v)] = idx
            self.id_targets[idx] = v
            if v.sku and self.by_sku.get(v.sku) is v:
                self.claimed_skus[v.sku] = idx

    def _named_twice(self, v: StoreVariant, first: int, idx: int) -> None:
        """A second row names ``v``: harmless with the same value, else neither applies."""
        values = self.table.value_column()
        if values[first] == values[idx]:
            return
        if id(v) not in self.conflicted:
            self.conflicted.add(id(v))
            self.changes.pop(id(v), None)
            self.skipped.append(SkippedRow(
                self.table[first], SkipReason.CONFLICTING_ROWS, v,
                f"line {self.table[idx].line} names the same variant with "
                f"{_describe(values[idx])}"))
        self.skipped.append(SkippedRow(
            self.table[idx], SkipReason.CONFLICTING_ROWS, v,
            f"line {self.table[first].line} names the same variant with "
            f"{_describe(values[first])}"))

    def _check_in_stock(self, v: StoreVariant, idx: int) -> None:
        available = v.quantity > 0 if v.quantity is not None else v.in_stock
        if not available:
            self.skipped.append(SkippedRow(
                self.table[idx], SkipReason.IN_STOCK_NEEDS_QUANTITY, v,
                "in_stock true, but the variant tracks quantity and has none: give a quantity"))

    def _resolve_ids(self, row: DesiredStock, idx: int) -> StoreVariant | None:
        if self._products is None:
            products: dict[str, list[StoreVariant]] = {}
            for v in self.variants:
                products.setdefault(v.product_id, []).append(v)
            self._products = products
        members = self._products.get(row.product_id or "", [])
        if row.variant_id is not None:
            members = [v for v in members if v.variant_id == row.variant_id]
        if not members:
            self.unmatched_rows.append(idx)
            return None
        if len(members) > 1:
            several = row.variant_id is not None
            self.skipped.append(SkippedRow(
                row,
                SkipReason.AMBIGUOUS_TARGET if several else SkipReason.PRODUCT_HAS_VARIANTS,
                None,
                f"names {len(members)} store items" + (
                    " (one per stock location? set the site's location_id)" if several
                    else ": add a variant_id (or use the variants' SKUs)")))
            return None
        return members[0]

    def resolve_tracking_switches(self) -> None:
        """Decide, per deferred V1 product, whether tracking can be switched on."""
        if not self.deferred:
            return
        zero = self.policy.unmatched is Unmatched.ZERO
        members: dict[str, list[StoreVariant]] = {pid: [] for pid in self.deferred}
        for v in self.variants:
            group = members.get(v.product_id)
            if group is not None:
                group.append(v)
        values = self.table.value_column()
        for product_id, siblings in members.items():
            writes: list[StockChange] = []
            blockers: list[StoreVariant] = []
            for v in siblings:
                idx = self.untracked_rows.get(id(v))
                if id(v) in self.conflicted:
                    blockers.append(v)
                elif idx is None:
                    if zero and v.sku and self.by_sku.get(v.sku) is v:
                        writes.append(StockChange(v, 0, None, True, ChangeReason.UNMATCHED_ZERO,
                                                  None))
                    else:
                        blockers.append(v)
                elif values[idx] >= 0:
                    q, held, capped_at = _adjust(values[idx], self.policy.buffer,
                                                 self.policy.cap)
                    writes.append(StockChange(v, q, None, True, ChangeReason.START_TRACKING,
                                              self.table[idx], held, capped_at))
                elif values[idx] == VALUE_OUT_OF_STOCK:
                    writes.append(StockChange(v, 0, None, True, ChangeReason.START_TRACKING,
                                              self.table[idx]))
                else:
                    blockers.append(v)
            if blockers:
                self._keep_untracked(product_id, siblings, blockers)
            else:
                for change in writes:  # re-inserted so that they follow the store's order
                    self.changes.pop(id(change.variant), None)
                for change in writes:
                    self.changes[id(change.variant)] = change

    def _keep_untracked(self, product_id: str, siblings: list[StoreVariant],
                        blockers: list[StoreVariant]) -> None:
        """The product cannot switch: apply its quantity rows as availability instead."""
        self.tracking_blocked.append(
            TrackingBlocked(product_id, blockers[0].product_name, tuple(blockers)))
        for v in siblings:
            idx = self.untracked_rows.get(id(v))
            value = self.table.value_column()[idx] if idx is not None else -1
            if idx is None or value < 0 or id(v) in self.conflicted:
                continue
            q, held, capped_at = _adjust(value, self.policy.buffer, self.policy.cap)
            if v.in_stock != (q > 0):
                self.changes[id(v)] = StockChange(v, None, q > 0, False,
                                                  ChangeReason.AVAILABILITY, self.table[idx],
                                                  held, capped_at)

    def zero_unmatched(self) -> int:
        """Plan ``unmatched: zero``; returns how many unmatched variants it governs."""
        by_sku, changes, claims = self.by_sku, self.changes, self.id_claims
        source_skus = set(self.table.sku_column())
        governed = 0
        for v in self.variants:
            sku = v.sku
            if not sku or by_sku[sku] is not v:
                continue  # a variant the source cannot name is not "missing from" it
            if sku in source_skus or id(v) in claims:
                continue
            governed += 1
            if id(v) in changes:
                continue  # already zeroed by a V1 tracking switch
            if v.tracked:
                if v.quantity != 0:
                    changes[id(v)] = StockChange(v, 0, None, True, ChangeReason.UNMATCHED_ZERO,
                                                 None)
            elif v.in_stock:
                changes[id(v)] = StockChange(v, None, False, False, ChangeReason.UNMATCHED_ZERO,
                                             None)
        return governed

    def ambiguous_report(self) -> tuple[AmbiguousSku, ...]:
        return tuple(
            AmbiguousSku(sku, tuple(variants),
                         tuple(self.table[i] for i in self.ambiguous_rows.get(sku, ())))
            for sku, variants in self.duplicates.items()
        )


def _index_skus(
    variants: tuple[StoreVariant, ...],
) -> tuple[dict[str, StoreVariant | None], dict[str, list[StoreVariant]]]:
    """SKU -> its variant (None when ambiguous), and the variants of each ambiguous SKU.

    Values are the variants themselves, not indices: a million index ints would cost 32 MB.
    """
    by_sku: dict[str, StoreVariant | None] = {}
    duplicates: dict[str, list[StoreVariant]] = {}
    first_of = by_sku.setdefault
    for v in variants:
        sku = v.sku
        if sku:
            first = first_of(sku, v)
            if first is not v:
                if sku in duplicates:
                    duplicates[sku].append(v)
                else:
                    assert first is not None
                    duplicates[sku] = [first, v]
    for sku in duplicates:
        by_sku[sku] = None
    return by_sku, duplicates
