"""Stock writes: request bodies, per-item results, conflicts, and the adapter's grouping."""

from __future__ import annotations

import re

import pytest
from aioresponses import CallbackResult, aioresponses
from yarl import URL

from support.wix import BASE
from syncd.base.errors import WixAuthError, WixConflict
from syncd.base.model import NIL_GUID, StoreVariant
from syncd.edges.wix import StockWrite, V1Store, V3Store
from syncd.edges.wix.writes_v1 import (
    VariantStock,
    set_tracking_seed,
    set_variant_stock_seed,
    update_inventory_variants,
)
from syncd.edges.wix.writes_v3 import ItemStock, bulk_update_inventory_items, update_inventory_item

BULK = BASE + "/stores/v3/bulk/inventory-items/update"


def _sent(mock: aioresponses, method: str, path: str) -> list[dict]:
    return [c.kwargs["json"] for c in mock.requests.get((method, URL(BASE + path)), [])]


def _variant(product: str, variant: str, *, tracked: bool = True, revision: str | None = None,
             item: str | None = None) -> StoreVariant:
    return StoreVariant(product_id=product, variant_id=variant,
                        inventory_item_id=item or f"inv-{product}", sku=f"{product}-{variant}",
                        tracked=tracked, quantity=1, in_stock=True, hidden=False,
                        revision=revision)


class TestV1Writes:
    async def test_update_inventory_variants_always_sends_track_quantity(self, client):
        with aioresponses() as mock:
            mock.patch(BASE + "/stores/v2/inventoryItems/product/p1", payload={}, repeat=True)
            await update_inventory_variants(client, "p1", track_quantity=True, variants=[
                VariantStock("v1", quantity=4), VariantStock("v2", quantity=0)])
            await update_inventory_variants(client, "p1", track_quantity=False, variants=[
                VariantStock("v1", in_stock=False)])
        first, second = _sent(mock, "PATCH", "/stores/v2/inventoryItems/product/p1")
        assert first == {"inventoryItem": {"productId": "p1", "trackQuantity": True, "variants": [
            {"variantId": "v1", "quantity": 4}, {"variantId": "v2", "quantity": 0}]}}
        assert second == {"inventoryItem": {"productId": "p1", "trackQuantity": False,
                                            "variants": [{"variantId": "v1", "inStock": False}]}}

    @pytest.mark.parametrize(
        ("track", "stock"),
        [(True, VariantStock("v", in_stock=True)), (True, VariantStock("v", quantity=100_000)),
         (False, VariantStock("v", quantity=3)), (True, VariantStock("v", quantity=-1))],
    )
    async def test_writes_wix_would_misread_are_refused_before_sending(self, client, track,
                                                                        stock):
        with aioresponses(), pytest.raises(ValueError):
            await update_inventory_variants(client, "p1", track_quantity=track, variants=[stock])
        assert client.calls.total == 0

    async def test_seed_variant_patch_and_tracking_toggle(self, client):
        with aioresponses() as mock:
            mock.patch(BASE + f"/stores/v1/inventoryItems/i1/variant/{NIL_GUID}", payload={},
                       repeat=True)
            mock.patch(BASE + "/stores/v1/inventoryItems/i1", payload={})
            await set_variant_stock_seed(client, "i1", NIL_GUID, quantity=5)
            await set_variant_stock_seed(client, "i1", NIL_GUID, in_stock=True)
            await set_tracking_seed(client, "i1", track=True)
        assert _sent(mock, "PATCH", f"/stores/v1/inventoryItems/i1/variant/{NIL_GUID}") == [
            {"variant": {"quantity": 5}}, {"variant": {"inStock": True}}]
        assert _sent(mock, "PATCH", "/stores/v1/inventoryItems/i1") == [
            {"item": {"trackInventory": True}}]

    async def test_absolute_v1_writes_are_retried_after_a_5xx(self, client, fake_time):
        with aioresponses() as mock:
            mock.patch(BASE + "/stores/v2/inventoryItems/product/p1", status=503)
            mock.patch(BASE + "/stores/v2/inventoryItems/product/p1", payload={})
            await update_inventory_variants(client, "p1", track_quantity=True,
                                            variants=[VariantStock("v1", quantity=1)])
        assert fake_time.sleeps == [0.5]


class TestV3Writes:
    async def test_bulk_update_sends_revisions_and_reads_back_new_ones(self, client):
        def answer(url, **kwargs):
            items = kwargs["json"]["inventoryItems"]
            return CallbackResult(payload={"results": [
                {"itemMetadata": {"id": "a", "originalIndex": 0, "success": True},
                 "item": {"id": "a", "revision": "8", "quantity": 3, "trackQuantity": True}},
                {"itemMetadata": {"id": "b", "originalIndex": 1, "success": False,
                                  "error": {"code": "REVISION_MISMATCH",
                                            "description": "stale"}}},
                {"itemMetadata": {"id": "c", "originalIndex": 2, "success": False, "error": {
                    "code": "REQUESTED_QUANTITY_MUST_BE_NON_NEGATIVE_DECREASING"}}},
            ][: len(items) - 1], "bulkActionMetadata": {"totalSuccesses": 1}})

        writes = [ItemStock("a", "7", quantity=3), ItemStock("b", "2", in_stock=False),
                  ItemStock("c", "1", quantity=0), ItemStock("d", "4", quantity=9)]
        with aioresponses() as mock:
            mock.post(BULK, callback=answer)
            results = await bulk_update_inventory_items(client, writes)
        (body,) = _sent(mock, "POST", "/stores/v3/bulk/inventory-items/update")
        assert body["returnEntity"] is True
        assert body["inventoryItems"][0] == {"inventoryItem": {"id": "a", "revision": "7",
                                                               "quantity": 3}}
        assert body["inventoryItems"][1] == {"inventoryItem": {"id": "b", "revision": "2",
                                                               "inStock": False}}
        assert [(r.item_id, r.success, r.conflict) for r in results] == [
            ("a", True, False), ("b", False, True), ("c", False, False), ("d", False, True)]
        assert results[0].revision == "8" and results[0].quantity == 3
        assert results[2].error_code == "REQUESTED_QUANTITY_MUST_BE_NON_NEGATIVE_DECREASING"
        assert results[3].error_code == "NO_RESULT"

    async def test_bulk_update_splits_into_calls_of_1000(self, client):
        def answer(url, **kwargs):
            items = kwargs["json"]["inventoryItems"]
            return CallbackResult(payload={"results": [
                {"itemMetadata": {"originalIndex": i, "success": True}}
                for i in range(len(items))]})

        writes = [ItemStock(f"i{n}", "1", quantity=1) for n in range(1500)]
        with aioresponses() as mock:
            mock.post(BULK, callback=answer, repeat=True)
            results = await bulk_update_inventory_items(client, writes)
        sizes = [len(b["inventoryItems"]) for b in _sent(mock, "POST",
                                                           "/stores/v3/bulk/inventory-items/update")]
        assert sizes == [1000, 500]
        assert len(results) == 1500 and all(r.success for r in results)

    @pytest.mark.parametrize("status", [409, 428])
    async def test_whole_bulk_rejected_on_revision_marks_every_item_conflicted(self, client,
                                                                               status):
        with aioresponses() as mock:
            mock.post(BULK, status=status, payload={"message": "revision"})
            results = await bulk_update_inventory_items(client, [ItemStock("a", "1", quantity=2)])
        assert [(r.success, r.conflict) for r in results] == [(False, True)]

    async def test_a_whole_bulk_rejection_is_split_down_to_the_one_bad_item(self, client):
        def answer(url, **kwargs):
            ids = [e["inventoryItem"]["id"] for e in kwargs["json"]["inventoryItems"]]
            if "bad" in ids:
                return CallbackResult(status=428, payload={"message": "negative", "details": {
                    "applicationError": {
                        "code": "REQUESTED_QUANTITY_MUST_BE_NON_NEGATIVE_DECREASING"}}})
            return CallbackResult(payload={"results": [
                {"itemMetadata": {"id": i, "success": True}} for i in ids]})

        ids = [f"i{n}" for n in range(7)] + ["bad"] + [f"j{n}" for n in range(8)]
        with aioresponses() as mock:
            mock.post(BULK, callback=answer, repeat=True)
            results = await bulk_update_inventory_items(
                client, [ItemStock(i, "1", quantity=1) for i in ids])
            calls = len(_sent(mock, "POST", "/stores/v3/bulk/inventory-items/update"))
        outcome = {r.item_id: (r.success, r.conflict) for r in results}
        assert outcome.pop("bad") == (False, False), "a permanent code is no conflict"
        assert all(o == (True, False) for o in outcome.values())
        assert calls == 1 + 2 * 4, "log2(16) halvings, two calls each"

    async def test_bulk_results_without_index_and_out_of_order_are_matched_by_id(
        self, client
    ):
        def answer(url, **kwargs):
            ids = [e["inventoryItem"]["id"] for e in kwargs["json"]["inventoryItems"]]
            return CallbackResult(payload={"results": [
                {"itemMetadata": {"id": i, "success": i != "b"},
                 **({"item": {"id": i, "revision": "5", "quantity": 2,
                              "trackQuantity": True}} if i != "b" else {})}
                for i in reversed(ids)]})

        with aioresponses() as mock:
            mock.post(BULK, callback=answer)
            results = await bulk_update_inventory_items(
                client, [ItemStock(i, "1", quantity=2) for i in "abc"])
        assert [(r.item_id, r.success, r.conflict) for r in results] == [
            ("a", True, False), ("b", False, True), ("c", True, False)]

    @pytest.mark.parametrize("status", [409, 428])
    async def test_single_update_with_stale_revision_raises_conflict(self, client, status):
        with aioresponses() as mock:
            mock.patch(BASE + "/stores/v3/inventory-items/a", status=status)
            with pytest.raises(WixConflict):
                await update_inventory_item(client, ItemStock("a", "1", quantity=2))
            assert len(_sent(mock, "PATCH", "/stores/v3/inventory-items/a")) == 1

    async def test_single_update_returns_the_new_revision(self, client):
        with aioresponses() as mock:
            mock.patch(BASE + "/stores/v3/inventory-items/a", payload={"inventoryItem": {
                "id": "a", "revision": "2", "inStock": True, "trackQuantity": False}})
            result = await update_inventory_item(client, ItemStock("a", "1", in_stock=True))
        assert (result.success, result.revision) == (True, "2")
        assert _sent(mock, "PATCH", "/stores/v3/inventory-items/a") == [
            {"inventoryItem": {"id": "a", "revision": "1", "inStock": True}}]

    async def test_a_write_without_revision_is_refused(self, client):
        with pytest.raises(ValueError, match="revision"):
            await bulk_update_inventory_items(client, [ItemStock("a", "", quantity=1)])


class TestAdapterWrites:
    async def test_v1_store_sends_one_call_per_product_and_reports_each_change(self, client):
        changes = [
            StockWrite(_variant("p1", "a"), quantity=1),
            StockWrite(_variant("p2", "x", tracked=False), in_stock=True),
            StockWrite(_variant("p1", "b"), quantity=2),
            StockWrite(_variant("p3", "m"), quantity=3),
            StockWrite(_variant("p3", "n"), in_stock=False),
            StockWrite(_variant("p4", "z"), quantity=4),
        ]
        pattern = re.compile(re.escape(BASE) + r"/stores/v2/inventoryItems/product/(p1|p2)")
        with aioresponses() as mock:
            mock.patch(pattern, payload={}, repeat=True)
            mock.patch(BASE + "/stores/v2/inventoryItems/product/p4", status=404)
            outcomes = await V1Store(client).write(changes)
        assert [o.write for o in outcomes] == changes
        assert [o.success for o in outcomes] == [True, True, True, False, False, False]
        assert "mix" in (outcomes[3].error or "")
        assert "HTTP 404" in (outcomes[5].error or "")
        (p1,) = _sent(mock, "PATCH", "/stores/v2/inventoryItems/product/p1")
        assert [v["variantId"] for v in p1["inventoryItem"]["variants"]] == ["a", "b"]
        assert client.calls.total == 3  # p1, p2, p4; p3 refused locally

    async def test_v1_store_refuses_an_impossible_quantity_before_sending_anything(self, client):
        changes = [StockWrite(_variant("p1", "a"), quantity=1),
                   StockWrite(_variant("p2", "b"), quantity=100_000)]
        with aioresponses(), pytest.raises(ValueError, match="outside"):
            await V1Store(client).write(changes)
        assert client.calls.total == 0

    async def test_v1_store_stops_on_auth_errors(self, client):
        with aioresponses() as mock:
            mock.patch(BASE + "/stores/v2/inventoryItems/product/p1", status=403)
            with pytest.raises(WixAuthError):
                await V1Store(client).write([StockWrite(_variant("p1", "a"), quantity=1)])

    async def test_v3_store_uses_the_revision_read_and_maps_conflicts(self, client):
        changes = [StockWrite(_variant("p", "a", revision="5", item="it-a"), quantity=6),
                   StockWrite(_variant("p", "b", revision="9", item="it-b"), in_stock=False)]

        def answer(url, **kwargs):
            return CallbackResult(payload={"results": [
                {"itemMetadata": {"originalIndex": 0, "success": True},
                 "item": {"id": "it-a", "revision": "6", "quantity": 6}},
                {"itemMetadata": {"originalIndex": 1, "success": False,
                                  "error": {"code": "CONFLICT"}}}]})

        with aioresponses() as mock:
            mock.post(BULK, callback=answer)
            outcomes = await V3Store(client).write(changes)
        (body,) = _sent(mock, "POST", "/stores/v3/bulk/inventory-items/update")
        assert [i["inventoryItem"]["revision"] for i in body["inventoryItems"]] == ["5", "9"]
        assert [(o.success, o.conflict) for o in outcomes] == [(True, False), (False, True)]
        assert outcomes[0].stored is not None and outcomes[0].stored.revision == "6"

    def test_a_change_needs_exactly_one_target_value(self):
        with pytest.raises(ValueError):
            StockWrite(_variant("p", "a"))
        with pytest.raises(ValueError):
            StockWrite(_variant("p", "a"), quantity=1, in_stock=True)
