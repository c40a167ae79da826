"""One emulator port, many sites: routed by wix-site-id, each with its own store, key,
budget and faults, and a log of which replica wrote each store."""

from __future__ import annotations

import aiohttp

from syncd_emulator.config import EmulatorConfig
from syncd_emulator.multisite import (
    REPLICA_HEADER,
    MultiSiteConfig,
    MultiSiteEmulator,
    WriteRecord,
    serve_multisite,
)

QUERY = "/stores-reader/v1/products/query"


async def post(session, url, site, key, path=QUERY, body=None, replica=None):
    headers = {"Authorization": key, "wix-site-id": site}
    if replica:
        headers[REPLICA_HEADER] = replica
    async with session.post(url + path, json=body or {"query": {}}, headers=headers) as r:
        return r.status, await r.json(content_type=None)


async def test_each_site_has_its_own_store_key_and_budget():
    config = MultiSiteConfig(sites=3, key_per_site=True, catalog_per_site=True,
                             template=EmulatorConfig(generate_products=5,
                                                     rate_limit=(2, 60.0)))
    async with serve_multisite(config) as running, aiohttp.ClientSession() as session:
        one, two = config.site_ids()[:2]
        status, body = await post(session, running.url, one, "key-site-0001")
        assert status == 200
        names_one = [p["name"] for p in body["products"]]
        status, body = await post(session, running.url, two, "key-site-0002")
        assert status == 200 and [p["name"] for p in body["products"]] != names_one
        assert (await post(session, running.url, two, "key-site-0001"))[0] == 401
        assert (await post(session, running.url, "site-9999", "key-site-0001"))[0] == 403
        # site one's budget of 2/60 s is spent after its second accepted request...
        assert (await post(session, running.url, one, "key-site-0001"))[0] == 200
        assert (await post(session, running.url, one, "key-site-0001"))[0] == 429
        # ...and site three's is untouched
        assert (await post(session, running.url, "site-0003", "key-site-0003"))[0] == 200
        async with session.get(f"{running.url}/__emulator/stats?site={one}") as r:
            assert (await r.json())["rate_limited"] == 1


async def test_writes_are_recorded_with_the_replica_that_sent_them():
    config = MultiSiteConfig(sites=1, template=EmulatorConfig(generate_products=3))
    async with serve_multisite(config) as running, aiohttp.ClientSession() as session:
        site = config.site_ids()[0]
        product = running.site(site).store.products[0]
        path = f"/stores/v2/inventoryItems/product/{product.id}"
        headers = {"Authorization": "demo-key", "wix-site-id": site, REPLICA_HEADER: "r7"}
        async with session.patch(running.url + path, json={"inventoryItem": {
                "trackQuantity": False, "variants": []}}, headers=headers) as r:
            status = r.status
        records = running.emulator.writes[site]
        assert [(w.replica, w.status) for w in records] == [("r7", status)]
        await post(session, running.url, site, "demo-key", replica="r7")
        assert len(running.emulator.writes[site]) == 1  # a query is not a write


def test_overlapping_writes_of_two_replicas_are_found():
    multi = MultiSiteEmulator(MultiSiteConfig(sites=1))
    multi.writes["site-0001"] = [WriteRecord("r1", 0.0, 1.0, 200), WriteRecord("r1", 0.5, 2.0, 200),
                                 WriteRecord("r2", 3.0, 4.0, 200)]
    assert multi.overlapping_writes() == {}
    multi.writes["site-0001"].append(WriteRecord("r2", 1.5, 1.6, 200))
    assert list(multi.overlapping_writes()) == ["site-0001"]
