"""Benchmark: how long a Catalog V1 product is exposed between its read and its write.

V1 writes carry no revision, so a sale made after syncd's walk read a product and before
syncd wrote it is overwritten by the absolute level (see tests/faults/test_live_shopper.py).
This measures that window per written product, on the server side: from the moment the
emulator served the Query Products page holding the product to the moment it applied the
product's Update Inventory Variants call.

The emulator runs in this process with a recording middleware (this process does nothing
else), syncd runs as ``syncd sync`` in a subprocess. Not collected by pytest. Run:

    .venv/bin/python tests/bench/bench_window.py
    .venv/bin/python tests/bench/bench_window.py --products 1000 --drift 0.05 \\
        --rate-limit 200/60 --latency-ms 300
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web

if __package__ in (None, ""):  # run as a file: make ``tests.bench`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from syncd_emulator import EmulatorConfig, build_app, parse_rate_limit
from syncd_emulator.context import EMULATOR
from tests.bench import harness

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Recorder:
    """When each product was first served by Query Products, and when it was written."""

    def __init__(self) -> None:
        self.read_at: dict[str, float] = {}
        self.written_at: dict[str, float] = {}

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        response = await handler(request)
        now = time.monotonic()
        if response.status != 200 or not isinstance(response, web.Response):
            return response
        if request.method == "POST" and request.path.endswith("/v1/products/query"):
            assert response.body is not None and isinstance(response.body, bytes)
            for product in json.loads(response.body).get("products", []):
                self.read_at.setdefault(product["id"], now)
        elif request.method == "PATCH" and "/v2/inventoryItems/product/" in request.path:
            self.written_at[request.match_info["productId"]] = now
        return response

    def windows_s(self) -> list[float]:
        return sorted(t - self.read_at[p] for p, t in self.written_at.items()
                      if p in self.read_at)


async def measure(products: int, drift: float, rate_limit: str, latency_ms: int,
                  seed: int) -> str:
    """One sync on a fresh store; a line describing the windows of the written products."""
    limit = parse_rate_limit(rate_limit)
    config = EmulatorConfig(catalog="v1", site_id=harness.SITE, api_key=harness.KEY,
                            generate_products=products, seed=seed, rate_limit=limit,
                            latency_ms=latency_ms)
    app = build_app(config)
    recorder = Recorder()
    # Appended after the emulator's own gate: times are those of the handler, i.e. after
    # the emulated latency, when the read is served and the write applied.
    app.middlewares.append(recorder.middleware)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        url = f"http://{host}:{port}"
        rows = app_state(app)
        source = harness.drifted_source(rows, drift=drift, seed=seed)
        with tempfile.TemporaryDirectory(prefix="syncd-window-") as tmp:
            csv = Path(tmp) / "stock.csv"
            harness.write_csv(csv, source.desired)
            syncd_config = harness.write_config(Path(tmp), url=url, limit=limit, source=csv)
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "syncd", "sync", "--config", str(syncd_config),
                "--force", "--output", "json", stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
                env={**os.environ, harness.KEY_ENV: harness.KEY})
            await process.wait()
    finally:
        await runner.cleanup()
    windows = recorder.windows_s()
    if not windows:
        return f"v1 {products:,} products, drift {drift:.0%}: no product written"
    p95 = windows[min(len(windows) - 1, int(0.95 * len(windows)))]
    return (f"v1 {products:,} products, drift {drift:.0%}, limit {rate_limit}, latency "
            f"{latency_ms} ms: {len(windows):,} products written; read->write window min "
            f"{windows[0]:.2f} s, median {statistics.median(windows):.2f} s, p95 {p95:.2f} s, "
            f"max {windows[-1]:.2f} s")


def app_state(app: web.Application) -> list[harness.Row]:
    """The store's state rows, straight from the application (same as /__emulator/state)."""
    return app[EMULATOR].store.state_rows()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--products", type=int, default=1000)
    parser.add_argument("--drift", type=float, action="append",
                        help="fraction of variants changed (repeatable; default 0.05 and 1.0)")
    parser.add_argument("--rate-limit", default="200/6",
                        help="N/S for both sides (default 200/6)")
    parser.add_argument("--latency-ms", type=int, default=0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    for drift in args.drift or [0.05, 1.0]:
        print(asyncio.run(measure(args.products, drift, args.rate_limit, args.latency_ms,
                                  args.seed)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
