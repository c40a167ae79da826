"""Inventory V2 (with Catalog V1) and the seed walkthrough's older endpoints."""

from __future__ import annotations

import pytest

from syncd.base.model import NIL_GUID

from .conftest import Wix


def _update_path(row: dict) -> str:
    return f"/stores/v2/inventoryItems/product/{row['product_id']}"


class TestUpdateInventoryVariants:
    async def test_several_variants_of_one_product_change_in_one_call(self, v1: Wix):
        """One PATCH sets absolute quantities of several variants and answers {}."""
        red_m, red_l, blue_s = (v1.row(sku=s) for s in ("TSHIRT-RED-M", "TSHIRT-RED-L",
                                                         "TSHIRT-BLUE-S"))
        untouched = v1.row(sku="TSHIRT-BLACK-M")
        answer = await v1.patch(_update_path(red_m), {"inventoryItem": {
            "productId": red_m["product_id"], "trackQuantity": True,
            "variants": [{"variantId": red_m["variant_id"], "quantity": 3},
                         {"variantId": red_l["variant_id"], "quantity": 0},
                         {"variantId": blue_s["variant_id"], "quantity": 99_999}]}})
        assert answer.status == 200
        assert answer.body == {}
        assert v1.row(sku="TSHIRT-RED-M")["quantity"] == 3
        assert v1.row(sku="TSHIRT-RED-L")["quantity"] == 0
        assert v1.row(sku="TSHIRT-RED-L")["in_stock"] is False
        assert v1.row(sku="TSHIRT-BLUE-S")["quantity"] == 99_999
        assert v1.row(sku="TSHIRT-BLACK-M") == untouched
        assert v1.emu.stats()["writes"] == {"calls": 1, "variants": 3}

    async def test_omitted_track_quantity_turns_tracking_off_product_wide(self, v1: Wix):
        """trackQuantity omitted means false, for every variant of the product."""
        red_m = v1.row(sku="TSHIRT-RED-M")
        answer = await v1.patch(_update_path(red_m), {"inventoryItem": {
            "variants": [{"variantId": red_m["variant_id"], "inStock": True}]}})
        assert answer.status == 200
        shirt = v1.rows(product_id=red_m["product_id"])
        assert len(shirt) == 12
        assert all(r["tracked"] is False for r in shirt)
        # Other products keep their tracking.
        assert v1.row(sku="MUG-CLASSIC")["tracked"] is True

    async def test_untracked_stock_follows_in_stock_and_keeps_the_stored_quantity(self, v1: Wix):
        """While untracked, inStock decides; Get Inventory Variants still reports quantity."""
        blue_m = v1.row(sku="TSHIRT-BLUE-M")  # quantity 0
        await v1.patch(_update_path(blue_m), {"inventoryItem": {
            "trackQuantity": False, "variants": [{"variantId": blue_m["variant_id"],
                                                  "inStock": True}]}})
        inv = blue_m["inventory_item_id"]
        answer = await v1.post(f"/stores-reader/v2/inventoryItems/{inv}/getVariants",
                               {"inventoryId": inv, "variantIds": [blue_m["variant_id"]]})
        item = answer.body["inventoryItem"]
        assert item["trackQuantity"] is False
        assert item["variants"] == [{"variantId": blue_m["variant_id"], "inStock": True,
                                     "quantity": 0, "availableForPreorder": False}]
        store_variant = await v1.post("/stores-reader/v1/variants/query",
                                      {"query": {"filter": {"sku": "TSHIRT-BLUE-M"}}})
        assert store_variant.body["variants"][0]["stock"] == {"trackQuantity": False,
                                                             "inStock": True}

    async def test_tracked_in_stock_is_derived_from_quantity(self, v1: Wix):
        """For tracked products inStock is quantity > 0, whatever inStock was sent."""
        mug = v1.row(sku="MUG-CLASSIC")
        await v1.patch(_update_path(mug), {"inventoryItem": {
            "trackQuantity": True, "variants": [{"variantId": NIL_GUID, "quantity": 0,
                                                 "inStock": True}]}})
        assert v1.row(sku="MUG-CLASSIC")["in_stock"] is False

    @pytest.mark.parametrize("quantity", [100_000, -1, "5", 2.5])
    async def test_quantity_outside_0_to_99999_is_400_and_writes_nothing(self, v1: Wix,
                                                                         quantity):
        """V1 quantities are whole numbers 0..99999; anything else changes nothing."""
        mug = v1.row(sku="MUG-CLASSIC")
        answer = await v1.patch(_update_path(mug), {"inventoryItem": {
            "trackQuantity": True, "variants": [{"variantId": NIL_GUID, "quantity": quantity}]}})
        assert answer.status == 400
        assert "validationError" in answer.body["details"]
        assert v1.row(sku="MUG-CLASSIC") == mug
        assert v1.emu.stats()["writes"]["calls"] == 0

    async def test_unknown_product_or_variant_is_404(self, v1: Wix):
        """An unknown product id in the path, or variant id in the body, is a 404."""
        mug = v1.row(sku="MUG-CLASSIC")
        no_product = await v1.patch("/stores/v2/inventoryItems/product/nope",
                                    {"inventoryItem": {"trackQuantity": True}})
        no_variant = await v1.patch(_update_path(mug), {"inventoryItem": {
            "trackQuantity": True, "variants": [{"variantId": "x", "quantity": 1}]}})
        assert (no_product.status, no_variant.status) == (404, 404)


class TestIncrementDecrement:
    async def test_increment_and_decrement_adjust_tracked_quantities(self, v1: Wix):
        """Entries across products apply together; the answer is {}."""
        mug, cap = v1.row(sku="MUG-CLASSIC"), v1.row(sku="CAP-NAVY")
        inc = await v1.post("/stores/v2/inventoryItems/increment", {"incrementData": [
            {"productId": mug["product_id"], "variantId": NIL_GUID, "incrementBy": 5},
            {"inventoryId": cap["inventory_item_id"], "variantId": cap["variant_id"],
             "incrementBy": 1}]})
        dec = await v1.post("/stores/v2/inventoryItems/decrement", {"decrementData": [
            {"productId": mug["product_id"], "variantId": NIL_GUID, "decrementBy": 2}]})
        assert (inc.status, inc.body, dec.status, dec.body) == (200, {}, 200, {})
        assert v1.row(sku="MUG-CLASSIC")["quantity"] == 43
        assert v1.row(sku="CAP-NAVY")["quantity"] == 10

    @pytest.mark.parametrize("count", [0, 301])
    async def test_entry_count_outside_1_to_300_is_400(self, v1: Wix, count: int):
        """Increment/Decrement take 1..300 entries."""
        mug = v1.row(sku="MUG-CLASSIC")
        entry = {"productId": mug["product_id"], "variantId": NIL_GUID, "incrementBy": 1}
        answer = await v1.post("/stores/v2/inventoryItems/increment",
                               {"incrementData": [entry] * count})
        assert answer.status == 400
        assert v1.row(sku="MUG-CLASSIC")["quantity"] == 40

    async def test_three_hundred_entries_are_accepted(self, v1: Wix):
        """The upper bound itself is fine."""
        mug = v1.row(sku="MUG-CLASSIC")
        entry = {"productId": mug["product_id"], "variantId": NIL_GUID, "incrementBy": 1}
        answer = await v1.post("/stores/v2/inventoryItems/increment",
                               {"incrementData": [entry] * 300})
        assert answer.status == 200
        assert v1.row(sku="MUG-CLASSIC")["quantity"] == 340

    async def test_increment_by_zero_is_400(self, v1: Wix):
        """incrementBy must be at least 1."""
        mug = v1.row(sku="MUG-CLASSIC")
        answer = await v1.post("/stores/v2/inventoryItems/increment", {"incrementData": [
            {"productId": mug["product_id"], "variantId": NIL_GUID, "incrementBy": 0}]})
        assert answer.status == 400

    async def test_decrement_below_zero_fails_and_applies_no_entry(self, v1: Wix):
        """One failing entry rejects the call; the other entries are not applied either."""
        mug, apron = v1.row(sku="MUG-CLASSIC"), v1.row(sku="APRON-CANVAS")  # 40 and 3
        answer = await v1.post("/stores/v2/inventoryItems/decrement", {"decrementData": [
            {"productId": mug["product_id"], "variantId": NIL_GUID, "decrementBy": 1},
            {"productId": apron["product_id"], "variantId": NIL_GUID, "decrementBy": 4}]})
        assert answer.status == 400
        assert answer.body["details"]["applicationError"]["code"] == "INSUFFICIENT_INVENTORY"
        assert v1.row(sku="MUG-CLASSIC")["quantity"] == 40
        assert v1.row(sku="APRON-CANVAS")["quantity"] == 3

    async def test_adjusting_an_untracked_product_is_refused(self, v1: Wix):
        """Increments are for tracked items only."""
        stickers = v1.row(sku="STICKER-PACK")
        answer = await v1.post("/stores/v2/inventoryItems/increment", {"incrementData": [
            {"productId": stickers["product_id"], "variantId": NIL_GUID, "incrementBy": 1}]})
        assert answer.body["details"]["applicationError"]["code"] == (
            "INVENTORY_QUANTITY_NOT_TRACKED")


class TestQueryInventory:
    async def test_query_inventory_lists_every_product_including_hidden(self, v1: Wix):
        """One item per product, numericId ascending, hidden products included."""
        answer = await v1.post("/stores-reader/v2/inventoryItems/query",
                               {"query": {"paging": {"limit": 100}}})
        items = answer.body["inventoryItems"]
        products = {r["product_id"] for r in v1.emu.state()}
        assert {i["productId"] for i in items} == products
        assert answer.body["totalResults"] == len(products)
        assert [int(i["numericId"]) for i in items] == sorted(int(i["numericId"]) for i in items)

    async def test_query_inventory_filters_by_numeric_id_string(self, v1: Wix):
        """The numericId crawl works on Query Inventory too; filter is a JSON string."""
        first = await v1.post("/stores-reader/v2/inventoryItems/query",
                              {"query": {"paging": {"limit": 5}}})
        last = first.body["inventoryItems"][-1]["numericId"]
        answer = await v1.post("/stores-reader/v2/inventoryItems/query", {"query": {
            "filter": f'{{"numericId": {{"$gt": "{last}"}}}}', "paging": {"limit": 5}}})
        assert int(answer.body["inventoryItems"][0]["numericId"]) > int(last)
        assert answer.body["totalResults"] == first.body["totalResults"] - 5


class TestSeedEndpoints:
    async def test_seed_item_reports_and_switches_track_inventory(self, v1: Wix):
        """S2/S3: GET/PATCH /stores/v1/inventoryItems/{id} with trackInventory."""
        mug = v1.row(sku="MUG-CLASSIC")
        path = f"/stores/v1/inventoryItems/{mug['inventory_item_id']}"
        before = await v1.get(path)
        assert before.body == {"item": {"id": mug["inventory_item_id"],
                                        "externalId": mug["product_id"],
                                        "trackInventory": True}}
        after = await v1.patch(path, {"item": {"trackInventory": False}})
        assert after.body["item"]["trackInventory"] is False
        assert v1.row(sku="MUG-CLASSIC")["tracked"] is False

    async def test_seed_variant_query_returns_the_seeds_shape(self, v1: Wix):
        """S4: POST /stores/v1/products/{id}/variants/query with {} lists all variants."""
        mug = v1.row(sku="MUG-CLASSIC")
        answer = await v1.post(f"/stores/v1/products/{mug['product_id']}/variants/query", {})
        (variant,) = answer.body["variants"]
        assert variant["id"] == NIL_GUID
        assert variant["choices"] == {}
        assert variant["variant"]["sku"] == ""
        assert variant["variant"]["visible"] is True
        assert variant["variant"]["price"]["currency"] == "USD"
        assert answer.body["metadata"] == {"items": 1, "offset": 0}

    async def test_product_variants_query_matches_partial_choices(self, v1: Wix):
        """choices matches every variant having those choices."""
        shirt = v1.row(sku="TSHIRT-RED-M")
        answer = await v1.post(f"/stores/v1/products/{shirt['product_id']}/variants/query",
                               {"choices": {"Colour": "Red"}})
        assert sorted(v["variant"]["sku"] for v in answer.body["variants"]) == [
            "TSHIRT-RED-L", "TSHIRT-RED-M", "TSHIRT-RED-S", "TSHIRT-RED-XL"]

    async def test_seed_variant_patch_changes_exactly_one_variant(self, v1: Wix):
        """S5/S6: one variant's quantity is read and written, its siblings stay."""
        red_m = v1.row(sku="TSHIRT-RED-M")
        siblings = [r for r in v1.rows(product_id=red_m["product_id"])
                    if r["variant_id"] != red_m["variant_id"]]
        path = (f"/stores/v1/inventoryItems/{red_m['inventory_item_id']}"
                f"/variant/{red_m['variant_id']}")
        before = await v1.get(path)
        assert before.body == {"variant": {"itemId": red_m["inventory_item_id"],
                                           "variantId": red_m["variant_id"],
                                           "inStock": True, "quantity": 20}}
        answer = await v1.patch(path, {"variant": {"quantity": 5}})
        assert answer.status == 200
        assert v1.row(sku="TSHIRT-RED-M")["quantity"] == 5
        assert [r for r in v1.rows(product_id=red_m["product_id"])
                if r["variant_id"] != red_m["variant_id"]] == siblings

    async def test_seed_variant_of_an_untracked_product_shows_no_quantity(self, v1: Wix):
        """S5 gives quantity only when inventory is tracked; S6 sets inStock there."""
        stickers = v1.row(sku="STICKER-PACK")
        path = f"/stores/v1/inventoryItems/{stickers['inventory_item_id']}/variant/{NIL_GUID}"
        await v1.patch(path, {"variant": {"inStock": False}})
        answer = await v1.get(path)
        assert answer.body["variant"] == {"itemId": stickers["inventory_item_id"],
                                          "variantId": NIL_GUID, "inStock": False}

    async def test_seed_and_v2_paths_see_the_same_state(self, v1: Wix):
        """A write through S6 is what Get Inventory Variants reads."""
        cap = v1.row(sku="CAP-BLACK")
        inv = cap["inventory_item_id"]
        await v1.patch(f"/stores/v1/inventoryItems/{inv}/variant/{cap['variant_id']}",
                       {"variant": {"quantity": 77}})
        answer = await v1.post(f"/stores/v2/inventoryItems/{inv}/getVariants",
                               {"inventoryId": inv, "variantIds": [cap["variant_id"]]})
        assert answer.body["inventoryItem"]["variants"][0]["quantity"] == 77

    async def test_unknown_seed_item_or_variant_is_404(self, v1: Wix):
        """Unknown ids answer 404."""
        mug = v1.row(sku="MUG-CLASSIC")
        assert (await v1.get("/stores/v1/inventoryItems/nope")).status == 404
        answer = await v1.get(f"/stores/v1/inventoryItems/{mug['inventory_item_id']}/variant/x")
        assert answer.status == 404
