"""The check that a source is about this store: what it calls a problem, and what it
leaves to the shrink guard."""

from __future__ import annotations

import pytest

from syncd.base.model import Catalog, DesiredStock, StoreSnapshot, StoreVariant
from syncd.core.diff import plan_changes
from syncd.core.match_coverage import match_problem
from syncd.core.plan import Plan
from syncd.core.policy import Policy

STORE = StoreSnapshot(Catalog.V3, tuple(
    StoreVariant(product_id=f"P{i}", variant_id=f"V{i}", inventory_item_id=f"I{i}",
                 sku=f"SKU-{i}", tracked=True, quantity=5, in_stock=True, hidden=False)
    for i in range(80)))
STORE_SKUS = [v.sku for v in STORE.variants]


def plan_of(skus: list[str]) -> Plan:
    rows = [DesiredStock(sku=sku, product_id=None, variant_id=None, quantity=5,
                         in_stock=None, source="stock.csv", line=i + 2)
            for i, sku in enumerate(skus)]
    return plan_changes(rows, STORE, Policy())


def problem(skus: list[str], *, previous: tuple[int, int] | None) -> str | None:
    return match_problem(plan_of(skus), Policy(),
                         previous_matched=previous[0] if previous else None,
                         previous_rows=previous[1] if previous else None,
                         store_skus=STORE_SKUS)


@pytest.mark.parametrize(("skus", "previous"), [
    ([f"SKU-{i}" for i in range(20)], (71, 71)),
    ([f"SKU-{i}" for i in range(20)], (71, None)),
    ([f"SKU-{i}" for i in range(15)] + [f"NEW-{i}" for i in range(5)], (71, 71)),
    ([f"SKU-{i}" for i in range(71)] + [f"NEW-{i}" for i in range(100)], (71, 71)),
], ids=["shrunk-every-row-matches", "shrunk-no-row-count", "shrunk-mostly-matching",
        "grew-with-new-products"])
def test_a_source_that_only_shrank_or_grew_is_not_taken_for_another_store(skus, previous):
    assert problem(skus, previous=previous) is None


def test_far_fewer_matches_from_a_source_of_the_same_size_is_a_problem():
    skus = [f"SKU-{i}" for i in range(10)] + [f"OTHER-{i}" for i in range(61)]
    text = problem(skus, previous=(71, 71))
    assert text is not None and "only 10 of 71" in text and "71 of 71" in text
    assert "'OTHER-0'" in text, "a few unmatched rows are named"


def test_skus_in_another_case_are_named_with_the_store_sku_they_differ_from():
    text = problem([f"sku-{i}" for i in range(30)], previous=None)
    assert text is not None and text.startswith("0 of 30 source rows match")
    assert "30 of them differ from a store SKU only in case" in text
    assert "stock.csv:2: 'sku-0' (the store has 'SKU-0')" in text


def test_a_source_of_another_store_names_rows_that_match_nothing():
    text = problem([f"X-{i}" for i in range(4)], previous=None)
    assert text is not None and "4 name no store variant, e.g. stock.csv:2: 'X-0'" in text
    assert "only in case" not in text
