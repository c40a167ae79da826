"""Wix's answers decoded into the structs the walkers read: the contract's shape rules."""

from __future__ import annotations

import gc
import json

import pytest
from aioresponses import aioresponses

from support.wix import BASE
from syncd.base.errors import WixServerError
from syncd.base.model import NIL_GUID
from syncd.edges.config import WalkSettings
from syncd.edges.wix.answers import V1ProductsPage, V3InventoryPage, decode_answer
from syncd.edges.wix.parse_v1 import product_variants
from syncd.edges.wix.walk_v1 import V1Reader
from syncd.edges.wix.walk_v3 import item_variant

QUERY = BASE + "/stores-reader/v1/products/query"


def _page(product: dict[str, object]) -> bytes:
    return json.dumps({"products": [product], "totalResults": 1}).encode()


def _product(**stock: object) -> dict[str, object]:
    return {"id": "p1", "numericId": "1001", "name": "Mug", "sku": "MUG", "visible": True,
            "stock": {"trackInventory": True},
            "variants": [{"id": NIL_GUID, "variant": {"sku": ""},
                          "stock": {"trackQuantity": True, **stock}}]}


class TestShape:
    def test_a_numeric_id_sent_as_a_number_or_a_string_decodes_to_the_same_int(self):
        as_string = decode_answer(_page(_product()), V1ProductsPage, endpoint="q", status=200)
        as_number = decode_answer(_page({**_product(), "numericId": 1001}), V1ProductsPage,
                                  endpoint="q", status=200)
        assert as_string.records[0].numericId == as_number.records[0].numericId == 1001

    def test_fields_syncd_does_not_read_are_ignored_whatever_they_hold(self):
        product = {**_product(quantity=3), "priceData": {"price": "NaN?"}, "media": [1, "x"],
                   "brandNewField": {"nested": [None, {}]}}
        page = decode_answer(_page(product), V1ProductsPage, endpoint="q", status=200)
        (row,) = product_variants(page.records[0])
        assert (row.sku, row.quantity, row.in_stock) == ("MUG", 3, True)

    def test_a_sparse_answer_decodes_to_the_defaults_wix_left_out(self):
        # proto3 JSON: false, 0 and "" are left out, so is a hidden product's visible.
        sparse = {"id": "p1", "numericId": "1001", "stock": {"trackInventory": True},
                  "variants": [{"id": NIL_GUID, "stock": {}}]}
        page = decode_answer(_page(sparse), V1ProductsPage, endpoint="q", status=200)
        product = page.records[0]
        (row,) = product_variants(product)
        assert product.visible is None  # unknown, not "visible"
        assert (row.tracked, row.quantity, row.in_stock, row.hidden, row.sku) == (
            True, 0, False, False, "")

    def test_a_v3_revision_and_quantity_as_strings_read_as_numbers_do(self):
        body = json.dumps({"inventoryItems": [
            {"id": "i1", "revision": "7", "quantity": "12", "trackQuantity": True},
        ]}).encode()
        (item,) = decode_answer(body, V3InventoryPage, endpoint="q", status=200).records
        row = item_variant(item)
        assert (row.revision, row.quantity, row.in_stock) == ("7", 12, True)

    def test_decoded_answers_are_left_out_of_the_garbage_collector(self):
        # A walk's pages would otherwise set off collections over every value built before.
        page = decode_answer(_page(_product(quantity=3)), V1ProductsPage, endpoint="q",
                             status=200)
        product = page.records[0]
        assert product.variants is not None
        assert not any(gc.is_tracked(o) for o in (page, product, product.variants[0]))

    def test_a_wrong_type_names_the_endpoint_and_the_path_of_the_field(self):
        body = _page(_product(quantity={"value": 3}))
        with pytest.raises(WixServerError) as caught:
            decode_answer(body, V1ProductsPage, endpoint="v1.products.query", status=200)
        message = str(caught.value)
        assert "v1.products.query" in message
        assert "$.products[0].variants[0].stock.quantity" in message


async def test_a_quantity_of_the_wrong_type_fails_the_walk_instead_of_reading_zero(client):
    """A quantity Wix sent as an object is not taken for a missing quantity (0): the walk
    fails, naming the endpoint and the field, and nothing is planned from it."""
    with aioresponses() as mocked:
        mocked.post(QUERY, body=_page(_product(quantity={"value": 3})), repeat=True,
                    content_type="application/json")
        reader = V1Reader(client, WalkSettings(parallel_pages=False))
        with pytest.raises(WixServerError) as caught:
            await reader.walk()
    message = str(caught.value)
    assert "v1.products.query" in message
    assert "$.products[0].variants[0].stock.quantity" in message
