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
from typing import Any

from syncd.base.model import (
    VALUE_IN_STOCK,
    VALUE_OUT_OF_STOCK,
    Catalog,
    ColumnarRows,
    DesiredStock,
    RowError,
    StoreSnapshot,
    StoreVariant,
    decode_value,
    encode_value,
)
from syncd.core.plan import (
    AmbiguousSku,
    ChangeReason,
    Plan,
    SkippedRow,
    SkipReason,
    StockChange,
    TrackingBlocked,
)
from syncd.core.policy import Policy, Unmatched, Untracked


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
                 "matched", "policy", "shared", "skipped", "table", "tracking_blocked",
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
        # A V1 product's own SKU shown on all its variants (manageVariants false) names the
        # product: a row sets every one of them. Shared across products it stays ambiguous.
        self.shared = {sku: vs for sku, vs in self.duplicates.items()
                       if all(v.shared_sku for v in vs) and len({v.product_id for v in vs}) == 1}
        for sku in self.shared:
            del self.duplicates[sku]

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
                if sku in self.shared:
                    matched += 1
                    for member in self.shared[sku]:
                        plan_row(member, idx, value)
                else:
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
