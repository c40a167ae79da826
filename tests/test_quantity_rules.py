"""Quantity rules: supplier words and "5+" become numbers, thresholds and percentages apply,
in the documented order, and the plan says which rule set each value."""

from __future__ import annotations

from pathlib import Path

import pytest

from syncd.base.model import Catalog, StoreSnapshot, StoreVariant
from syncd.core.diff import plan_changes
from syncd.core.policy import Policy
from syncd.edges.config import SourceFormat, SourceSettings
from syncd.edges.config.source import QuantityRules
from syncd.edges.sources import InvalidRowsError, load_desired
from syncd.frontends.render import explain_change

RULES = QuantityRules(values=(("in stock", 10), ("low", 2), ("out", 0), ("y", True),
                              ("n", False)),
                      plus=True, threshold=3, percent=50)


def _load(tmp_path: Path, text: str, rules: QuantityRules = RULES):
    path = tmp_path / "stock.csv"
    path.write_text(text)
    return load_desired(SourceSettings(path=path, format=SourceFormat.CSV, rules=rules))


def test_rules_apply_in_order_and_each_row_names_them(tmp_path):
    src = _load(tmp_path, "sku,quantity\nA,In Stock\nB,Low\nC,Out\nD,Y\nE,n\nF,9+\n"
                          "G,>20\nH,2\nI,9\nJ,1\n")
    got = {r.key: (r.quantity, r.in_stock, r.note) for r in src.rows}
    assert got == {
        "A": (5, None, "values: 'In Stock' = 10; percent 50: 10 -> 5"),
        "B": (0, None, "values: 'Low' = 2; threshold 3: 2 -> 0"),
        "C": (0, None, "values: 'Out' = 0"),
        "D": (None, True, "values: 'Y' = True"),
        "E": (None, False, "values: 'n' = False"),
        "F": (4, None, "plus: '9+' = 9; percent 50: 9 -> 4"),
        "G": (10, None, "plus: '>20' = 20; percent 50: 20 -> 10"),
        "H": (0, None, "threshold 3: 2 -> 0"),
        "I": (4, None, "percent 50: 9 -> 4"),
        "J": (0, None, "threshold 3: 1 -> 0"),
    }


def test_without_rules_supplier_words_are_bad_rows(tmp_path):
    with pytest.raises(InvalidRowsError, match="'In stock' is not a whole number"):
        _load(tmp_path, "sku,quantity\nA,In stock\n", QuantityRules())


def test_an_unmapped_word_is_still_a_bad_row(tmp_path):
    with pytest.raises(InvalidRowsError, match="'Plenty' is not a whole number"):
        _load(tmp_path, "sku,quantity\nA,Plenty\n")


def test_the_plan_reason_names_the_rules_and_buffer_after_them(tmp_path):
    src = _load(tmp_path, "sku,quantity\nA,In stock\n")
    variant = StoreVariant(product_id="p", variant_id="v", inventory_item_id="i", sku="A",
                           tracked=True, quantity=0, in_stock=False, hidden=False)
    plan = plan_changes(src.rows, StoreSnapshot(Catalog.V1, (variant,)), Policy(buffer=1))
    [change] = plan.changes
    assert change.quantity == 4
    assert explain_change(change) == ("quantity: source 5 - buffer 1 "
                                "(rule values: 'In stock' = 10; percent 50: 10 -> 5)")
