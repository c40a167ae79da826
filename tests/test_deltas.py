"""Which V1 changes become increment/decrement writes, how they are batched, and what a
re-read says about one (``syncd.core.deltas``: pure, tested by tables)."""

from __future__ import annotations

import pytest

from syncd.base.model import Catalog, StoreVariant
from syncd.core.deltas import (
    MAX_ENTRIES,
    Answer,
    NextStep,
    Verdict,
    delta_batches,
    delta_call_count,
    next_step,
    split_plan,
    units,
    verdict,
)
from syncd.core.plan import ChangeReason, Plan, StockChange
from syncd.core.policy import WriteMode


def _variant(product: int, variant: int = 0, *, quantity: int | None = 5,
             tracked: bool = True) -> StoreVariant:
    return StoreVariant(product_id=f"p{product}", variant_id=f"v{variant}",
                        inventory_item_id=f"i{product}", sku=f"S-{product}-{variant}",
                        tracked=tracked, quantity=quantity, in_stock=True, hidden=False)


def _quantity(product: int, variant: int = 0, *, to: int = 9, was: int = 5) -> StockChange:
    return StockChange(_variant(product, variant, quantity=was), to, None, True,
                       ChangeReason.QUANTITY, None)


def _plan(changes: list[StockChange], catalog: Catalog = Catalog.V1) -> Plan:
    return Plan(catalog=catalog, changes=tuple(changes), store_variants=len(changes),
                source_rows=len(changes), matched=len(changes), managed=len(changes))


class TestSplitPlan:
    def test_many_changed_products_go_as_deltas_in_auto(self):
        """200 products with one change each: 1 call + 2 re-reads instead of 200 writes."""
        split = split_plan(_plan([_quantity(p) for p in range(200)]), WriteMode.AUTO)
        assert len(split.deltas) == 200 and split.absolute == ()
        assert split.delta_calls == 1 + 2
        assert split.absolute_calls_saved == 200

    def test_a_couple_of_changed_products_stay_absolute_in_auto(self):
        """Two products: 2 absolute calls beat 1 delta call plus a verification re-read."""
        split = split_plan(_plan([_quantity(0), _quantity(1, to=1)]), WriteMode.AUTO)
        assert split.deltas == () and len(split.absolute) == 2

    def test_delta_mode_uses_deltas_however_few(self):
        split = split_plan(_plan([_quantity(0)]), WriteMode.DELTA)
        assert len(split.deltas) == 1 and split.absolute == ()

    def test_absolute_mode_never_uses_deltas(self):
        split = split_plan(_plan([_quantity(p) for p in range(500)]), WriteMode.ABSOLUTE)
        assert split.deltas == () and len(split.absolute) == 500

    def test_v3_plans_never_use_deltas(self):
        split = split_plan(_plan([_quantity(p) for p in range(500)], Catalog.V3),
                           WriteMode.DELTA)
        assert split.deltas == ()

    def test_availability_and_tracking_switches_keep_their_whole_product_absolute(self):
        """A product with one change a delta cannot make is written whole, absolutely."""
        switch = StockChange(_variant(1, 0, tracked=False, quantity=None), 4, None, True,
                             ChangeReason.START_TRACKING, None)
        switch_sibling = StockChange(_variant(1, 1, tracked=False, quantity=None), 2, None,
                                     True, ChangeReason.START_TRACKING, None)
        availability = StockChange(_variant(2, tracked=False, quantity=None), None, False,
                                   False, ChangeReason.AVAILABILITY, None)
        unknown_quantity = StockChange(_variant(3, quantity=None), 3, None, True,
                                       ChangeReason.QUANTITY, None)
        mixed = [_quantity(4, 0), StockChange(_variant(4, 1), 0, None, True,
                                               ChangeReason.OUT_OF_STOCK, None)]
        plan = _plan([_quantity(0), switch, switch_sibling, availability, unknown_quantity,
                      *mixed])
        split = split_plan(plan, WriteMode.DELTA)
        assert {c.variant.product_id for c in split.deltas} == {"p0", "p4"}
        assert {c.variant.product_id for c in split.absolute} == {"p1", "p2", "p3"}

    def test_a_product_named_absolute_only_is_written_absolutely_whole(self):
        """A variant whose read may predate a recent write of syncd's gets no delta: its
        whole product goes absolute, the others stay deltas."""
        plan = _plan([_quantity(0, 0), _quantity(0, 1), _quantity(1), _quantity(2)])
        split = split_plan(plan, WriteMode.DELTA, absolute_only={("p0", "v1")})
        assert {c.variant.product_id for c in split.deltas} == {"p1", "p2"}
        assert {(c.variant.product_id, c.variant.variant_id) for c in split.absolute} == {
            ("p0", "v0"), ("p0", "v1")}


class TestBatches:
    def test_increments_and_decrements_go_in_separate_calls_of_at_most_300(self):
        ups = [_quantity(p, to=9) for p in range(650)]
        downs = [_quantity(1000 + p, to=1) for p in range(301)]
        batches = delta_batches(ups + downs)
        assert [len(b) for b in batches] == [300, 300, 50, 300, 1]
        assert all(len({units(c) > 0 for c in b}) == 1 for b in batches)
        assert delta_call_count(ups + downs) == 5 + 10  # 951 products: 10 re-reads

    def test_units_are_the_difference_from_the_value_read(self):
        assert units(_quantity(0, to=2, was=7)) == -5
        assert MAX_ENTRIES == 300


@pytest.mark.parametrize(("before", "after", "now", "expected"), [
    (5, 8, 8, Verdict.CONFIRMED),
    (5, 8, 5, Verdict.NOT_APPLIED),
    (5, 8, 7, Verdict.MOVED),   # landed, then one sold
    (5, 8, 4, Verdict.MOVED),   # not landed, one sold
    (5, 8, None, Verdict.MISSING),
    (5, 8, "untracked", Verdict.UNTRACKED),
])
def test_a_reread_classifies_each_delta(before, after, now, expected):
    current = None
    if now == "untracked":
        current = _variant(0, tracked=False, quantity=None)
    elif now is not None:
        current = _variant(0, quantity=now)
    assert verdict(before, after, current) is expected


@pytest.mark.parametrize(("answer", "found", "step"), [
    (Answer.ACCEPTED, Verdict.CONFIRMED, NextStep.DONE),
    (Answer.ACCEPTED, Verdict.NOT_APPLIED, NextStep.ABSOLUTE),   # skipped, or a stale read
    (Answer.ACCEPTED, Verdict.MOVED, NextStep.DONE),             # the sale is newer
    (Answer.REFUSED, Verdict.NOT_APPLIED, NextStep.ABSOLUTE),    # a refused batch
    (Answer.REFUSED, Verdict.MOVED, NextStep.ABSOLUTE),
    (Answer.REFUSED, Verdict.CONFIRMED, NextStep.DONE),
    (Answer.RATE_LIMITED, None, NextStep.DELTA_AGAIN),           # refused before any work
    (Answer.UNKNOWN, Verdict.CONFIRMED, NextStep.DONE),          # landed, answer lost
    (Answer.UNKNOWN, Verdict.NOT_APPLIED, NextStep.ABSOLUTE),    # a 5xx after it landed?
    (Answer.UNKNOWN, Verdict.MOVED, NextStep.ABSOLUTE),
    (Answer.UNKNOWN, Verdict.UNTRACKED, NextStep.DONE),
    (Answer.UNKNOWN, Verdict.MISSING, NextStep.DONE),
    (Answer.LOST, Verdict.CONFIRMED, NextStep.DONE),             # applied, answer dropped
    (Answer.LOST, Verdict.NOT_APPLIED, NextStep.ABSOLUTE),       # may still land later
    (Answer.LOST, Verdict.MOVED, NextStep.ABSOLUTE),
    (Answer.LOST, Verdict.UNTRACKED, NextStep.DONE),
    (Answer.LOST, None, NextStep.ABSOLUTE),                      # no re-read to go by
])
def test_what_follows_a_verdict(answer, found, step):
    """Only a 429 is followed by another delta; every uncertain answer by an absolute write."""
    assert next_step(answer, found) is step
