"""Talking to Wix: the HTTP client, the rate limit, the store walkers and stock writes.

The sync cycle uses ``open_store`` (or ``V1Store``/``V3Store``) through the ``StoreAdapter``
protocol, and ``WixClient`` for one site's connection:

    async with aiohttp.ClientSession() as session:
        client = WixClient(api_key=key, site_id=site, settings=WixSettings(), session=session)
        store = await open_store(client)            # asks Wix which catalog, once
        snapshot = await store.walk()                # StoreSnapshot of every variant
        outcomes = await store.write([StockWrite(variant, quantity=7)])
"""

from syncd.config.client import DEFAULT_BASE_URL, CatalogChoice, WalkSettings, WixSettings
from syncd.wix.adapter import (
    StockWrite,
    StoreAdapter,
    V1Store,
    V3Store,
    WriteOutcome,
    open_store,
)
from syncd.wix.catalog import CatalogDetector
from syncd.wix.http import CallCounter, RequestEvent, WixClient, map_error
from syncd.wix.ratelimit import LimiterPool

__all__ = [
    "DEFAULT_BASE_URL",
    "CallCounter",
    "CatalogChoice",
    "CatalogDetector",
    "LimiterPool",
    "RequestEvent",
    "StockWrite",
    "StoreAdapter",
    "V1Store",
    "V3Store",
    "WalkSettings",
    "WixClient",
    "WixSettings",
    "WriteOutcome",
    "map_error",
    "open_store",
]
