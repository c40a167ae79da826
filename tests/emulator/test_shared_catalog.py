"""Many sites on one shared catalog: each site copies only what is written to it."""

from __future__ import annotations

import gc

import aiohttp
import pytest

from syncd_emulator.config import EmulatorConfig
from syncd_emulator.multisite import MultiSiteConfig, MultiSiteEmulator, serve_multisite
from syncd_emulator.store import ItemState, ProductState, VariantState

KEY = EmulatorConfig().api_key


def headers(site: str) -> dict[str, str]:
    return {"Authorization": KEY, "wix-site-id": site}


async def state(session, url, site) -> list[dict]:
    async with session.get(f"{url}/__emulator/state", headers=headers(site)) as r:
        assert r.status == 200
        return await r.json()


def tracked_row(rows: list[dict]) -> dict:
    return next(r for r in rows if r["tracked"] and r["quantity"] is not None
                and r["inventory_item_id"])


async def test_a_v1_write_to_one_site_is_seen_there_and_nowhere_else():
    config = MultiSiteConfig(sites=3, template=EmulatorConfig(generate_products=20))
    async with serve_multisite(config) as running, aiohttp.ClientSession() as session:
        one, two, three = config.site_ids()
        before = await state(session, running.url, one)
        row = tracked_row(before)
        new_quantity = row["quantity"] + 17
        body = {"inventoryItem": {"trackQuantity": True, "variants": [
            {"variantId": row["variant_id"], "quantity": new_quantity}]}}
        path = f"/stores/v2/inventoryItems/product/{row['product_id']}"
        async with session.patch(running.url + path, json=body, headers=headers(two)) as r:
            assert r.status == 200, await r.text()

        def quantity(rows):
            return next(r["quantity"] for r in rows if r["product_id"] == row["product_id"]
                        and r["variant_id"] == row["variant_id"])

        assert quantity(await state(session, running.url, two)) == new_quantity
        assert quantity(await state(session, running.url, one)) == row["quantity"]
        assert quantity(await state(session, running.url, three)) == row["quantity"]
        # Everything else of site two is still the catalog as generated.
        others = [r for r in await state(session, running.url, two)
                  if r["product_id"] != row["product_id"]]
        assert others == [r for r in before if r["product_id"] != row["product_id"]]


async def test_a_v3_write_moves_the_revision_of_one_site_only():
    config = MultiSiteConfig(sites=2, template=EmulatorConfig(generate_products=20,
                                                              catalog="v3"))
    async with serve_multisite(config) as running, aiohttp.ClientSession() as session:
        one, two = config.site_ids()
        row = tracked_row(await state(session, running.url, one))
        item_id = row["inventory_item_id"]
        body = {"inventoryItem": {"revision": row["revision"], "quantity": 4321}}
        path = f"/stores/v3/inventory-items/{item_id}"
        async with session.patch(running.url + path, json=body, headers=headers(one)) as r:
            assert r.status == 200, await r.text()
            written = (await r.json())["inventoryItem"]
        assert written["quantity"] == 4321
        assert written["revision"] == str(int(row["revision"]) + 1)
        seen = {r["inventory_item_id"]: r for r in await state(session, running.url, one)}
        assert (seen[item_id]["quantity"], seen[item_id]["revision"]) == (
            4321, written["revision"])
        other = {r["inventory_item_id"]: r for r in await state(session, running.url, two)}
        assert (other[item_id]["quantity"], other[item_id]["revision"]) == (
            row["quantity"], row["revision"])
        # A second write to the same item (stale revision refused) reads the site's copy.
        async with session.patch(running.url + path, json=body, headers=headers(one)) as r:
            assert r.status != 200


def product_objects() -> int:
    gc.collect()
    return sum(isinstance(o, ProductState) for o in gc.get_objects())


def test_sites_that_were_only_read_share_every_product_object():
    before = product_objects()
    multi = MultiSiteEmulator(MultiSiteConfig(
        sites=200, template=EmulatorConfig(generate_products=30)))
    stores = [multi.site(site_id).store for site_id in multi.config.site_ids()]
    first = stores[0]
    assert all(store.products is first.products for store in stores)
    assert all(store.owned_products == 0 for store in stores)
    # One catalog's worth of products for 200 sites, not 200 catalogs.
    assert product_objects() - before == 30
    assert len({id(p) for store in stores for p in store.products}) == 30


def test_a_written_site_copies_just_the_product_written():
    multi = MultiSiteEmulator(MultiSiteConfig(
        sites=2, template=EmulatorConfig(generate_products=30)))
    one = multi.site("site-0001").store
    two = multi.site("site-0002").store
    shared = list(two.products)
    target = shared[5]
    original = target.variants[0].quantity
    with one.writing():
        product = one.by_id[target.id]
        one.set_variant_stock(product.variants[0], quantity=99, in_stock=None)
    assert one.owned_products == 1
    assert product is not target and product.variants[0] is not target.variants[0]
    assert [p is s for p, s in zip(one.products, shared, strict=True)] == [
        i != 5 for i in range(30)]
    assert one.by_id[target.id] is product  # reads after the write see the copy
    assert product.variants[0].quantity == 99
    assert two.by_id[target.id] is target  # the other site still reads the catalog
    assert target.variants[0].quantity == original
    assert isinstance(product.variants[0], VariantState)


def test_writing_a_shared_product_outside_a_write_request_is_refused():
    multi = MultiSiteEmulator(MultiSiteConfig(
        sites=2, template=EmulatorConfig(generate_products=5)))
    store = multi.site("site-0001").store
    shared = store.products[0]
    with pytest.raises(RuntimeError, match="shared catalog"):
        store.set_variant_stock(shared.variants[0], quantity=1, in_stock=None)


def test_a_reset_drops_one_sites_copies_only():
    multi = MultiSiteEmulator(MultiSiteConfig(
        sites=2, template=EmulatorConfig(generate_products=10, catalog="v3")))
    one = multi.site("site-0001").store
    two = multi.site("site-0002").store
    item_id = next(i.id for i in one.items if i.track)
    for store in (one, two):
        with store.writing():
            store.write_item(store.items_by_id[item_id], quantity=5, in_stock=None)
    assert isinstance(one.items_by_id[item_id], ItemState)
    one.reset()
    assert one.owned_products == 0 and one.items_by_id[item_id].revision == 1
    assert two.items_by_id[item_id].revision == 2
