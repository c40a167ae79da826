"""What the soak benchmark (``bench_soak.py``) runs syncd against: three emulated stores, a
feed server, the sources and the daemon's configuration.

- ``Emulator``: one ``syncd emulator`` process per store (a single-site emulator runs
  shoppers; the multi-site one does not), restartable on the same port. ``snapshot`` and
  ``restore`` carry the store's stock across a restart: the emulator regenerates the same
  catalog from its seed (same ids), and the stock it had is written back through the Wix
  route a store owner's dashboard would use (Inventory V2 Update Inventory Variants).
- ``FeedServer``: an aiohttp server on loopback serving one CSV file, with the ETag and
  Last-Modified answers of ``web.FileResponse``, so the daemon's conditional GETs work.
- ``write_config``: the daemon's YAML (incremental cycles, the console with a token, JSON
  logs).

Nothing here is collected by pytest.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import signal
import sys
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from aiohttp import web

KEY = "soak-api-key-0000000001"
"""The emulators' API key (long enough for syncd's secret redaction)."""
CONSOLE_TOKEN = "soak-console-token-0000000001"
TIMEOUT = aiohttp.ClientTimeout(total=60)


@dataclass(frozen=True, slots=True)
class Store:
    """One emulated store and the daemon's site for it."""

    name: str
    catalog: str
    seed: int
    feed: bool = False

    @property
    def site_id(self) -> str:
        return f"soak-{self.name}"


STORES = (Store("v1", "v1", 11), Store("v3", "v3", 12), Store("feed", "v1", 13, feed=True))


@dataclass
class Emulator:
    """A ``syncd emulator`` child process serving ``store``."""

    store: Store
    products: int
    orders_per_s: float
    work: Path
    port: int = 0
    url: str = ""
    proc: asyncio.subprocess.Process | None = None
    starts: int = 0
    log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log = self.work / f"emulator-{self.store.name}.log"

    async def start(self, *, timeout_s: float = 120.0) -> None:
        """Start on ``port`` (0: a free one, remembered for the restart) and wait for its URL."""
        self.starts += 1
        marker = f"--- start {self.starts}\n"
        with self.log.open("a", encoding="utf-8") as out:
            out.write(marker)
            out.flush()
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "syncd", "emulator", "--host", "127.0.0.1",
                "--port", str(self.port), "--catalog", self.store.catalog,
                "--site-id", self.store.site_id, "--api-key", KEY,
                "--generate-products", str(self.products), "--seed", str(self.store.seed),
                "--rate-limit", "200/60", "--shopper-rate", str(self.orders_per_s),
                stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=out,
                start_new_session=True)
        async with asyncio.timeout(timeout_s):
            while True:
                text = (await asyncio.to_thread(self.log.read_text, encoding="utf-8")
                        ).rsplit(marker, 1)[-1]
                for line in text.splitlines():
                    if line.startswith("syncd emulator:") and " on http://" in line:
                        self.url = line.rsplit(" ", 1)[1].strip()
                        self.port = int(self.url.rsplit(":", 1)[1])
                        return
                if self.proc.returncode is not None:
                    raise RuntimeError(f"emulator {self.store.name} exited "
                                       f"({self.proc.returncode}); see {self.log}")
                await asyncio.sleep(0.2)

    async def kill(self) -> None:
        """SIGKILL (a crash, not a shutdown) and reap."""
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()

    async def stop(self) -> None:
        await stop_process(self.proc, grace_s=10.0)

    async def admin(self, http: aiohttp.ClientSession, path: str,
                    body: Mapping[str, Any] | None = None) -> Any:
        url = f"{self.url}/__emulator/{path}"
        if body is None:
            async with http.get(url, timeout=TIMEOUT) as r:
                r.raise_for_status()
                return await r.json()
        async with http.post(url, json=body, timeout=TIMEOUT) as r:
            r.raise_for_status()
            return await r.json()

    async def state(self, http: aiohttp.ClientSession) -> list[dict[str, Any]]:
        return list(await self.admin(http, "state"))

    async def set_orders(self, http: aiohttp.ClientSession, per_s: float) -> None:
        await self.admin(http, "faults", {"shopper_rate": per_s})

    async def restore(self, http: aiohttp.ClientSession,
                      snapshot: Iterable[Mapping[str, Any]],
                      recent: Iterable[tuple[str, str]] = ()) -> int:
        """Write the stock of ``snapshot`` back (V1 stores); returns the calls made.

        The regenerated store's change timestamps are the generator's, not the ones the
        killed emulator had stamped; ``recent`` (product id, variant id) are written
        again even where their stock came back right, so that the writes the daemon made
        just before the kill show up in its next incremental read as they would at Wix.
        """
        now = {(r["product_id"], r["variant_id"]): r for r in await self.state(http)}
        touch = set(recent)
        by_product: dict[str, list[dict[str, Any]]] = {}
        for row in snapshot:
            key = (row["product_id"], row["variant_id"])
            current = now.get(key)
            if current is None or not row["tracked"] or (
                    current["quantity"] == row["quantity"] and key not in touch):
                continue
            by_product.setdefault(str(row["product_id"]), []).append(
                {"variantId": row["variant_id"], "quantity": row["quantity"]})
        headers = {"Authorization": KEY, "wix-site-id": self.store.site_id}
        for product_id, variants in by_product.items():
            body = {"inventoryItem": {"trackQuantity": True, "variants": variants}}
            url = f"{self.url}/stores/v2/inventoryItems/product/{product_id}"
            while True:
                async with http.patch(url, json=body, headers=headers, timeout=TIMEOUT) as r:
                    if r.status != 429:
                        r.raise_for_status()
                        break
                await asyncio.sleep(5.0)  # the store's 200/minute, shared with the daemon
        return len(by_product)


def desired_stock(rows: Iterable[Mapping[str, Any]], *, drift: int = 5) -> dict[str, int]:
    """Source quantities: every tracked variant with a store-unique SKU, the first ``drift``
    moved up by 3 so that the first cycle has writes to make."""
    rows = list(rows)
    counts = Counter(r["sku"] for r in rows)
    stock = {str(r["sku"]): int(r["quantity"]) for r in rows
             if r["tracked"] and r["sku"] and counts[r["sku"]] == 1
             and r["quantity"] is not None}
    for sku in list(stock)[:drift]:
        stock[sku] += 3
    return stock


def write_source(path: Path, stock: Mapping[str, int]) -> None:
    """The CSV, written whole then renamed in, so neither the watcher nor the feed server
    ever sees half of it."""
    partial = path.with_suffix(".part")
    partial.write_text("sku,quantity\n" + "".join(f"{s},{q}\n" for s, q in stock.items()),
                       encoding="utf-8")
    partial.replace(path)


def edit_rows(stock: dict[str, int], rng: random.Random, rows: int = 3) -> list[str]:
    """Change ``rows`` quantities (a supplier's small update); returns their SKUs."""
    skus = rng.sample(sorted(stock), min(rows, len(stock)))
    for sku in skus:
        stock[sku] = max(0, stock[sku] + rng.choice((-4, -2, 5, 9, 20)))
    return skus


def differences(rows: Iterable[Mapping[str, Any]], stock: Mapping[str, int]) -> list[str]:
    """SKUs of the source whose store quantity is not the source's (or not tracked)."""
    store = {str(r["sku"]): r for r in rows if r["sku"]}
    wrong = []
    for sku, quantity in stock.items():
        row = store.get(sku)
        if row is None or not row["tracked"] or row["quantity"] != quantity:
            wrong.append(sku)
    return wrong


class FeedServer:
    """Serves ``path`` at ``/feed.csv`` on a free loopback port."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.requests = 0
        app = web.Application()
        app.router.add_get("/feed.csv", self._serve)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        self.url = ""

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        self.requests += 1
        return web.FileResponse(self.path, headers={"Content-Type": "text/csv"})

    async def start(self) -> None:
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}/feed.csv"

    async def stop(self) -> None:
        await self._runner.cleanup()


def write_config(work: Path, emulators: Mapping[str, Emulator], feed_url: str, *,
                 interval_s: float, resync_s: float, feed_poll_s: float) -> Path:
    """``work/syncd.yaml``: the three sites, incremental cycles, the console with a token."""
    (work / "key").write_text(KEY, encoding="utf-8")
    (work / "console.token").write_text(CONSOLE_TOKEN, encoding="utf-8")
    sites = []
    for name, emulator in emulators.items():
        store = emulator.store
        source: dict[str, Any] = {"path": f"sources/{name}.csv"}
        if store.feed:
            source = {"path": feed_url, "feed": {"poll_seconds": feed_poll_s,
                                                 "timeout_seconds": 20}}
        sites.append({"name": name, "site_id": store.site_id, "api_key_file": "key",
                      "base_url": emulator.url, "catalog": store.catalog, "source": source})
    config = {
        "sites": sites,
        "policy": {"max_changed_fraction": 1.0, "max_zeroed": 100000},
        "schedule": {"interval_seconds": interval_s, "jitter_seconds": 1,
                     "incremental": True, "resync_seconds": resync_s,
                     "watch_source": True, "settle_seconds": 1},
        "http": {"listen": "127.0.0.1:0", "ready_max_age_seconds": 900},
        "console": {"token_file": "console.token"},
        "state_dir": "state",
        "shutdown_grace_seconds": 10,
        "log": {"level": "info", "format": "json"},
    }
    path = work / "syncd.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


async def stop_process(proc: asyncio.subprocess.Process | None, *, grace_s: float) -> None:
    """SIGTERM, ``grace_s`` to exit, then SIGKILL; always reaped."""
    if proc is None or proc.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGTERM)
    try:
        async with asyncio.timeout(grace_s):
            await proc.wait()
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
