"""The differ: a pure function from (desired rows, store snapshot, policy) to a plan."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from msgspec import structs

from syncd.base.model import NIL_GUID, Catalog, DesiredStock, RowError, StoreSnapshot, StoreVariant
from syncd.core.diff import plan_changes
from syncd.core.plan import ChangeReason, Plan, SkipReason
from syncd.core.policy import Policy, Unmatched, Untracked
from syncd.edges.sources import DesiredRows
from syncd.frontends.render import explain_change, state_after, state_before


def variant(sku: str = "A", *, product: str = "P1", vid: str | None = None, tracked: bool = True,
            quantity: int | None = 5, in_stock: bool | None = None, hidden: bool = False
            ) -> StoreVariant:
    if not tracked and quantity == 5:
        quantity = None
    return StoreVariant(
        product_id=product, variant_id=vid or f"v-{sku or 'blank'}-{product}",
        inventory_item_id=f"item-{product}", sku=sku, tracked=tracked, quantity=quantity,
        in_stock=in_stock if in_stock is not None else (quantity or 0) > 0 if tracked else True,
        hidden=hidden, product_name=f"Product {product}")


def row(sku: str | None = "A", quantity: int | None = None, in_stock: bool | None = None, *,
        product_id: str | None = None, variant_id: str | None = None, line: int = 2
        ) -> DesiredStock:
    return DesiredStock(sku=sku, product_id=product_id, variant_id=variant_id,
                        quantity=quantity, in_stock=in_stock, source="stock.csv", line=line)


def plan(rows: list[DesiredStock], variants: list[StoreVariant], policy: Policy | None = None,
         catalog: Catalog = Catalog.V3) -> Plan:
    return plan_changes(rows, StoreSnapshot(catalog, tuple(variants)), policy or Policy())


def changes(p: Plan) -> list[tuple[str, int | None, bool | None, bool, ChangeReason]]:
    return [(c.variant.sku, c.quantity, c.in_stock, c.track, c.reason) for c in p.changes]


def apply(variants: list[StoreVariant], p: Plan) -> list[StoreVariant]:
    """What the store looks like after the plan's writes succeed."""
    by_id = {id(c.variant): c for c in p.changes}
    out = []
    for v in variants:
        c = by_id.get(id(v))
        if c is None:
            out.append(v)
        elif c.quantity is not None:
            out.append(structs.replace(v, tracked=True, quantity=c.quantity,
                                       in_stock=c.quantity > 0))
        else:
            assert c.in_stock is not None
            out.append(structs.replace(v, tracked=False, in_stock=c.in_stock))
    return out


Q, S, T, Z = (ChangeReason.QUANTITY, ChangeReason.AVAILABILITY, ChangeReason.START_TRACKING,
              ChangeReason.UNMATCHED_ZERO)

CASES = [
    # name, store variants, rows, policy, expected changes
    ("tracked quantity differs", [variant(quantity=5)], [row(quantity=7)], Policy(),
     [("A", 7, None, True, Q)]),
    ("tracked quantity equal: nothing to do", [variant(quantity=7)], [row(quantity=7)], Policy(),
     []),
    ("tracked in_stock false means quantity 0", [variant(quantity=5)], [row(in_stock=False)],
     Policy(), [("A", 0, None, True, ChangeReason.OUT_OF_STOCK)]),
    ("tracked in_stock false when already 0", [variant(quantity=0)], [row(in_stock=False)],
     Policy(), []),
    ("tracked in_stock true with stock is already true", [variant(quantity=3)],
     [row(in_stock=True)], Policy(), []),
    ("untracked gets in stock from a positive quantity",
     [variant(tracked=False, in_stock=False)], [row(quantity=3)], Policy(),
     [("A", None, True, False, S)]),
    ("untracked gets out of stock from quantity 0", [variant(tracked=False, in_stock=True)],
     [row(quantity=0)], Policy(), [("A", None, False, False, S)]),
    ("untracked already in stock", [variant(tracked=False, in_stock=True)], [row(quantity=9)],
     Policy(), []),
    ("untracked in_stock false", [variant(tracked=False, in_stock=True)], [row(in_stock=False)],
     Policy(), [("A", None, False, False, S)]),
    ("untracked: track switches tracking on (V3, per item)",
     [variant(tracked=False, in_stock=True)], [row(quantity=4)],
     Policy(untracked=Untracked.TRACK), [("A", 4, None, True, T)]),
    ("untracked: track leaves in_stock rows untracked",
     [variant(tracked=False, in_stock=True)], [row(in_stock=False)],
     Policy(untracked=Untracked.TRACK), [("A", None, False, False, S)]),
    ("buffer is held back", [variant(quantity=5)], [row(quantity=10)], Policy(buffer=2),
     [("A", 8, None, True, Q)]),
    ("buffer floors at zero", [variant(quantity=5)], [row(quantity=1)], Policy(buffer=5),
     [("A", 0, None, True, Q)]),
    ("cap limits the quantity", [variant(quantity=5)], [row(quantity=500)], Policy(cap=20),
     [("A", 20, None, True, Q)]),
    ("buffer can make an untracked variant unavailable",
     [variant(tracked=False, in_stock=True)], [row(quantity=2)], Policy(buffer=2),
     [("A", None, False, False, S)]),
    ("unmatched ignore leaves absent variants alone", [variant("A"), variant("B")],
     [row("A", 5)], Policy(), []),
    ("unmatched zero zeroes tracked and unlists untracked",
     [variant("A"), variant("B", quantity=3), variant("C", product="P2", tracked=False),
      variant("D", product="P3", quantity=0)],
     [row("A", 5)], Policy(unmatched=Unmatched.ZERO),
     [("B", 0, None, True, Z), ("C", None, False, False, Z)]),
    ("empty store SKU is never matched nor zeroed", [variant(""), variant("A")],
     [row("A", 5)], Policy(unmatched=Unmatched.ZERO), []),
]


@pytest.mark.parametrize(("store", "rows", "policy", "expected"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_plan_table(store, rows, policy, expected):
    assert changes(plan(rows, store, policy)) == expected


@pytest.mark.parametrize(("store", "rows", "policy"), [c[1:4] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_planning_again_after_applying_plans_nothing(store, rows, policy):
    first = plan(rows, store, policy)
    assert changes(plan(rows, apply(store, first), policy)) == []


class TestReports:
    def test_in_stock_true_on_a_sold_out_tracked_variant_is_skipped_not_guessed(self):
        p = plan([row(in_stock=True)], [variant(quantity=0)])
        assert p.changes == ()
        [skipped] = p.skipped
        assert skipped.reason is SkipReason.IN_STOCK_NEEDS_QUANTITY and skipped.row.line == 2

    def test_ambiguous_sku_is_never_written_and_always_reported(self):
        twins = [variant("X", product="P1", quantity=1), variant("X", product="P2", quantity=2)]
        p = plan([row("X", 9)], twins, Policy(unmatched=Unmatched.ZERO))
        assert p.changes == ()
        [ambiguous] = p.ambiguous
        assert ambiguous.sku == "X" and ambiguous.variants == tuple(twins)
        assert [r.quantity for r in ambiguous.rows] == [9]

    def test_ambiguous_sku_is_reported_even_when_the_source_does_not_name_it(self):
        p = plan([row("A", 5)], [variant("A"), variant("X", product="P2"),
                                 variant("X", product="P3")])
        assert [a.sku for a in p.ambiguous] == ["X"] and p.ambiguous[0].rows == ()

    def test_ambiguous_sku_can_still_be_targeted_by_ids(self):
        twins = [variant("X", product="P1", vid="V1", quantity=1),
                 variant("X", product="P2", vid="V2", quantity=2)]
        p = plan([row(None, 7, product_id="P2", variant_id="V2")], twins)
        assert [(c.variant.product_id, c.quantity) for c in p.changes] == [("P2", 7)]

    def test_product_id_alone_targets_a_single_variant_product(self):
        p = plan([row(None, 3, product_id="P1")], [variant("", vid=NIL_GUID, quantity=1)])
        assert [(c.variant.variant_id, c.quantity) for c in p.changes] == [(NIL_GUID, 3)]

    def test_product_id_alone_on_a_product_with_options_is_skipped(self):
        p = plan([row(None, 3, product_id="P1")], [variant("A"), variant("B")])
        assert p.changes == ()
        assert [s.reason for s in p.skipped] == [SkipReason.PRODUCT_HAS_VARIANTS]

    def test_sku_row_and_id_row_naming_one_variant_with_different_values_apply_neither(self):
        store = [variant("A", vid="V1", quantity=1)]
        p = plan([row("A", 5, line=2), row(None, 6, product_id="P1", variant_id="V1", line=3)],
                 store)
        assert p.changes == ()
        assert sorted(s.row.line for s in p.skipped) == [2, 3]
        assert {s.reason for s in p.skipped} == {SkipReason.CONFLICTING_ROWS}

    def test_sku_row_and_id_row_with_the_same_value_apply_once(self):
        store = [variant("A", vid="V1", quantity=1)]
        p = plan([row(None, 6, product_id="P1", variant_id="V1"), row("A", 6, line=3)], store)
        assert changes(p) == [("A", 6, None, True, Q)] and p.matched == 1

    def test_source_keys_missing_from_the_store_are_reported(self):
        p = plan([row("A", 1), row("GHOST", 2, line=3)], [variant("A", quantity=1)])
        assert [r.key for r in p.unmatched_rows] == ["GHOST"]
        assert (p.matched, p.source_rows, p.store_variants) == (1, 2, 1)

    def test_hidden_products_are_synced_and_counted(self):
        p = plan([row("A", 1), row("H", 2)], [variant("A"), variant("H", product="P9",
                                                                     hidden=True)])
        assert [c.variant.sku for c in p.changes] == ["A", "H"]
        assert p.hidden_changes == 1 and [c.variant.sku for c in p.hidden()] == ["H"]

    def test_invalid_rows_are_passed_through(self):
        bad = RowError("stock.csv", 4, "quantity", "'x' is not a whole number")
        p = plan_changes([row("A", 1)], StoreSnapshot(Catalog.V3, (variant(),)), Policy(),
                         invalid_rows=[bad])
        assert p.invalid_rows == (bad,)

    def test_change_explains_buffer_and_cap(self):
        [c] = plan([row(quantity=50)], [variant(quantity=5)], Policy(buffer=5, cap=20)).changes
        assert (c.held_back, c.capped_at) == (5, 20)
        assert explain_change(c) == "quantity: source 50 - buffer 5, capped at 20"
        assert (state_before(c), state_after(c)) == ("5", "20")

    def test_zeroed_counts_variants_that_become_unavailable(self):
        p = plan([row("A", 0), row("B", 0), row("C", 4)],
                 [variant("A", quantity=3), variant("B", product="P2", tracked=False),
                  variant("C", product="P3", quantity=1)])
        assert p.zeroed == 2

    def test_managed_counts_unmatched_variants_only_under_zero(self):
        store = [variant("A"), variant("B"), variant("")]
        assert plan([row("A", 5)], store).managed == 1
        assert plan([row("A", 5)], store, Policy(unmatched=Unmatched.ZERO)).managed == 2

    def test_columnar_rows_give_the_same_plan_as_row_objects(self):
        rows = [row("A", 1), row("B", in_stock=False, line=3), row(None, 2, product_id="P2")]
        store = [variant("A"), variant("B"), variant("", product="P2", vid=NIL_GUID)]
        snapshot = StoreSnapshot(Catalog.V3, tuple(store))
        assert plan_changes(DesiredRows.from_rows("stock.csv", rows), snapshot, Policy()) == \
            plan_changes(rows, snapshot, Policy())


class TestV1TrackingSwitch:
    """V1 tracks per product, so ``untracked: track`` switches a product only as a whole."""

    TRACK = Policy(untracked=Untracked.TRACK)

    def shirt(self) -> list[StoreVariant]:
        return [variant(s, product="SHIRT", tracked=False, in_stock=True) for s in ("S", "M", "L")]

    def test_product_switches_when_every_variant_gets_a_number(self):
        p = plan([row("S", 3), row("M", 0), row("L", in_stock=False)], self.shirt(), self.TRACK,
                 Catalog.V1)
        assert changes(p) == [("S", 3, None, True, T), ("M", 0, None, True, T),
                              ("L", 0, None, True, T)]
        assert list(p.by_product()) == ["SHIRT"] and p.tracking_blocked == ()

    def test_product_stays_untracked_when_a_variant_has_no_number(self):
        p = plan([row("S", 3), row("M", 0)], self.shirt(), self.TRACK, Catalog.V1)
        # No invented quantities: the rows are applied as availability instead.
        assert changes(p) == [("M", None, False, False, S)]
        [blocked] = p.tracking_blocked
        assert blocked.product_id == "SHIRT" and [v.sku for v in blocked.variants] == ["L"]

    def test_in_stock_true_sibling_blocks_the_switch(self):
        p = plan([row("S", 3), row("M", 2), row("L", in_stock=True)], self.shirt(), self.TRACK,
                 Catalog.V1)
        assert changes(p) == [] and [v.sku for v in p.tracking_blocked[0].variants] == ["L"]

    def test_unmatched_zero_gives_missing_siblings_their_number(self):
        p = plan([row("S", 3)], self.shirt(), replace(self.TRACK, unmatched=Unmatched.ZERO),
                 Catalog.V1)
        assert changes(p) == [("S", 3, None, True, T), ("M", 0, None, True, Z),
                              ("L", 0, None, True, Z)]

    def test_every_change_of_a_v1_product_shares_one_tracking_flag(self):
        store = [*self.shirt(), variant("MUG", product="MUG", quantity=1)]
        rows = [row("S", 3), row("M", 1), row("L", 2), row("MUG", 4)]
        groups = plan(rows, store, self.TRACK, Catalog.V1).by_product()
        assert {pid: {c.track for c in cs} for pid, cs in groups.items()} == {
            "SHIRT": {True}, "MUG": {True}}

    def test_switched_product_plans_nothing_the_second_time(self):
        rows, store = [row("S", 3), row("M", 0), row("L", 1)], self.shirt()
        first = plan(rows, store, self.TRACK, Catalog.V1)
        assert len(first.changes) == 3
        assert changes(plan(rows, apply(store, first), self.TRACK, Catalog.V1)) == []


@st.composite
def scenarios(draw):
    catalog = draw(st.sampled_from([Catalog.V1, Catalog.V3]))
    skus = st.sampled_from(["A", "B", "C", "D", "E", "F", ""])
    store = []
    for p in range(draw(st.integers(1, 4))):
        tracked = draw(st.booleans())
        for k in range(draw(st.integers(1, 3))):
            if catalog is Catalog.V3:
                tracked = draw(st.booleans())
            quantity = draw(st.integers(0, 5)) if tracked else None
            store.append(StoreVariant(
                product_id=f"P{p}", variant_id=f"V{k}", inventory_item_id=f"I{p}",
                sku=draw(skus), tracked=tracked, quantity=quantity,
                in_stock=(quantity or 0) > 0 if tracked else draw(st.booleans()),
                hidden=draw(st.booleans())))
    rows = {}
    for sku in draw(st.lists(st.sampled_from(["A", "B", "C", "D", "E", "G"]), max_size=6)):
        value = draw(st.one_of(st.integers(0, 5), st.booleans()))
        rows[sku] = row(sku, None if isinstance(value, bool) else value,
                        value if isinstance(value, bool) else None, line=len(rows) + 2)
    policy = Policy(unmatched=draw(st.sampled_from(list(Unmatched))),
                    untracked=draw(st.sampled_from(list(Untracked))),
                    buffer=draw(st.integers(0, 2)), cap=draw(st.sampled_from([None, 3])))
    return catalog, store, list(rows.values()), policy


@settings(max_examples=300, deadline=None)
@given(scenarios())
def test_any_plan_applied_then_replanned_is_empty(scenario):
    catalog, store, rows, policy = scenario
    first = plan(rows, store, policy, catalog)
    assert len({id(c.variant) for c in first.changes}) == len(first.changes)
    assert all(not (c.variant.sku and any(a.sku == c.variant.sku for a in first.ambiguous))
               for c in first.changes), "an ambiguous SKU was written"
    assert all(c.variant.sku for c in first.changes if c.row is None)
    if catalog is Catalog.V1:
        for group in first.by_product().values():
            assert len({c.track for c in group}) == 1
    assert changes(plan(rows, apply(store, first), policy, catalog)) == []
