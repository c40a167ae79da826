"""Catalog detection: asked once per site, forced when configured, clear when no store."""

from __future__ import annotations

import pytest
from aioresponses import aioresponses

from support.wix import BASE
from syncd.base.errors import WixClientError
from syncd.base.model import Catalog
from syncd.edges.wix import CatalogDetector, V1Store, V3Store, open_store

VERSION = BASE + "/stores/v3/provision/version"


@pytest.mark.parametrize(("answer", "catalog", "adapter"),
                         [("V1_CATALOG", Catalog.V1, V1Store), ("V3_CATALOG", Catalog.V3, V3Store)])
async def test_catalog_version_picks_the_adapter(client, answer, catalog, adapter):
    with aioresponses() as mock:
        mock.get(VERSION, payload={"catalogVersion": answer})
        store = await open_store(client)
    assert store.catalog is catalog
    assert isinstance(store, adapter)


async def test_the_version_is_asked_once_and_cached(client):
    detector = CatalogDetector(client)
    with aioresponses() as mock:
        mock.get(VERSION, payload={"catalogVersion": "V3_CATALOG"}, repeat=True)
        assert await detector.detect() is Catalog.V3
        assert await detector.detect() is Catalog.V3
        assert client.calls.total == 1
        assert await detector.detect(refresh=True) is Catalog.V3
        assert client.calls.total == 2


async def test_a_forced_catalog_costs_no_call(client):
    with aioresponses():
        store = await open_store(client, catalog="v1")
    assert isinstance(store, V1Store)
    assert client.calls.total == 0


async def test_a_site_without_stores_gives_a_clear_error(client):
    with aioresponses() as mock:
        mock.get(VERSION, payload={"catalogVersion": "STORES_NOT_INSTALLED"})
        with pytest.raises(WixClientError, match="no Wix Stores app installed") as caught:
            await open_store(client)
    assert caught.value.code == "STORES_NOT_INSTALLED"


def test_an_unknown_forced_catalog_is_refused(client):
    with pytest.raises(ValueError, match="auto, v1 or v3"):
        CatalogDetector(client, force="v2")  # type: ignore[arg-type]


async def test_a_forbidden_catalog_version_says_that_a_forced_catalog_skips_it(client):
    from syncd.base.errors import WixAuthError

    with aioresponses() as mock:
        mock.get(VERSION, status=403, payload={"message": "missing permission"})
        with pytest.raises(WixAuthError, match="set 'catalog: v1'") as caught:
            await open_store(client)
    assert caught.value.status == 403
