"""Benchmark of the Wix emulator: requests per second it serves, per scenario.

Not a test (pytest does not collect bench_*.py). Run:

    .venv/bin/python tests/bench/bench_emulator.py
    .venv/bin/python tests/bench/bench_emulator.py --products 2000 --seconds 5 --concurrency 16

The emulator runs as ``syncd emulator --rate-limit off --generate-products N`` in a
subprocess (one for Catalog V1, one for V3), so its event loop is not shared with the
client; this process drives it with aiohttp from ``--concurrency`` workers for
``--seconds`` per scenario and counts completed 200 answers. Client and server share the
machine, so the figures are a floor for the server alone.

Targets (the emulator must never be the bottleneck of a test or a benchmark):
  - Get Inventory Variants (small answers): >= 1,000 requests/s;
  - Query Products, 100 products with their variants and hidden ones: >= 100 pages/s.
The V3 Query Inventory Items scenario (1,000 items per page) and the cold-cache page rate
(product JSON built from scratch, measured in-process) are informational: the HTTP
scenarios mostly serve cached product JSON, as a crawl of an unchanged store does.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import aiohttp

AUTH = {"Authorization": "demo-key", "wix-site-id": "demo-site"}


@dataclass(frozen=True, slots=True)
class Result:
    """Completed requests of one scenario over its measured duration."""

    name: str
    requests: int
    errors: int
    seconds: float
    target_per_s: float | None

    @property
    def per_s(self) -> float:
        return self.requests / self.seconds


@contextlib.asynccontextmanager
async def emulator(catalog: str, products: int) -> AsyncIterator[str]:
    """Run ``syncd emulator`` in a subprocess; yield its URL; stop it with SIGTERM."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "syncd", "emulator", "--port", "0", "--rate-limit", "off",
        "--catalog", catalog, "--generate-products", str(products), "--seed", "1",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), timeout=60)).decode()
        if " on http://" not in line:
            raise RuntimeError(f"emulator did not start: {line!r}")
        yield line.rsplit(" ", 1)[1].strip()
    finally:
        if process.returncode is None:
            process.terminate()
            await asyncio.wait_for(process.wait(), timeout=10)


async def drive(
    session: aiohttp.ClientSession,
    url: str,
    requests: Iterator[tuple[str, str, Any]],
    *,
    name: str,
    seconds: float,
    concurrency: int,
    target_per_s: float | None,
) -> Result:
    """Send ``requests`` (method, path, body) from ``concurrency`` workers for ``seconds``."""
    done = errors = 0
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds

    async def worker() -> None:
        nonlocal done, errors
        while loop.time() < deadline:
            method, path, body = next(requests)
            async with session.request(method, url + path, json=body, headers=AUTH) as response:
                await response.read()
                if response.status == 200:
                    done += 1
                else:
                    errors += 1

    started = loop.time()
    async with asyncio.TaskGroup() as group:
        for n in range(concurrency):
            group.create_task(worker(), name=f"bench worker {n}")
    return Result(name, done, errors, loop.time() - started, target_per_s)


async def state(session: aiohttp.ClientSession, url: str) -> list[dict[str, Any]]:
    async with session.get(f"{url}/__emulator/state") as response:
        rows: list[dict[str, Any]] = await response.json()
        return rows


async def bench_v1(args: argparse.Namespace) -> list[Result]:
    async with emulator("v1", args.products) as url, _session(args) as session:
        rows = await state(session, url)
        inventory_ids = sorted({r["inventory_item_id"] for r in rows})
        small = ((
            "POST", f"/stores-reader/v2/inventoryItems/{inv}/getVariants", {"inventoryId": inv})
            for inv in itertools.cycle(inventory_ids))
        pages = ((
            "POST", "/stores-reader/v1/products/query",
            {"query": {"paging": {"limit": 100, "offset": offset},
                       "sort": json.dumps([{"numericId": "asc"}])},
             "includeVariants": True, "includeHiddenProducts": True})
            for offset in itertools.cycle(range(0, args.products - 99, 100)))
        crawl = _crawl_requests(await _numeric_ids(session, url))
        return [
            await drive(session, url, small, name="V1 Get Inventory Variants",
                        seconds=args.seconds, concurrency=args.concurrency, target_per_s=1000),
            await drive(session, url, pages, name="V1 Query Products, 100 with variants "
                        "(offset)", seconds=args.seconds, concurrency=args.concurrency,
                        target_per_s=100),
            await drive(session, url, crawl, name="V1 Query Products, 100 with variants "
                        "(numericId crawl)", seconds=args.seconds,
                        concurrency=args.concurrency, target_per_s=100),
        ]


async def _numeric_ids(session: aiohttp.ClientSession, url: str) -> list[str]:
    ids: list[str] = []
    offset = 0
    while True:
        body = {"query": {"paging": {"limit": 100, "offset": offset}},
                "includeHiddenProducts": True}
        async with session.post(f"{url}/stores-reader/v1/products/query", json=body,
                                headers=AUTH) as response:
            page = (await response.json())["products"]
        if not page:
            return ids
        ids += [p["numericId"] for p in page]
        offset += 100


def _crawl_requests(numeric_ids: list[str]) -> Iterator[tuple[str, str, Any]]:
    bounds: list[str | None] = [None, *numeric_ids[99::100]]
    for last in itertools.cycle(bounds):
        query: dict[str, Any] = {"paging": {"limit": 100},
                                 "sort": json.dumps([{"numericId": "asc"}])}
        if last is not None:
            query["filter"] = json.dumps({"numericId": {"$gt": last}})
        yield ("POST", "/stores-reader/v1/products/query",
               {"query": query, "includeVariants": True, "includeHiddenProducts": True})


async def bench_v3(args: argparse.Namespace) -> list[Result]:
    async with emulator("v3", args.products) as url, _session(args) as session:
        pages = itertools.repeat(
            ("POST", "/stores/v3/inventory-items/query",
             {"query": {"cursorPaging": {"limit": 1000}}}))
        return [await drive(session, url, pages, name="V3 Query Inventory Items, 1000 per page",
                            seconds=args.seconds, concurrency=args.concurrency,
                            target_per_s=None)]


def _session(args: argparse.Namespace) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=args.concurrency),
        timeout=aiohttp.ClientTimeout(total=30),
    )


def report(results: list[Result], print_line: Callable[[str], None] = print) -> bool:
    """Print one line per scenario; True when every target was met."""
    ok = True
    for r in results:
        verdict = ""
        if r.target_per_s is not None:
            met = r.per_s >= r.target_per_s and not r.errors
            ok &= met
            verdict = f"  target >= {r.target_per_s:,.0f}/s: {'met' if met else 'MISSED'}"
        print_line(f"{r.name:<55} {r.per_s:>9,.0f}/s  ({r.requests:,} in {r.seconds:.1f} s, "
                   f"{r.errors} errors){verdict}")
    return ok


def cold_pages_per_s(products: int) -> float:
    """Query Products pages/s when no product JSON is cached yet (serialization only, no
    HTTP): the worst case right after a write to every product on the page."""
    from syncd_emulator import Store, generate_store
    from syncd_emulator.views_v1 import product_json

    store = Store(generate_store(products, seed=1), catalog="v1")
    started = time.perf_counter()
    for start in range(0, len(store.products), 100):
        ",".join(product_json(p, include_variants=True) for p in store.products[start:start + 100])
    return len(range(0, len(store.products), 100)) / (time.perf_counter() - started)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--products", type=int, default=2000, help="store size (default 2000)")
    parser.add_argument("--seconds", type=float, default=4.0, help="per scenario (default 4)")
    parser.add_argument("--concurrency", type=int, default=16, help="client workers (default 16)")
    args = parser.parse_args()
    started = time.perf_counter()
    results = asyncio.run(bench_v1(args)) + asyncio.run(bench_v3(args))
    ok = report(results)
    print(f"{'V1 Query Products page, cold cache (in-process, no HTTP)':<55} "
          f"{cold_pages_per_s(args.products):>9,.0f}/s")
    print(f"{args.products} products, concurrency {args.concurrency}, "
          f"{time.perf_counter() - started:.0f} s in all")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
