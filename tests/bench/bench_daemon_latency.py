"""Benchmark of the daemon's fast lane: how long an edited source row takes to reach the store.

Not a test (pytest does not collect bench_*.py). Run:

    .venv/bin/python tests/bench/bench_daemon_latency.py                  # settle 2 s (default)
    .venv/bin/python tests/bench/bench_daemon_latency.py --settle 0.5 --edits 10 --products 2000

A ``syncd run`` process is started against an emulated V1 store (served in this process
on 127.0.0.1, Wix's rate limit on) with a source naming every tracked variant. After the
first full cycle, one row is edited at a time and the time from the file's write to the
new quantity appearing in the emulator is measured. The latency is the settle time (the
file must stay unchanged that long before it is read) plus polling (at most settle/4,
capped at 0.5 s) plus one fast cycle (a targeted read and one write).

Target: a single edited row reaches the store within 3 s with the default settle of 2 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import yaml

from syncd_emulator import EmulatorConfig, serve


async def bench(*, settle_s: float, edits: int, products: int) -> list[tuple[float, int]]:
    async with serve(EmulatorConfig(generate_products=products)) as emu:
        rows = emu.state()
        counts = Counter(r["sku"] for r in rows)
        stock = {r["sku"]: int(r["quantity"]) for r in rows
                 if r["tracked"] and r["sku"] and counts[r["sku"]] == 1}
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            source = work / "stock.csv"
            write_source(source, stock)
            (work / "key").write_text(emu.config.api_key)
            (work / "syncd.yaml").write_text(yaml.safe_dump({
                "sites": [{"name": "bench", "site_id": emu.config.site_id,
                           "api_key_file": "key", "base_url": emu.url, "catalog": "v1"}],
                "source": {"path": "stock.csv"},
                "schedule": {"interval_seconds": 3600, "jitter_seconds": 0,
                             "settle_seconds": settle_s},
                "http": {"listen": "127.0.0.1:0"},
                "log": {"format": "json", "level": "warning"},
            }))
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "syncd", "run", "--config", str(work / "syncd.yaml"),
                cwd=work, stderr=asyncio.subprocess.DEVNULL)
            try:
                await wait_for_first_cycle(emu)
                return [await one_edit(emu, source, stock, sku)
                        for sku in list(stock)[:edits]]
            finally:
                proc.terminate()
                await proc.wait()


def write_source(path: Path, stock: dict[str, int]) -> None:
    lines = ["sku,quantity", *(f"{sku},{q}" for sku, q in stock.items())]
    path.write_text("\n".join(lines) + "\n")


async def wait_for_first_cycle(emu) -> None:
    # The source equals the store, so the first full cycle writes nothing: wait until its
    # reads stop, then a little longer for it to finish.
    async with asyncio.timeout(300):
        last = -1
        while True:
            total = emu.stats()["requests_total"]
            if total == last and total > 0:
                return
            last = total
            await asyncio.sleep(1.0)


async def one_edit(emu, source: Path, stock: dict[str, int], sku: str) -> tuple[float, int]:
    """Seconds from the edit to the store holding it, and the API calls the daemon made."""
    stock[sku] = (stock[sku] + 7) % 1000
    calls_before = emu.stats()["requests_total"]
    started = time.monotonic()
    write_source(source, stock)
    async with asyncio.timeout(60):
        while quantity(emu, sku) != stock[sku]:  # noqa: ASYNC110 - emulator state
            await asyncio.sleep(0.01)
    latency = time.monotonic() - started
    await asyncio.sleep(0.2)  # let the cycle end before the next edit
    return latency, emu.stats()["requests_total"] - calls_before


def quantity(emu, sku: str) -> int:
    return next(int(r["quantity"]) for r in emu.state() if r["sku"] == sku)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--settle", type=float, default=2.0, help="settle_seconds (default 2)")
    parser.add_argument("--edits", type=int, default=5, help="edits to time (default 5)")
    parser.add_argument("--products", type=int, default=300,
                        help="products in the emulated store (default 300)")
    args = parser.parse_args()
    results = asyncio.run(bench(settle_s=args.settle, edits=args.edits,
                                products=args.products))
    latencies = [latency for latency, _ in results]
    print(json.dumps({
        "settle_s": args.settle, "products": args.products, "edits": len(latencies),
        "latency_s": {"min": round(min(latencies), 3),
                      "median": round(statistics.median(latencies), 3),
                      "max": round(max(latencies), 3)},
        "api_calls_per_edit": [calls for _, calls in results],
        "target_s": 3.0, "met": max(latencies) <= 3.0,
    }))


if __name__ == "__main__":
    main()
