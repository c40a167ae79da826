"""Pure JSON -> StoreVariant rules for both catalogs (each JSON object taken through the
answer structs it is decoded into)."""

from __future__ import annotations

from syncd.base.model import NIL_GUID
from syncd.edges.wix import parse_v1
from syncd.edges.wix.answers import (
    V1Product,
    V1Variant,
    V1VariantStock,
    V2InventoryItem,
    V3InventoryItem,
    convert_answer,
)
from syncd.edges.wix.walk_v3 import item_variant_of


def product_variants(product, *, inventory=None):
    typed = convert_answer(product, V1Product, endpoint="test")
    item = None if inventory is None else convert_answer(inventory, V2InventoryItem,
                                                          endpoint="test")
    return parse_v1.product_variants(typed, inventory=item)


def variants_need_inventory(product):
    return parse_v1.variants_need_inventory(convert_answer(product, V1Product, endpoint="test"))


def seed_variant(product, variant, *, tracked, stock):
    return parse_v1.seed_variant(convert_answer(product, V1Product, endpoint="test"),
                                 convert_answer(variant, V1Variant, endpoint="test"),
                                 tracked=tracked,
                                 stock=convert_answer(stock, V1VariantStock, endpoint="test"))


def item_variant(item):
    assert isinstance(convert_answer(item, V3InventoryItem, endpoint="test"), V3InventoryItem)
    return item_variant_of(item, endpoint="test")


def _product(**overrides):
    product = {
        "id": "p1",
        "name": "Mug",
        "sku": "MUG",
        "visible": True,
        "inventoryItemId": "i1",
        "numericId": "15",
        "stock": {"trackInventory": True},
        "variants": [
            {"id": NIL_GUID, "choices": {}, "variant": {"sku": "", "visible": True},
             "stock": {"trackQuantity": True, "quantity": 4, "inStock": True}},
        ],
    }
    product.update(overrides)
    return product


class TestV1:
    def test_sku_falls_back_to_the_product_when_the_variant_has_none(self):
        (row,) = product_variants(_product())
        assert (row.sku, row.variant_id, row.inventory_item_id) == ("MUG", NIL_GUID, "i1")
        assert (row.tracked, row.quantity, row.in_stock, row.hidden) == (True, 4, True, False)

    def test_managed_variants_keep_their_own_sku(self):
        product = _product(sku="", variants=[
            {"id": "v1", "variant": {"sku": "TEE-S"}, "stock": {"trackQuantity": False,
                                                                "inStock": False}},
            {"id": "v2", "variant": {"sku": "TEE-M"}, "stock": {"trackQuantity": False,
                                                                "inStock": True}},
        ])
        rows = product_variants(product)
        assert [(r.sku, r.tracked, r.quantity, r.in_stock) for r in rows] == [
            ("TEE-S", False, None, False), ("TEE-M", False, None, True)]

    def test_hidden_product_and_hidden_variant_are_both_hidden(self):
        hidden_product = product_variants(_product(visible=False))
        assert hidden_product[0].hidden
        product = _product()
        product["variants"][0]["variant"]["visible"] = False
        assert product_variants(product)[0].hidden

    def test_missing_variant_stock_needs_the_inventory_and_takes_it_from_there(self):
        product = _product(variants=[{"id": "v1", "variant": {"sku": "A"}},
                                     {"id": "v2", "variant": {"sku": "B"}}])
        assert variants_need_inventory(product)
        inventory = {"trackQuantity": True, "variants": [
            {"variantId": "v1", "quantity": 0, "inStock": False},
            {"variantId": "v2", "quantity": 9}]}
        rows = product_variants(product, inventory=inventory)
        assert [(r.sku, r.quantity, r.in_stock) for r in rows] == [("A", 0, False),
                                                                   ("B", 9, True)]

    def test_complete_page_needs_no_inventory_call(self):
        assert not variants_need_inventory(_product())

    def test_product_without_variants_needs_more_reads(self):
        assert variants_need_inventory(_product(variants=[]))
        assert variants_need_inventory({k: v for k, v in _product().items() if k != "variants"})

    def test_tracking_defaults_to_the_product_flag(self):
        product = _product(stock={"trackInventory": False})
        product["variants"][0]["stock"] = {"inStock": True}
        (row,) = product_variants(product)
        assert not row.tracked and row.in_stock

    def test_seed_variant_uses_the_item_tracking_flag(self):
        row = seed_variant(_product(), {"id": NIL_GUID, "variant": {"sku": ""}},
                           tracked=True, stock={"quantity": 5, "inStock": True})
        assert (row.sku, row.tracked, row.quantity) == ("MUG", True, 5)


class TestV3:
    def _item(self, **overrides):
        item = {
            "id": "item-1", "revision": "3", "productId": "p1", "variantId": "v1",
            "locationId": "loc", "quantity": 12, "trackQuantity": True,
            "availabilityStatus": "IN_STOCK",
            "product": {"name": "Mug", "variantSku": "MUG-1", "variantVisible": True},
        }
        item.update(overrides)
        return item

    def test_tracked_item_reads_quantity_revision_location_and_sku(self):
        row = item_variant(self._item())
        assert (row.inventory_item_id, row.revision, row.location_id, row.sku) == (
            "item-1", "3", "loc", "MUG-1")
        assert (row.tracked, row.quantity, row.in_stock, row.hidden) == (True, 12, True, False)

    def test_invisible_variant_is_hidden(self):
        item = self._item(product={"variantSku": "X", "variantVisible": False})
        assert item_variant(item).hidden

    def test_status_tracked_item_uses_in_stock(self):
        item = self._item(quantity=None, trackQuantity=False, inStock=False,
                          availabilityStatus="OUT_OF_STOCK")
        row = item_variant(item)
        assert (row.tracked, row.quantity, row.in_stock) == (False, None, False)

    def test_tracked_in_stock_comes_from_the_status_not_a_derived_flag(self):
        row = item_variant(self._item(quantity=0, inStock=True,
                                      availabilityStatus="OUT_OF_STOCK"))
        assert row.in_stock is False

    def test_missing_tracking_flag_is_inferred_from_the_one_of(self):
        item = self._item()
        del item["trackQuantity"]
        assert item_variant(item).tracked
