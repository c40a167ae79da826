"""The fast lane's SKU -> product map: what it answers, and that it holds no SKU text."""

from __future__ import annotations

import sys
from array import array

from syncd.base.model import StoreVariant
from syncd.cycle.product_index import ProductIndex


def variant(product: str, variant_id: str, sku: str) -> StoreVariant:
    return StoreVariant(product_id=product, variant_id=variant_id, inventory_item_id=product,
                        sku=sku, tracked=True, quantity=1, in_stock=True, hidden=False)


INDEX = ProductIndex([
    variant("p1", "v1", "MUG-1"), variant("p1", "v2", "MUG-2"),
    variant("p2", "v1", "SHARED"), variant("p3", "v1", "SHARED"),
    variant("p4", "v1", ""), variant("p5", "v1", "p6"), variant("p6", "v1", "p6"),
])


class TestAnswers:
    def test_a_sku_names_the_product_holding_it(self):
        assert INDEX.products_for("MUG-2") == {"p1"}

    def test_a_sku_shared_by_two_products_names_both(self):
        assert INDEX.products_for("SHARED") == {"p2", "p3"}

    def test_a_product_id_and_a_product_variant_key_name_their_product(self):
        assert INDEX.products_for("p4") == {"p4"}
        assert INDEX.products_for("p4/v9") == {"p4"}

    def test_an_unknown_key_names_nothing(self):
        assert INDEX.products_for("NOPE") == set()

    def test_a_product_id_that_is_also_another_products_sku_is_not_taken_for_an_id(self):
        assert INDEX.is_product_id("p4")
        assert not INDEX.is_product_id("p6")  # p5's SKU too
        assert not INDEX.is_product_id("MUG-1")

    def test_products_to_read_are_sorted_and_cover_unseen_products(self):
        assert INDEX.products_to_read(["SHARED", "p9/v1", "MUG-1"]) == ["p1", "p2", "p3", "p9"]


def test_a_two_thousand_variant_store_is_indexed_in_a_word_a_variant():
    variants = [variant(f"{p:08d}-0000-4000-8000-000000000000", f"v{v}",
                        f"SKU-{p:05d}-{v:03d}-COLOUR-SIZE")
                for p in range(300) for v in range(7)]
    index = ProductIndex(variants)
    assert index.products_for("SKU-00007-003-COLOUR-SIZE") == {variants[7 * 7].product_id}
    assert index.is_product_id(variants[-1].product_id)
    held = [getattr(index, name) for name in ProductIndex.__slots__]
    # Arrays of numbers and one string of the product ids: no string a SKU or a product.
    assert all(isinstance(part, (array, str)) for part in held)
    arrays = sum(sys.getsizeof(part) for part in held if isinstance(part, array))
    assert arrays < 2100 * 8 + 300 * 12 + 1024  # 8 bytes a variant, 12 a product
    text = sum(sys.getsizeof(part) for part in held if isinstance(part, str))
    assert text < 300 * 36 + 100


def test_a_product_whose_variants_come_apart_under_equal_ids_is_indexed_once():
    # Built at run time, so that the two "p-a" are equal strings but not one object.
    first, again = "".join(["p-", "a"]), "".join(["p-", "a"])
    assert first == again and first is not again
    index = ProductIndex([variant(first, "v1", "A-1"), variant("p-b", "v1", "B-1"),
                          variant(again, "v2", "A-2")])
    assert index.products_for("A-2") == {"p-a"}
    assert index.products_to_read(["A-1", "A-2", "B-1"]) == ["p-a", "p-b"]
    assert index._id_text == "p-ap-b"  # each product's id once
