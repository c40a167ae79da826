"""Writes against the emulator: values land, stale revisions come back as conflicts."""

from __future__ import annotations

import pytest

from syncd.base.errors import WixAuthError, WixClientError, WixConflict
from syncd.edges.config import WalkSettings, WixSettings
from syncd.edges.wix import StockWrite, V1Store, V3Store, WixClient, open_store
from syncd.edges.wix.writes_v1 import set_tracking_seed, set_variant_stock_seed
from syncd.edges.wix.writes_v3 import ItemStock, update_inventory_item
from syncd_emulator import EmulatorConfig, serve

KEY = "emulator-key-0003"
SITE = "write-site"


def _config(catalog: str, **overrides) -> EmulatorConfig:
    values = {"catalog": catalog, "site_id": SITE, "api_key": KEY, "generate_products": 60,
              "seed": 3, "rate_limit": None}
    values.update(overrides)
    return EmulatorConfig(**values)


def _client(url: str, key: str = KEY) -> WixClient:
    return WixClient(api_key=key, site_id=SITE, settings=WixSettings(base_url=url))


def _state(emu, variant) -> dict:
    (row,) = [r for r in emu.state() if r["product_id"] == variant.product_id
              and r["variant_id"] == variant.variant_id
              and r["inventory_item_id"] == variant.inventory_item_id]
    return row


class TestV1:
    async def test_quantities_and_flags_land_one_call_per_product(self):
        async with serve(_config("v1")) as emu, _client(emu.url) as client:
            store = V1Store(client)
            snapshot = await store.walk()
            tracked = [v for v in snapshot.variants if v.tracked][:5]
            untracked = [v for v in snapshot.variants if not v.tracked][:2]
            changes = [StockWrite(v, quantity=40 + n) for n, v in enumerate(tracked)]
            changes += [StockWrite(v, in_stock=not v.in_stock) for v in untracked]
            before = emu.stats()["writes"]["calls"]
            outcomes = await store.write(changes)
            assert all(o.success for o in outcomes)
            products = {c.variant.product_id for c in changes}
            assert emu.stats()["writes"]["calls"] - before == len(products)
            for change in changes:
                row = _state(emu, change.variant)
                if change.quantity is not None:
                    assert row["quantity"] == change.quantity
                else:
                    assert row["in_stock"] is change.in_stock
            # A targeted re-read sees what was written.
            fresh = await store.refresh(product_ids=sorted(products))
            by_key = {(v.product_id, v.variant_id): v for v in fresh.variants}
            for change in changes[:5]:
                key = (change.variant.product_id, change.variant.variant_id)
                assert by_key[key].quantity == change.quantity

    async def test_seed_variant_write_and_tracking_toggle(self):
        async with serve(_config("v1")) as emu, _client(emu.url) as client:
            store = V1Store(client, WalkSettings(refresh_mode="seed"))
            snapshot = await store.walk()
            variant = next(v for v in snapshot.variants if v.tracked)
            await set_variant_stock_seed(client, variant.inventory_item_id, variant.variant_id,
                                         quantity=321)
            assert _state(emu, variant)["quantity"] == 321
            await set_tracking_seed(client, variant.inventory_item_id, track=False)
            (fresh, *_) = [v for v in (await store.refresh(product_ids=[variant.product_id]))
                           .variants if v.variant_id == variant.variant_id]
            assert fresh.tracked is False
            assert _state(emu, variant)["tracked"] is False


class TestV3:
    async def test_bulk_write_returns_new_revisions_and_stale_ones_conflict(self):
        async with serve(_config("v3")) as emu, _client(emu.url) as client:
            store = V3Store(client)
            snapshot = await store.walk()
            targets = [v for v in snapshot.variants if v.tracked][:3]
            first = await store.write([StockWrite(v, quantity=11) for v in targets])
            assert all(o.success and not o.conflict for o in first)
            assert all(o.stored is not None and o.stored.quantity == 11 for o in first)
            assert [int(o.stored.revision) for o in first if o.stored] == [
                int(v.revision or 0) + 1 for v in targets]
            # Writing again from the old read: every item has moved on.
            stale = await store.write([StockWrite(v, quantity=12) for v in targets])
            assert all(not o.success and o.conflict for o in stale)
            assert all(_state(emu, v)["quantity"] == 11 for v in targets)
            # Conflict handling: re-read only those items, re-plan, retry.
            fresh = await store.refresh(item_ids=[v.inventory_item_id for v in targets])
            retried = await store.write([StockWrite(v, quantity=12) for v in fresh.variants])
            assert all(o.success for o in retried)
            assert all(_state(emu, v)["quantity"] == 12 for v in targets)

    @pytest.mark.parametrize("stale_status", [409, 428])
    async def test_single_update_with_a_stale_revision_raises_conflict(self, stale_status):
        async with serve(_config("v3", stale_status=stale_status)) as emu, \
                _client(emu.url) as client:
            item = (await V3Store(client).walk()).variants[0]
            write = ItemStock(item.inventory_item_id, item.revision or "", quantity=5)
            result = await update_inventory_item(client, write)
            assert result.success and result.revision == str(int(item.revision or 0) + 1)
            with pytest.raises(WixConflict) as caught:
                await update_inventory_item(client, write)
            assert caught.value.status == stale_status
            assert _state(emu, item)["quantity"] == 5


class TestSites:
    async def test_site_without_stores_is_a_clear_error(self):
        async with serve(_config("none")) as emu, _client(emu.url) as client:
            with pytest.raises(WixClientError, match="no Wix Stores") as caught:
                await open_store(client)
        assert caught.value.code == "STORES_NOT_INSTALLED"

    async def test_wrong_key_is_an_auth_error_and_not_retried(self):
        async with serve(_config("v1")) as emu, _client(emu.url, key="wrong-key-999") as client:
            with pytest.raises(WixAuthError):
                await V1Store(client).walk()
            # The walk's first round asks for both ends of the store at once; neither is
            # retried.
            assert emu.stats()["requests_total"] == 2

    async def test_forcing_v3_on_a_v1_site_fails_with_the_catalog_mismatch(self):
        async with serve(_config("v1")) as emu, _client(emu.url) as client:
            with pytest.raises(WixConflict) as caught:
                await V3Store(client).walk()
        assert caught.value.status == 428
