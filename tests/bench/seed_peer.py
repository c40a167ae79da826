"""The peer syncd is compared with: the sync a user writes from Wix's inventory walkthrough.

Wix's "Using the Inventory API" page (the seed, ``wix-inventory-walkthrough.md``) shows, per
product: get the product (S1) for its inventory item id, get the item (S2) to see whether it
tracks quantities, query the product's variants (S4), get each variant's inventory (S5), and
PATCH a variant whose stock differs (S6). This module does exactly that, plainly: one
aiohttp session, one request at a time, no cleverness. To know which products exist it
pages through Catalog V1 Query Products by offset, 100 per page, as a user would write it:
without ``includeVariants`` (S4 gives the variants) and without ``includeHiddenProducts``
(nothing on the walkthrough mentions it), so hidden products are silently never synced.

The one courtesy over a literal reading: S4 is paged (100 variants per page) so products
with more than 100 variants are covered; the only gap left is the hidden products.

Run alone against a running emulator (rate limit off, or it will take a while)::

    .venv/bin/python tests/bench/seed_peer.py --url http://127.0.0.1:8787 --source stock.csv
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp

PAGE = 100


@dataclass(frozen=True, slots=True)
class PeerResult:
    """What one seed-flow sync cost."""

    calls: int
    writes: int
    products_seen: int
    wall_s: float


class _Api:
    """Sends requests with the two auth headers and counts them."""

    def __init__(self, session: aiohttp.ClientSession, url: str, api_key: str, site_id: str):
        self.session = session
        self.url = url.rstrip("/")
        self.headers = {"Authorization": api_key, "wix-site-id": site_id}
        self.calls = 0

    async def call(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        self.calls += 1
        async with self.session.request(method, self.url + path, json=body,
                                        headers=self.headers) as response:
            response.raise_for_status()
            data: dict[str, Any] = await response.json()
            return data


async def seed_sync(url: str, *, api_key: str, site_id: str,
                    desired: Mapping[str, int]) -> PeerResult:
    """Set every variant whose SKU is in ``desired`` to that quantity, the walkthrough's way."""
    started = time.perf_counter()
    writes = 0
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        api = _Api(session, url, api_key, site_id)
        product_ids = await _list_products(api)
        for product_id in product_ids:
            pid = quote(product_id, safe="")
            product = (await api.call("GET", f"/stores/v1/products/{pid}"))["product"]  # S1
            item_id = quote(product["inventoryItemId"], safe="")
            item = (await api.call("GET", f"/stores/v1/inventoryItems/{item_id}"))["item"]  # S2
            tracked = bool(item.get("trackInventory"))
            for variant in await _variants(api, pid):  # S4
                vid = quote(variant["id"], safe="")
                path = f"/stores/v1/inventoryItems/{item_id}/variant/{vid}"
                stock = (await api.call("GET", path))["variant"]  # S5
                sku = variant.get("variant", {}).get("sku") or product.get("sku") or ""
                want = desired.get(sku)
                if tracked and want is not None and stock.get("quantity") != want:
                    await api.call("PATCH", path, {"variant": {"quantity": want}})  # S6
                    writes += 1
    return PeerResult(api.calls, writes, len(product_ids), time.perf_counter() - started)


async def _list_products(api: _Api) -> list[str]:
    """Query Products by offset, 100 per page, hidden products not asked for."""
    ids: list[str] = []
    offset = 0
    while True:
        body = {"query": {"paging": {"limit": PAGE, "offset": offset}}}
        products = (await api.call("POST", "/stores/v1/products/query", body))["products"]
        ids.extend(p["id"] for p in products)
        if len(products) < PAGE:
            return ids
        offset += PAGE


async def _variants(api: _Api, product_id: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    while True:
        body = {"paging": {"limit": PAGE, "offset": len(found)}} if found else {}
        data = await api.call("POST", f"/stores/v1/products/{product_id}/variants/query", body)
        page = data["variants"]
        found.extend(page)
        if len(page) < PAGE or len(found) >= int(data.get("totalResults", len(found))):
            return found


def read_source(path: Path) -> dict[str, int]:
    """``sku,quantity`` rows (the benchmark's source files)."""
    with path.open(encoding="utf-8", newline="") as f:
        return {row["sku"]: int(row["quantity"]) for row in csv.DictReader(f)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True, help="emulator URL")
    parser.add_argument("--source", type=Path, required=True, help="CSV of sku,quantity")
    parser.add_argument("--api-key", default="demo-key")
    parser.add_argument("--site-id", default="demo-site")
    args = parser.parse_args()
    result = asyncio.run(seed_sync(args.url, api_key=args.api_key, site_id=args.site_id,
                                   desired=read_source(args.source)))
    print(f"calls={result.calls} writes={result.writes} products={result.products_seen} "
          f"wall={result.wall_s:.1f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
