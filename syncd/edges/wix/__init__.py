"""Talking to Wix: the HTTP client, the rate limit, the store walkers and stock writes.

The sync cycle uses ``open_store`` (or ``V1Store``/``V3Store``) through the ``StoreAdapter``
protocol, and ``WixClient`` for one site's connection:

    async with aiohttp.ClientSession() as session:
        client = WixClient(api_key=key, site_id=site, settings=WixSettings(), session=session)
        store = await open_store(client)            # asks Wix which catalog, once
        snapshot = await store.walk()                # StoreSnapshot of every variant
        outcomes = await store.write([StockWrite(variant, quantity=7)])

Unconfirmed behaviour. The API contract (``wix-api.md``) was written without access to a
live store and marks many behaviours **unconfirmed**. The rule of this package: never rely
on an unconfirmed point when a reading exists that is correct under every plausible answer;
where such a reading costs calls, the benchmark table says how many
(``tests/bench/harness.py: safe_reading_calls``); where none exists, detect the symptom and
say so in the log. The emulator can play the other answer of each point
(``syncd emulator --wix-variants all``, ``syncd_emulator.variants``), and the test matrix
runs full syncs under each. In practice:

- the numericId crawl sends its bound as a JSON number (as Wix's pagination doc shows);
- a crawl ends only on an empty page or where its two ends meet, never on a short page or
  on ``totalResults`` (which may count visible products only) (``crawl_v1``);
- concurrent offset windows stay at or below offset 1,900; a refused offset shrinks them
  and the crawl goes on by numericId;
- missing ``variants[].stock`` is read by one Query Inventory crawl when that is cheaper
  than one Get Inventory Variants per product (``stock_v1``);
- any 4xx from a walk makes the next cycle ask for the catalog again (Wix documents 428
  for the wrong catalog; 400, 403 or 404 are as plausible);
- a Bulk Update rejected as a whole is split in halves down to the failing item, which
  gets the outcome its own error code says (``writes_v3``);
- bulk results are matched to writes by item id, not by ``originalIndex`` or position;
- answers of the read endpoints are decoded straight into typed structs of the fields
  syncd reads (``answers``): other fields are skipped undecoded, numbers may be numeric
  strings, and a read field of the wrong type fails the call naming its path;
- a field left out because it holds its default reads as that default: a tracked
  quantity as 0, ``inStock`` as false (``parse_v1``, ``walk_v3``); products whose
  ``visible`` is left out are counted and logged (``wix_walk_visibility_unknown``);
- a V1 product with options but ``manageVariants: false`` carries one SKU for all its
  variants; a row naming it sets all of them (``StoreVariant.shared_sku``);
- a 404 while reading a product's inventory is checked with one query before the product
  is taken as deleted (a wrong route answers 404 too);
- the request budget may be per API key: sites configured with
  ``rate_limit.shared_key: true`` and the same key share one limiter (``LimiterPool``);
  each client keeps the shape of the last 429 it met (``WixClient.last_429``), and a
  ``KeyWatch`` per key sees two of its sites refused together (``rate_budget``);
- a 403 from Get Catalog Version says that ``catalog: v1`` (or ``v3``) skips the call.
"""

from syncd.edges.config.client import DEFAULT_BASE_URL, CatalogChoice, WalkSettings, WixSettings
from syncd.edges.wix.adapter import (
    StockWrite,
    StoreAdapter,
    V1Store,
    V3Store,
    WriteOutcome,
    open_store,
)
from syncd.edges.wix.catalog import CatalogDetector
from syncd.edges.wix.client import CallCounter, RequestEvent, WixClient, map_error
from syncd.edges.wix.ratelimit import LimiterPool

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
