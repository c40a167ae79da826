"""Catalog V3: products, inventory items, revisions, bulk writes and cursor paging."""

from __future__ import annotations

from pathlib import Path

import pytest

from syncd.base.model import NIL_GUID

from .conftest import Connect, Wix

QUERY = "/stores/v3/inventory-items/query"
BULK_UPDATE = "/stores/v3/bulk/inventory-items/update"


def _item_path(row: dict) -> str:
    return f"/stores/v3/inventory-items/{row['inventory_item_id']}"


def _bulk_entry(row: dict, **stock) -> dict:
    return {"inventoryItem": {"id": row["inventory_item_id"], "revision": row["revision"],
                              **stock}}


async def _query_all(w: Wix, query: dict, *, limit: int) -> list[dict]:
    items: list[dict] = []
    request = {"query": {**query, "cursorPaging": {"limit": limit}}}
    while True:
        answer = await w.post(QUERY, request)
        assert answer.status == 200, answer.body
        items += answer.body["inventoryItems"]
        cursor = answer.body["pagingMetadata"]["cursors"]["next"]
        if not cursor:
            return items
        request = {"query": {"cursorPaging": {"limit": limit, "cursor": cursor}}}


class TestItems:
    async def test_items_carry_sku_revision_location_and_derived_fields(self, v3: Wix):
        """product.variantSku gives the SKU; trackQuantity and availabilityStatus derive."""
        row = v3.row(sku="TSHIRT-BLUE-M")  # quantity 0
        item = (await v3.get(_item_path(row))).body["inventoryItem"]
        assert item["product"]["variantSku"] == "TSHIRT-BLUE-M"
        assert item["revision"] == "1"
        assert item["locationId"] == row["location_id"]
        assert (item["trackQuantity"], item["quantity"], item["inStock"],
                item["availabilityStatus"]) == (True, 0, False, "OUT_OF_STOCK")

    async def test_option_less_default_variant_has_a_real_guid(self, v3: Wix):
        """V3 never uses the nil GUID."""
        mug = v3.row(sku="MUG-CLASSIC")
        assert mug["variant_id"] != NIL_GUID
        product = (await v3.get(f"/stores/v3/products/{mug['product_id']}")).body["product"]
        (variant,) = product["variantsInfo"]["variants"]
        assert variant["id"] == mug["variant_id"]
        assert variant["choices"] == []
        assert variant["sku"] == "MUG-CLASSIC"

    async def test_query_products_returns_no_variants(self, v3: Wix):
        """V3 Query Products pages products without variantsInfo, hidden ones included."""
        answer = await v3.post("/stores/v3/products/query",
                               {"query": {"cursorPaging": {"limit": 100}}})
        products = answer.body["products"]
        assert len(products) == len({r["product_id"] for r in v3.emu.state()})
        assert all("variantsInfo" not in p for p in products)
        assert answer.body["pagingMetadata"]["hasNext"] is False

    async def test_query_products_filters_on_declared_fields_only(self, v3: Wix):
        """visible filters; a field outside the V3 product query spec is a 400."""
        hidden = await v3.post("/stores/v3/products/query",
                               {"query": {"filter": {"visible": False}}})
        undeclared = await v3.post("/stores/v3/products/query",
                                   {"query": {"filter": {"name": "Classic Mug"}}})
        assert [p["name"] for p in hidden.body["products"]] == ["Prototype Hoodie"]
        assert undeclared.status == 400
        assert "not declared as filterable" in undeclared.body["message"]

    async def test_query_products_limit_is_100(self, v3: Wix):
        """V3 product pages hold at most 100 products."""
        answer = await v3.post("/stores/v3/products/query",
                               {"query": {"cursorPaging": {"limit": 101}}})
        assert answer.status == 400

    async def test_read_only_variants_filter_by_product(self, v3: Wix):
        """Query Variants filters on productData.productId."""
        cap = v3.row(sku="CAP-NAVY")
        answer = await v3.post("/stores/v3/products/query-variants", {"query": {
            "filter": {"productData.productId": cap["product_id"]}}})
        assert sorted(v["sku"] for v in answer.body["variants"]) == [
            "CAP-BLACK", "CAP-KHAKI", "CAP-NAVY"]

    async def test_read_only_variants_give_sku_and_status_but_no_quantity(self, v3: Wix):
        """Query Variants: SKU and inStock, never a quantity."""
        answer = await v3.post("/stores/v3/products/query-variants",
                               {"query": {"cursorPaging": {"limit": 1000}}})
        variants = answer.body["variants"]
        assert len(variants) == len(v3.emu.state())
        assert all("quantity" not in v and "quantity" not in v["inventoryStatus"]
                   for v in variants)


class TestUpdate:
    async def test_revision_goes_up_by_one_per_write(self, v3: Wix):
        """Every successful update adds 1 to the revision and answers the new item."""
        row = v3.row(sku="MUG-CLASSIC")
        first = await v3.patch(_item_path(row), {"inventoryItem": {"revision": "1",
                                                                   "quantity": 12}})
        second = await v3.patch(_item_path(row), {"inventoryItem": {"revision": "2",
                                                                    "quantity": 13}})
        assert first.body["inventoryItem"]["revision"] == "2"
        assert second.body["inventoryItem"]["revision"] == "3"
        assert v3.row(sku="MUG-CLASSIC")["quantity"] == 13

    async def test_update_without_revision_is_400(self, v3: Wix):
        """revision is required: "revision must not be empty"."""
        row = v3.row(sku="MUG-CLASSIC")
        answer = await v3.patch(_item_path(row), {"inventoryItem": {"quantity": 1}})
        assert answer.status == 400
        assert answer.body["message"] == "inventoryItem.revision must not be empty"

    @pytest.mark.parametrize(("status", "config"), [(409, {}), (428, {"stale_status": 428})])
    async def test_stale_revision_is_rejected_without_writing(self, wix: Connect, status, config):
        """A stale revision gets the configured status (409 default) and changes nothing."""
        w = await wix(catalog="v3", **config)
        row = w.row(sku="MUG-CLASSIC")
        await w.patch(_item_path(row), {"inventoryItem": {"revision": "1", "quantity": 5}})
        stale = await w.patch(_item_path(row), {"inventoryItem": {"revision": "1",
                                                                  "quantity": 99}})
        assert stale.status == status
        assert stale.body["details"]["applicationError"]["code"] == "REVISION_MISMATCH"
        assert w.row(sku="MUG-CLASSIC")["quantity"] == 5
        assert w.row(sku="MUG-CLASSIC")["revision"] == "2"

    async def test_quantity_and_in_stock_are_one_of(self, v3: Wix):
        """Sending both is a 400."""
        row = v3.row(sku="MUG-CLASSIC")
        answer = await v3.patch(_item_path(row), {"inventoryItem": {
            "revision": "1", "quantity": 3, "inStock": True}})
        assert answer.status == 400

    async def test_writing_in_stock_or_quantity_switches_tracking(self, v3: Wix):
        """inStock selects status tracking (no quantity), quantity selects quantity tracking."""
        row = v3.row(sku="MUG-CLASSIC")
        status = await v3.patch(_item_path(row), {"inventoryItem": {"revision": "1",
                                                                    "inStock": False}})
        item = status.body["inventoryItem"]
        assert (item["trackQuantity"], "quantity" in item, item["availabilityStatus"]) == (
            False, False, "OUT_OF_STOCK")
        counted = await v3.patch(_item_path(row), {"inventoryItem": {
            "revision": "2", "quantity": 4, "trackQuantity": False}})  # read-only: ignored
        item = counted.body["inventoryItem"]
        assert (item["trackQuantity"], item["quantity"], item["availabilityStatus"]) == (
            True, 4, "IN_STOCK")

    @pytest.mark.parametrize("quantity", [100_000, -100_000])
    async def test_quantity_beyond_99999_either_way_is_400(self, v3: Wix, quantity: int):
        """V3 quantities range -99999..99999."""
        row = v3.row(sku="MUG-CLASSIC")
        answer = await v3.patch(_item_path(row), {"inventoryItem": {"revision": "1",
                                                                    "quantity": quantity}})
        assert answer.status == 400

    async def test_negative_quantity_through_update_is_428(self, v3: Wix):
        """Update cannot set stock below zero: 428 REQUESTED_QUANTITY_MUST_BE_NON_NEGATIVE…"""
        row = v3.row(sku="MUG-CLASSIC")
        answer = await v3.patch(_item_path(row), {"inventoryItem": {"revision": "1",
                                                                    "quantity": -3}})
        assert answer.status == 428
        assert answer.body["details"]["applicationError"]["code"] == (
            "REQUESTED_QUANTITY_MUST_BE_NON_NEGATIVE_DECREASING")

    async def test_unknown_item_is_404(self, v3: Wix):
        """Get and Update of an unknown id answer 404."""
        assert (await v3.get("/stores/v3/inventory-items/nope")).status == 404
        answer = await v3.patch("/stores/v3/inventory-items/nope",
                                {"inventoryItem": {"revision": "1", "quantity": 1}})
        assert answer.status == 404


class TestBulkUpdate:
    async def test_one_stale_revision_fails_alone_and_the_others_apply(self, v3: Wix):
        """Per-item results in a 200: the stale item is unchanged, the rest are written."""
        red_m, red_l, mug = (v3.row(sku=s) for s in ("TSHIRT-RED-M", "TSHIRT-RED-L",
                                                     "MUG-CLASSIC"))
        stale_mug = dict(mug, revision="7")
        answer = await v3.post(BULK_UPDATE, {"inventoryItems": [
            _bulk_entry(red_m, quantity=1), _bulk_entry(stale_mug, quantity=99),
            _bulk_entry(red_l, quantity=2)], "returnEntity": True})
        assert answer.status == 200
        results = answer.body["results"]
        assert [r["itemMetadata"]["originalIndex"] for r in results] == [0, 1, 2]
        assert [r["itemMetadata"]["success"] for r in results] == [True, False, True]
        assert results[1]["itemMetadata"]["error"]["code"] == "REVISION_MISMATCH"
        assert "item" not in results[1]
        assert results[0]["item"]["revision"] == "2"
        assert answer.body["bulkActionMetadata"] == {"totalSuccesses": 2, "totalFailures": 1,
                                                     "undetailedFailures": 0}
        assert v3.row(sku="MUG-CLASSIC") == mug
        assert (v3.row(sku="TSHIRT-RED-M")["quantity"], v3.row(sku="TSHIRT-RED-L")["quantity"]) \
            == (1, 2)

    async def test_items_only_come_back_with_return_entity(self, v3: Wix):
        """returnEntity defaults to false."""
        row = v3.row(sku="MUG-CLASSIC")
        answer = await v3.post(BULK_UPDATE, {"inventoryItems": [_bulk_entry(row, quantity=1)]})
        assert "item" not in answer.body["results"][0]
        assert answer.body["results"][0]["itemMetadata"]["id"] == row["inventory_item_id"]

    @pytest.mark.parametrize("count", [0, 1001])
    async def test_size_outside_1_to_1000_is_400(self, v3: Wix, count: int):
        """Bulk Update takes 1..1000 items."""
        row = v3.row(sku="MUG-CLASSIC")
        answer = await v3.post(BULK_UPDATE, {"inventoryItems": [_bulk_entry(row, quantity=1)]
                                             * count})
        assert answer.status == 400

    async def test_missing_revision_rejects_the_whole_request(self, v3: Wix):
        """A malformed item is a 400 for the request, nothing applied."""
        red_m, mug = v3.row(sku="TSHIRT-RED-M"), v3.row(sku="MUG-CLASSIC")
        answer = await v3.post(BULK_UPDATE, {"inventoryItems": [
            _bulk_entry(red_m, quantity=1),
            {"inventoryItem": {"id": mug["inventory_item_id"], "quantity": 1}}]})
        assert answer.status == 400
        assert "inventoryItems[1].inventoryItem.revision" in answer.body["message"]
        assert v3.row(sku="TSHIRT-RED-M") == red_m

    async def test_unknown_and_negative_items_fail_per_item(self, v3: Wix):
        """NOT_FOUND and the negative-quantity code come back per item."""
        mug = v3.row(sku="MUG-CLASSIC")
        answer = await v3.post(BULK_UPDATE, {"inventoryItems": [
            {"inventoryItem": {"id": "nope", "revision": "1", "quantity": 1}},
            _bulk_entry(mug, quantity=-1)]})
        codes = [r["itemMetadata"]["error"]["code"] for r in answer.body["results"]]
        assert codes == ["NOT_FOUND", "REQUESTED_QUANTITY_MUST_BE_NON_NEGATIVE_DECREASING"]


class TestBulkAdjust:
    async def test_increment_and_decrement_report_section_2_4_codes(self, v3: Wix):
        """Untracked, insufficient and over-limit entries fail; the others apply."""
        mug, apron = v3.row(sku="MUG-CLASSIC"), v3.row(sku="APRON-CANVAS")  # 40, 3
        stickers = v3.row(sku="STICKER-PACK")
        dec = await v3.post("/stores/v3/bulk/inventory-items/decrement", {"decrementData": [
            {"inventoryItemId": mug["inventory_item_id"], "decrementBy": 5},
            {"inventoryItemId": apron["inventory_item_id"], "decrementBy": 4},
            {"inventoryItemId": stickers["inventory_item_id"], "decrementBy": 1}],
            "returnEntity": True})
        assert [r["itemMetadata"]["success"] for r in dec.body["results"]] == [True, False, False]
        assert [r["itemMetadata"].get("error", {}).get("code") for r in dec.body["results"]] == [
            None, "INSUFFICIENT_INVENTORY", "INVENTORY_QUANTITY_NOT_TRACKED"]
        assert dec.body["results"][0]["item"]["quantity"] == 35
        inc = await v3.post("/stores/v3/bulk/inventory-items/increment", {"incrementData": [
            {"inventoryItemId": mug["inventory_item_id"], "incrementBy": 99_999}]})
        assert inc.body["results"][0]["itemMetadata"]["error"]["code"] == (
            "MAX_QUANTITY_LIMIT_REACHED")
        assert v3.row(sku="MUG-CLASSIC")["quantity"] == 35
        assert v3.row(sku="MUG-CLASSIC")["revision"] == "2"

    async def test_unrestricted_decrement_may_go_negative(self, v3: Wix):
        """restrictInventory: false lets stock fall below zero."""
        apron = v3.row(sku="APRON-CANVAS")
        answer = await v3.post("/stores/v3/bulk/inventory-items/decrement", {
            "decrementData": [{"inventoryItemId": apron["inventory_item_id"], "decrementBy": 5}],
            "restrictInventory": False})
        assert answer.body["results"][0]["itemMetadata"]["success"] is True
        assert v3.row(sku="APRON-CANVAS")["quantity"] == -2

    async def test_more_than_300_entries_or_amount_zero_is_400(self, v3: Wix):
        """1..300 entries, each 1..99999."""
        mug = v3.row(sku="MUG-CLASSIC")
        entry = {"inventoryItemId": mug["inventory_item_id"], "incrementBy": 1}
        too_many = await v3.post("/stores/v3/bulk/inventory-items/increment",
                                 {"incrementData": [entry] * 301})
        zero = await v3.post("/stores/v3/bulk/inventory-items/increment",
                             {"incrementData": [dict(entry, incrementBy=0)]})
        assert (too_many.status, zero.status) == (400, 400)


class TestCoverage:
    STORE = """\
products:
  - name: Poster
    options: {Size: [A3, A2]}
    variants:
      - {choices: {Size: A3}, sku: POSTER-A3, quantity: 4}
      - {choices: {Size: A2}, sku: POSTER-A2, quantity: 1, inventory_item: false}
"""

    async def test_no_inventory_items_are_created_implicitly(self, wix: Connect, tmp_path: Path):
        """A variant without an item stays without one through reads and other writes."""
        path = tmp_path / "store.yaml"
        path.write_text(self.STORE)
        w = await wix(catalog="v3", store_path=str(path))
        items = await _query_all(w, {}, limit=100)
        assert [i["product"]["variantSku"] for i in items] == ["POSTER-A3"]
        a2 = w.row(sku="POSTER-A2")
        assert a2["inventory_item_id"] is None
        await w.post("/stores/v3/products/query-variants", {"query": {}})
        await w.get(f"/stores/v3/products/{a2['product_id']}")
        assert len(await _query_all(w, {}, limit=100)) == 1

    async def test_bulk_create_adds_missing_items_and_refuses_existing_ones(self, wix: Connect,
                                                                           tmp_path: Path):
        """Bulk Create makes revision-1 items; an existing (variant, location) fails."""
        path = tmp_path / "store.yaml"
        path.write_text(self.STORE)
        w = await wix(catalog="v3", store_path=str(path))
        a2, a3 = w.row(sku="POSTER-A2"), w.row(sku="POSTER-A3")
        answer = await w.post("/stores/v3/bulk/inventory-items/create", {"inventoryItems": [
            {"productId": a2["product_id"], "variantId": a2["variant_id"], "quantity": 9},
            {"productId": a3["product_id"], "variantId": a3["variant_id"], "quantity": 9}],
            "returnEntity": True})
        first, second = answer.body["results"]
        assert first["item"]["revision"] == "1"
        assert first["item"]["quantity"] == 9
        assert second["itemMetadata"]["error"]["code"] == "ITEM_ALREADY_EXISTS"
        created = w.row(sku="POSTER-A2")
        assert (created["quantity"], created["location_id"]) == (9, a3["location_id"])


class TestQuery:
    async def test_cursor_paging_carries_filter_and_sort_to_the_end(self, wix: Connect):
        """Follow-ups send only the cursor and still get filtered, sorted pages."""
        w = await wix(catalog="v3", generate_products=300, seed=5)
        items = await _query_all(w, {"filter": {"trackQuantity": True},
                                     "sort": [{"fieldName": "quantity", "order": "DESC"}]},
                                 limit=50)
        expected = [r for r in w.emu.state() if r["tracked"]]
        assert len(items) == len(expected)
        assert len({i["id"] for i in items}) == len(items)
        quantities = [i["quantity"] for i in items]
        assert quantities == sorted(quantities, reverse=True)

    async def test_a_cursor_sent_with_filter_or_sort_is_400(self, v3: Wix):
        """Repeating filter/sort next to a cursor is refused."""
        first = await v3.post(QUERY, {"query": {"cursorPaging": {"limit": 5}}})
        cursor = first.body["pagingMetadata"]["cursors"]["next"]
        for extra in ({"filter": {"trackQuantity": True}}, {"sort": [{"fieldName": "quantity"}]}):
            answer = await v3.post(QUERY, {"query": {**extra, "cursorPaging": {"cursor": cursor}}})
            assert answer.status == 400

    async def test_limit_up_to_1000_and_not_beyond(self, wix: Connect):
        """Inventory queries page up to 1000 items."""
        w = await wix(catalog="v3", generate_products=200, seed=2)
        ok = await w.post(QUERY, {"query": {"cursorPaging": {"limit": 1000}}})
        too_big = await w.post(QUERY, {"query": {"cursorPaging": {"limit": 1001}}})
        assert len(ok.body["inventoryItems"]) == min(1000, len(w.emu.state()))
        assert too_big.status == 400

    @pytest.mark.parametrize(("filter_doc", "expected"), [
        ({"product.variantSku": "CAP-NAVY"}, {"CAP-NAVY"}),
        ({"product.variantSku": {"$ne": "CAP-NAVY"}, "product.name": "Baseball Cap"},
         {"CAP-BLACK", "CAP-KHAKI"}),
        ({"product.variantSku": {"$in": ["CAP-NAVY", "MUG-LATTE"]}}, {"CAP-NAVY", "MUG-LATTE"}),
        ({"product.variantSku": {"$hasSome": ["PIN-LOGO"]}}, {"PIN-LOGO"}),
        ({"quantity": {"$gt": 45}}, {"SOCKS-SM", "NOTEBOOK-A5", "PIN-LOGO", "KEYRING-LOGO"}),
        ({"quantity": {"$gte": 50}}, {"SOCKS-SM", "NOTEBOOK-A5", "PIN-LOGO"}),
        ({"quantity": {"$lt": 1}, "product.name": {"$startsWith": "Classic"}},
         {"TSHIRT-BLUE-M"}),
        ({"quantity": {"$lte": 1}, "product.name": "Vintage Tee"},
         {"TSHIRT-VINTAGE-L", "TSHIRT-VINTAGE-GREEN-M"}),
        ({"trackQuantity": False}, {"STICKER-PACK"}),
    ])
    async def test_filter_operators_on_declared_fields(self, v3: Wix, filter_doc, expected):
        """$eq $ne $in $hasSome $gt $gte $lt $lte select items."""
        items = await _query_all(v3, {"filter": filter_doc}, limit=100)
        assert {i["product"]["variantSku"] for i in items} == expected

    async def test_filter_by_ids_and_location(self, v3: Wix):
        """id, productId, variantId and locationId filter (the re-read after a conflict)."""
        rows = [v3.row(sku=s) for s in ("CAP-NAVY", "MUG-LATTE")]
        by_id = await _query_all(v3, {"filter": {"id": {"$in": [r["inventory_item_id"]
                                                                  for r in rows]}}}, limit=10)
        by_variant = await _query_all(v3, {"filter": {
            "variantId": rows[0]["variant_id"], "productId": rows[0]["product_id"],
            "locationId": rows[0]["location_id"]}}, limit=10)
        assert {i["product"]["variantSku"] for i in by_id} == {"CAP-NAVY", "MUG-LATTE"}
        assert [i["product"]["variantSku"] for i in by_variant] == ["CAP-NAVY"]

    @pytest.mark.parametrize("filter_doc", [{"weight": 1}, '{"id": "x"}',
                                            {"id": {"$startsWith": "a"}}])
    async def test_undeclared_fields_strings_and_bad_operators_are_400(self, v3: Wix,
                                                                        filter_doc):
        """V3 filters are objects over declared fields and operators."""
        answer = await v3.post(QUERY, {"query": {"filter": filter_doc}})
        assert answer.status == 400

    async def test_search_matches_text_and_defaults_to_newest_first(self, v3: Wix):
        """Search Inventory Items: free text over name and SKU, hasNext in the metadata."""
        answer = await v3.post("/stores/v3/inventory-items/search", {"search": {
            "search": {"expression": "hoodie-navy"}, "cursorPaging": {"limit": 2}}})
        assert answer.status == 200
        assert len(answer.body["inventoryItems"]) == 2
        assert answer.body["pagingMetadata"]["hasNext"] is True
        cursor = answer.body["pagingMetadata"]["cursors"]["next"]
        rest = await v3.post("/stores/v3/inventory-items/search",
                             {"search": {"cursorPaging": {"cursor": cursor, "limit": 10}}})
        skus = {i["product"]["variantSku"] for i in
                answer.body["inventoryItems"] + rest.body["inventoryItems"]}
        assert skus == {"HOODIE-NAVY-S", "HOODIE-NAVY-M", "HOODIE-NAVY-L", "HOODIE-NAVY-XL"}
