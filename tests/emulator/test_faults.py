"""Injected faults, the simulated shopper and the introspection routes."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from .conftest import Connect, Wix

VERSION = "/stores/v3/provision/version"


class TestFaults:
    async def test_fail_rate_one_answers_every_request_with_an_empty_5xx(self, wix: Connect):
        """fail_rate 1.0: 500 or 503, empty body, counted as faults; nothing is written."""
        w = await wix(fail_rate=1.0)
        mug = w.row(sku="MUG-CLASSIC")
        answers = [await w.get(VERSION) for _ in range(10)]
        write = await w.post("/stores/v2/inventoryItems/increment", {"incrementData": [
            {"productId": mug["product_id"], "variantId": mug["variant_id"], "incrementBy": 1}]})
        assert {a.status for a in [*answers, write]} <= {500, 503}
        assert all(a.raw == b"" for a in answers)
        assert w.row(sku="MUG-CLASSIC") == mug
        stats = w.emu.stats()
        assert stats["faults_injected"] == 11
        assert stats["writes"]["calls"] == 0

    async def test_drop_rate_one_closes_the_connection_without_an_answer(self, wix: Connect):
        """drop_rate 1.0: the client sees the server disconnect."""
        w = await wix(drop_rate=1.0)
        with pytest.raises(aiohttp.ServerDisconnectedError):
            await w.post("/stores/v1/products/query", {"query": {}})
        stats = w.emu.stats()
        # aiohttp may retry an idempotent request once on a fresh connection; each counts.
        assert stats["faults"]["drop"] == stats["requests_total"] >= 1
        assert stats["statuses"] == {}

    async def test_faults_never_touch_introspection_routes(self, wix: Connect):
        """Stats, state and faults stay reachable while every Wix call fails."""
        w = await wix(fail_rate=1.0, drop_rate=0.5)
        for path in ("/__emulator/stats", "/__emulator/state", "/__emulator/faults"):
            assert (await w.get(path, headers={})).status == 200

    async def test_faults_can_be_changed_at_runtime(self, wix: Connect):
        """POST /__emulator/faults switches failures on and off; bad values are a 400."""
        w = await wix()
        assert (await w.get(VERSION)).status == 200
        answer = await w.post("/__emulator/faults", {"fail_rate": 1.0})
        assert answer.body["fail_rate"] == 1.0
        assert (await w.get(VERSION)).status in (500, 503)
        w.emu.set_faults(fail_rate=0.0)
        assert (await w.get(VERSION)).status == 200
        bad = await w.post("/__emulator/faults", {"fail_rate": 2})
        unknown = await w.post("/__emulator/faults", {"explode": True})
        assert (bad.status, unknown.status) == (400, 400)

    async def test_latency_holds_requests_for_about_the_configured_time(self, wix: Connect):
        """latency_ms delays each request by 50%..150% of it."""
        w = await wix(latency_ms=60)
        loop = asyncio.get_running_loop()
        started = loop.time()
        await w.get(VERSION)
        assert loop.time() - started >= 0.03


class TestShopper:
    async def test_shopper_sells_tracked_stock_in_the_background(self, wix: Connect):
        """shopper_rate N takes units of tracked variants with stock, never going negative."""
        w = await wix(shopper_rate=200)
        before = {(r["product_id"], r["variant_id"]): r for r in w.emu.state()}
        await asyncio.sleep(0.3)
        after = {(r["product_id"], r["variant_id"]): r for r in w.emu.state()}
        sold = sum(before[v]["quantity"] - after[v]["quantity"] for v in before)
        assert sold == w.emu.stats()["shopper_sales"] > 0
        for key, row in after.items():
            assert 0 <= row["quantity"] <= before[key]["quantity"]
            if not row["tracked"]:
                assert row == before[key]

    async def test_shopper_bumps_v3_revisions(self, wix: Connect):
        """On V3 every sale is a write: the item's revision goes up."""
        w = await wix(catalog="v3", shopper_rate=100)
        await asyncio.sleep(0.2)
        revisions = [int(r["revision"]) for r in w.emu.state()]
        assert sum(r - 1 for r in revisions) == w.emu.stats()["shopper_sales"] > 0

    async def test_shopper_can_start_and_stop_at_runtime(self, wix: Connect):
        """Setting shopper_rate wakes the idle shopper; 0 stops it."""
        w = await wix()
        w.emu.set_faults(shopper_rate=200)
        await asyncio.sleep(0.2)
        w.emu.set_faults(shopper_rate=0)
        await asyncio.sleep(0.05)
        sold = w.emu.stats()["shopper_sales"]
        await asyncio.sleep(0.15)
        assert sold > 0
        assert w.emu.stats()["shopper_sales"] == sold


class TestIntrospection:
    async def test_state_lists_every_variant_with_its_stock(self, v1: Wix):
        """GET /__emulator/state matches RunningEmulator.state()."""
        answer = await v1.get("/__emulator/state", headers={})
        assert answer.body == v1.emu.state()
        assert len(answer.body) == v1.emu.store.variant_count
        assert set(answer.body[0]) == {"sku", "product_id", "variant_id", "inventory_item_id",
                                       "tracked", "quantity", "in_stock", "hidden",
                                       "product_name", "revision", "location_id",
                                       "shared_sku"}

    async def test_stats_count_writes_and_variants_written(self, v1: Wix):
        """writes counts successful write calls and the variants they changed."""
        cap = v1.row(sku="CAP-NAVY")
        await v1.patch(f"/stores/v2/inventoryItems/product/{cap['product_id']}", {
            "inventoryItem": {"trackQuantity": True, "variants": [
                {"variantId": cap["variant_id"], "quantity": 1}]}})
        answer = await v1.get("/__emulator/stats", headers={})
        assert answer.body["writes"] == {"calls": 1, "variants": 1}
        assert answer.body["statuses"] == {"200": 1}

    async def test_reset_restores_the_initial_store_and_zeroes_stats(self, v3: Wix):
        """POST /__emulator/reset undoes writes and counters, keeps the fault settings."""
        initial = v3.emu.state()
        mug = v3.row(sku="MUG-CLASSIC")
        await v3.patch(f"/stores/v3/inventory-items/{mug['inventory_item_id']}",
                       {"inventoryItem": {"revision": "1", "quantity": 1}})
        v3.emu.set_faults(latency_ms=1)
        assert v3.emu.state() != initial
        answer = await v3.post("/__emulator/reset", headers={})
        assert answer.status == 200
        assert v3.emu.state() == initial
        assert v3.emu.stats()["requests_total"] == 0
        assert (await v3.get("/__emulator/faults", headers={})).body["latency_ms"] == 1
