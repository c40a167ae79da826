"""The emulator's switches for what a stock write may do besides what it says: reads that
lag writes (``read_lag``), a 5xx after the write was applied (``applied_5xx``), and ``{}``
for an entry that was not applied (``ignored_writes``)."""

from __future__ import annotations

import asyncio

from syncd_emulator.variants import WixVariants, applied_5xx_status, ignores_write

from .conftest import Connect, Wix

INCREMENT = "/stores/v2/inventoryItems/increment"


def _update(row: dict, quantity: int) -> tuple[str, dict]:
    return (f"/stores/v2/inventoryItems/product/{row['product_id']}",
            {"inventoryItem": {"productId": row["product_id"], "trackQuantity": True,
                               "variants": [{"variantId": row["variant_id"],
                                             "quantity": quantity}]}})


async def _read_quantity(wix: Wix, row: dict) -> int:
    answer = await wix.post(f"/stores-reader/v2/inventoryItems/{row['inventory_item_id']}"
                            "/getVariants", {"inventoryId": row["inventory_item_id"]})
    assert answer.status == 200
    (variant,) = [v for v in answer.body["inventoryItem"]["variants"]
                  if v["variantId"] == row["variant_id"]]
    return int(variant["quantity"])


class TestReadLag:
    async def test_reads_show_the_value_before_a_write_until_the_lag_has_passed(
        self, wix: Connect
    ):
        v1 = await wix(catalog="v1", variants=WixVariants(read_lag=True), read_lag_s=0.3)
        mug = v1.row(sku="MUG-CLASSIC")  # 40
        path, body = _update(mug, 7)
        assert (await v1.patch(path, body)).status == 200
        await v1.post(INCREMENT, {"incrementData": [
            {"productId": mug["product_id"], "variantId": mug["variant_id"], "incrementBy": 2}]})
        assert v1.row(sku="MUG-CLASSIC")["quantity"] == 9  # the store itself has both
        assert await _read_quantity(v1, mug) == 40
        page = await v1.query_products(includeVariants=True)
        stock = {(p["id"], v["id"]): v["stock"].get("quantity")
                 for p in page.body["products"] for v in p["variants"]}
        assert stock[(mug["product_id"], mug["variant_id"])] == 40
        await asyncio.sleep(0.35)
        assert await _read_quantity(v1, mug) == 9

    async def test_without_the_switch_a_read_sees_the_write_at_once(self, v1: Wix):
        mug = v1.row(sku="MUG-CLASSIC")
        path, body = _update(mug, 7)
        await v1.patch(path, body)
        assert await _read_quantity(v1, mug) == 7


class TestApplied5xx:
    def test_every_third_write_call_gets_500_503_504_in_turn(self):
        assert [applied_5xx_status(n) for n in range(1, 10)] == [
            None, None, 500, None, None, 503, None, None, 504]

    async def test_a_write_answered_5xx_was_applied_all_the_same(self, wix: Connect):
        v1 = await wix(catalog="v1", variants=WixVariants(applied_5xx=True))
        mug = v1.row(sku="MUG-CLASSIC")
        entry = {"productId": mug["product_id"], "variantId": mug["variant_id"],
                 "incrementBy": 1}
        statuses = [(await v1.post(INCREMENT, {"incrementData": [entry]})).status
                    for _ in range(3)]
        path, body = _update(mug, 11)
        statuses += [(await v1.patch(path, body)).status for _ in range(3)]
        assert statuses == [200, 200, 500, 200, 200, 503]
        assert v1.row(sku="MUG-CLASSIC")["quantity"] == 11
        assert v1.emu.stats()["deltas"]["entries"] == 3


class TestIgnoredWrites:
    async def test_an_ignored_entry_is_answered_as_if_written(self, wix: Connect):
        """One product, two variants: the one ``ignores_write`` names keeps its value."""
        v1 = await wix(catalog="v1", variants=WixVariants(ignored_writes=True),
                       generate_products=60, seed=3)
        rows = [r for r in v1.emu.state() if r["tracked"] and r["inventory_item_id"]]
        ignored = next(r for r in rows if ignores_write(r["product_id"], r["variant_id"]))
        written = next(r for r in rows if not ignores_write(r["product_id"], r["variant_id"]))
        for row in (ignored, written):
            path, body = _update(row, int(row["quantity"]) + 5)
            answer = await v1.patch(path, body)
            assert (answer.status, answer.body) == (200, {})
        after = {(r["product_id"], r["variant_id"]): r["quantity"] for r in v1.emu.state()}
        assert after[(ignored["product_id"], ignored["variant_id"])] == ignored["quantity"]
        assert after[(written["product_id"], written["variant_id"])] == written["quantity"] + 5
