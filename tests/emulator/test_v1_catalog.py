"""Catalog V1 reads: string filters and sorts, paging limits, hidden products, variants."""

from __future__ import annotations

import json

import pytest

from syncd.base.model import NIL_GUID

from .conftest import Connect, Wix


def _names(answer) -> list[str]:
    return [p["name"] for p in answer.body["products"]]


def _violation(answer) -> dict:
    return answer.body["details"]["validationError"]["fieldViolations"][0]


class TestFilterAndSortStrings:
    async def test_filter_sent_as_an_object_is_400(self, v1: Wix):
        """V1 filters are JSON encoded in a string; an object is refused."""
        answer = await v1.post("/stores-reader/v1/products/query",
                               {"query": {"filter": {"name": "Classic Mug"}}})
        assert answer.status == 400
        assert _violation(answer)["field"] == "query.filter"

    @pytest.mark.parametrize("text", ['{"name": ', "[1, 2]", '{"$nope": 1}'])
    async def test_malformed_filter_string_is_400(self, v1: Wix, text: str):
        """Invalid JSON, a non-object or an unknown operator is a 400, never match-all."""
        answer = await v1.query_products(query={"filter": text})
        assert answer.status == 400

    async def test_undeclared_field_is_400(self, v1: Wix):
        """Only the documented fields (plus visible) filter."""
        answer = await v1.query_products(query={"filter": {"weight": 1}})
        assert answer.status == 400
        assert "weight" in answer.body["message"]

    @pytest.mark.parametrize("filter_doc", [
        {"id": {"$gt": "a"}},            # id takes $eq/$ne/$hasSome only
        {"name": {"$gt": "M"}},          # text fields do not compare
        {"numericId": {"$contains": "1"}},
    ])
    async def test_operator_not_allowed_for_the_field_is_400(self, v1: Wix, filter_doc):
        """The operator table of contract §4 is enforced per field."""
        answer = await v1.query_products(query={"filter": filter_doc})
        assert answer.status == 400

    @pytest.mark.parametrize(("filter_doc", "expected"), [
        ({"name": "Classic Mug"}, ["Classic Mug"]),
        ({"name": {"$eq": "Travel Mug"}}, ["Travel Mug"]),
        ({"sku": {"$hasSome": ["MUG-LATTE", "TOTE-CANVAS"]}},
         ["Large Latte Mug", "Canvas Tote Bag"]),
        ({"name": {"$startsWith": "classic"}}, ["Classic Logo T-shirt", "Classic Mug"]),
        ({"name": {"$contains": "HOODIE"}}, ["Pullover Hoodie", "Zip Hoodie"]),
        ({"price": {"$gte": 62}}, ["Zip Hoodie"]),
        ({"price": {"$lt": 7}}, ["Sticker Pack"]),
        ({"options.Size": {"$hasAll": ["S/M", "L/XL"]}}, ["Everyday Socks"]),
        ({"options.Model": "Pixel 8"}, ["Phone Case"]),
        ({"$or": [{"sku": "MUG-CLASSIC"}, {"sku": "PIN-LOGO"}]}, ["Classic Mug", "Enamel Pin"]),
    ])
    async def test_filter_operators_select_the_matching_products(self, v1: Wix, filter_doc,
                                                                 expected):
        """$eq, $hasSome, $startsWith, $contains, ranges and options.<name> filter."""
        answer = await v1.query_products(query={"filter": filter_doc})
        assert answer.status == 200
        assert _names(answer) == expected
        assert answer.body["totalResults"] == len(expected)

    async def test_ne_excludes_the_value(self, v1: Wix):
        """$ne keeps everything else."""
        everything = await v1.query_products(query={"paging": {"limit": 100}})
        answer = await v1.query_products(query={"filter": {"sku": {"$ne": "MUG-CLASSIC"}}})
        assert answer.body["totalResults"] == everything.body["totalResults"] - 1
        assert "Classic Mug" not in _names(answer)

    @pytest.mark.parametrize("sort", [
        [{"name": "desc"}],
        [{"fieldName": "name", "order": "DESC"}],
    ])
    async def test_sort_accepts_both_documented_spellings(self, v1: Wix, sort):
        """[{"name": "desc"}] and [{"fieldName": "name", "order": "DESC"}] sort alike."""
        answer = await v1.query_products(query={"sort": sort, "paging": {"limit": 100}})
        names = _names(answer)
        assert names == sorted(names, reverse=True)

    async def test_sort_on_a_non_sortable_field_is_400(self, v1: Wix):
        """description filters but does not sort."""
        answer = await v1.query_products(query={"sort": [{"description": "asc"}]})
        assert answer.status == 400


class TestPaging:
    async def test_limit_over_100_is_400(self, v1: Wix):
        """Query Products pages hold at most 100 products."""
        answer = await v1.query_products(query={"paging": {"limit": 101}})
        assert answer.status == 400
        assert _violation(answer)["field"] == "query.paging.limit"
        assert _violation(answer)["violatedRule"] == "MAX"

    async def test_offset_10000_is_an_error(self, v1: Wix):
        """Offsets from 10,000 on fail; clients must crawl by numericId."""
        ok = await v1.query_products(query={"paging": {"limit": 10, "offset": 9_999}})
        answer = await v1.query_products(query={"paging": {"limit": 10, "offset": 10_000}})
        assert ok.status == 200
        assert answer.status == 400
        assert "numericId" in answer.body["message"]

    async def test_metadata_reports_returned_items_and_offset(self, v1: Wix):
        """metadata.items is the number returned, metadata.offset the offset asked for."""
        answer = await v1.query_products(query={"paging": {"limit": 10, "offset": 20}})
        visible = answer.body["totalResults"]
        assert answer.body["metadata"] == {"items": visible - 20, "offset": 20}

    async def test_numeric_ids_are_ascending_strings(self, v1: Wix):
        """numericId is an int64 string and products come in ascending numericId order."""
        answer = await v1.query_products(query={"paging": {"limit": 100}},
                                         includeHiddenProducts=True)
        ids = [p["numericId"] for p in answer.body["products"]]
        assert all(isinstance(i, str) for i in ids)
        assert [int(i) for i in ids] == sorted(int(i) for i in ids)

    @pytest.mark.parametrize("as_string", [True, False])
    async def test_numeric_id_filter_takes_numbers_or_strings(self, v1: Wix, as_string: bool):
        """$gt on numericId compares numerically whether the bound is a string or a number."""
        everything = await v1.query_products(query={"paging": {"limit": 100}})
        third = int(everything.body["products"][2]["numericId"])
        bound = str(third) if as_string else third
        answer = await v1.query_products(query={"filter": {"numericId": {"$gt": bound}},
                                                "sort": [{"numericId": "asc"}]})
        assert [p["id"] for p in answer.body["products"]] == [
            p["id"] for p in everything.body["products"][3:]]

    async def test_numeric_id_crawl_reads_every_product_exactly_once(self, wix: Connect):
        """The documented crawl (sort numericId asc, filter $gt last) ends with an empty page."""
        w = await wix(generate_products=450, seed=3)
        seen: list[str] = []
        last = None
        pages = 0
        while True:
            query: dict = {"sort": [{"numericId": "asc"}], "paging": {"limit": 100}}
            if last is not None:
                query["filter"] = {"numericId": {"$gt": last}}
            answer = await w.query_products(query=query, includeHiddenProducts=True,
                                            includeVariants=True)
            pages += 1
            products = answer.body["products"]
            if not products:
                break
            seen += [p["id"] for p in products]
            last = products[-1]["numericId"]
        assert len(seen) == len(set(seen)) == 450
        assert pages == 6


class TestHiddenProducts:
    async def test_hidden_products_are_absent_and_not_counted_without_the_flag(self, v1: Wix):
        """Without includeHiddenProducts the hidden product is silently left out."""
        answer = await v1.query_products(query={"paging": {"limit": 100}})
        visible = {r["product_id"] for r in v1.rows(hidden=False)}
        assert "Prototype Hoodie" not in _names(answer)
        assert answer.body["totalResults"] == len(visible)
        assert {p["id"] for p in answer.body["products"]} == visible

    async def test_hidden_products_are_present_with_the_flag(self, v1: Wix):
        """includeHiddenProducts: true returns and counts them."""
        answer = await v1.query_products(query={"paging": {"limit": 100}},
                                         includeHiddenProducts=True)
        everything = {r["product_id"] for r in v1.emu.state()}
        assert "Prototype Hoodie" in _names(answer)
        assert answer.body["totalResults"] == len(everything)

    async def test_visible_false_filter_finds_nothing_without_the_flag(self, v1: Wix):
        """visible = true is ANDed into every filter unless hidden products are asked for."""
        hidden = await v1.query_products(query={"filter": {"visible": False}})
        flagged = await v1.query_products(query={"filter": {"visible": False}},
                                          includeHiddenProducts=True)
        assert hidden.body["totalResults"] == 0
        assert _names(flagged) == ["Prototype Hoodie"]

    async def test_total_results_counts_filter_and_visibility(self, v1: Wix):
        """totalResults counts what the filter matches among visible products, not the page."""
        answer = await v1.query_products(query={"filter": {"name": {"$contains": "hoodie"}},
                                                "paging": {"limit": 1}})
        assert len(answer.body["products"]) == 1
        assert answer.body["totalResults"] == 2


class TestProductShape:
    async def _product(self, v1: Wix, name: str, **body) -> dict:
        answer = await v1.query_products(query={"filter": {"name": name}}, **body)
        (product,) = answer.body["products"]
        return product

    async def test_option_less_product_has_one_nil_guid_variant_and_sku_on_product(self, v1: Wix):
        """manageVariants false: SKU on the product, variant id 0000…, empty variant SKU."""
        mug = await self._product(v1, "Classic Mug", includeVariants=True)
        assert mug["manageVariants"] is False
        assert mug["sku"] == "MUG-CLASSIC"
        (variant,) = mug["variants"]
        assert variant["id"] == NIL_GUID
        assert variant["choices"] == {}
        assert variant["variant"]["sku"] == ""
        assert variant["stock"] == {"trackQuantity": True, "quantity": 40, "inStock": True}

    async def test_products_with_options_keep_skus_on_variants(self, v1: Wix):
        """manageVariants true: empty product SKU, one SKU per variant, choices by name."""
        shirt = await self._product(v1, "Classic Logo T-shirt", includeVariants=True)
        assert shirt["manageVariants"] is True
        assert shirt["sku"] == ""
        assert len(shirt["variants"]) == 12
        by_sku = {v["variant"]["sku"]: v for v in shirt["variants"]}
        assert by_sku["TSHIRT-RED-M"]["choices"] == {"Size": "M", "Colour": "Red"}
        assert by_sku["TSHIRT-BLUE-M"]["stock"] == {"trackQuantity": True, "quantity": 0,
                                                   "inStock": False}
        assert shirt["stock"]["inventoryStatus"] == "PARTIALLY_OUT_OF_STOCK"

    async def test_variants_only_come_with_include_variants(self, v1: Wix):
        """Without includeVariants no product carries variants."""
        shirt = await self._product(v1, "Classic Logo T-shirt")
        assert "variants" not in shirt
        assert shirt["inventoryItemId"]

    async def test_untracked_variants_omit_quantity_in_catalog_reads(self, v1: Wix):
        """An untracked product's variant stock is inStock only."""
        stickers = await self._product(v1, "Sticker Pack", includeVariants=True)
        assert stickers["stock"]["trackInventory"] is False
        assert stickers["variants"][0]["stock"] == {"trackQuantity": False, "inStock": True}

    async def test_get_product_answers_by_id_and_404s_unknown_ids(self, v1: Wix):
        """Get Product returns {"product"}; an unknown id is 404 NOT_FOUND."""
        mug = v1.row(sku="MUG-CLASSIC")
        found = await v1.get(f"/stores/v1/products/{mug['product_id']}")
        missing = await v1.get("/stores/v1/products/3f2504e0-4f89-41d3-9a0c-0305e82c3301")
        assert found.body["product"]["name"] == "Classic Mug"
        assert missing.status == 404
        assert missing.body["details"]["applicationError"]["code"] == "NOT_FOUND"


class TestStoreVariants:
    async def test_store_variants_are_flat_with_hyphenated_ids(self, v1: Wix):
        """Query Store Variants: id = productId-variantId, SKU and stock per variant."""
        answer = await v1.post("/stores-reader/v1/variants/query",
                               {"query": {"filter": {"sku": "TSHIRT-RED-M"}}})
        (variant,) = answer.body["variants"]
        assert variant["id"] == f"{variant['productId']}-{variant['variantId']}"
        assert variant["managedVariant"] is True
        assert variant["stock"] == {"trackQuantity": True, "quantity": 20, "inStock": True}
        assert answer.body["metadata"]["total"] == 1

    async def test_store_variants_page_by_cursor_and_refuse_cursor_with_filter(self, v1: Wix):
        """Cursor follow-ups carry the filter; repeating it next to the cursor is a 400."""
        request = {"query": {"filter": {"sku": {"$startsWith": "TSHIRT"}},
                             "cursorPaging": {"limit": 20}}}
        first = await v1.post("/stores-reader/v1/variants/query", request)
        cursor = first.body["metadata"]["cursors"]["next"]
        second = await v1.post("/stores-reader/v1/variants/query",
                               {"query": {"cursorPaging": {"cursor": cursor}}})
        skus = [v["sku"] for v in first.body["variants"] + second.body["variants"]]
        assert len(first.body["variants"]) == 20
        assert len(skus) == first.body["metadata"]["total"] == 30
        assert all(s.startswith("TSHIRT") for s in skus)
        assert second.body["metadata"]["cursors"]["next"] is None
        clash = await v1.post("/stores-reader/v1/variants/query", {"query": {
            "filter": {"sku": "CAP-BLACK"}, "cursorPaging": {"cursor": cursor}}})
        assert clash.status == 400

    async def test_store_variants_leave_hidden_products_out(self, v1: Wix):
        """Store Variants is a catalog view without a hidden-products flag."""
        answer = await v1.post("/stores-reader/v1/variants/query",
                               {"query": {"paging": {"limit": 100}}})
        skus = {v["sku"] for v in answer.body["variants"]}
        assert answer.body["metadata"]["total"] == len(v1.rows(hidden=False))
        assert "HOODIE-PROTO-OLIVE-M" not in skus

    async def test_get_store_variant_by_hyphenated_id(self, v1: Wix):
        """Get Store Variant takes the productId-variantId id."""
        cap = v1.row(sku="CAP-NAVY")
        answer = await v1.get(f"/stores-reader/v1/variants/{cap['product_id']}-{cap['variant_id']}")
        assert answer.body["variant"]["sku"] == "CAP-NAVY"


def test_filter_strings_round_trip_through_json():
    """The helper encodes filters to strings the way a client must."""
    assert json.loads(json.dumps({"numericId": {"$gt": "1"}})) == {"numericId": {"$gt": "1"}}
