"""Benchmark: walk a large emulated store and compare the calls made with the minimum.

Starts ``python -m syncd emulator`` in a subprocess (so client and server do not share an
event loop or a core), walks the store once per catalog, and prints calls used, the minimum
the contract allows (V1: ceil(P/100) pages + 1 version call, one page more when P is a
multiple of 100 since a crawl may not end on a short page; V3: ceil(I/1000) + 1), variants
read and wall time. Not collected by pytest. Example:

    .venv/bin/python tests/bench/bench_walk.py --products 12000 --seed 7
    .venv/bin/python tests/bench/bench_walk.py --products 12000 --latency-ms 300 --catalogs v1
    .venv/bin/python tests/bench/bench_walk.py --products 12000 --latency-ms 300 --catalogs v3 \
        --v3-segments 1,16

Segmented V3 walks are sized from the previous walk, so a segment count above 1 walks once
untimed, resets the emulator and times the second walk. Keep ``--rate-limit off`` (the
default) for those: the client's own budget still counts the untimed walk's calls.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass

import structlog

from syncd.edges.config import WalkSettings, WixSettings
from syncd.edges.wix import WixClient, open_store

KEY = "bench-key-0001"
SITE = "bench-site"


@dataclass(frozen=True, slots=True)
class Result:
    label: str
    calls: int
    minimum: int
    variants: int
    wall_s: float
    rate_limited: int


def start_emulator(catalog: str, args: argparse.Namespace) -> tuple[subprocess.Popen[str], str]:
    command = [
        sys.executable, "-m", "syncd", "emulator", "--catalog", catalog,
        "--generate-products", str(args.products), "--seed", str(args.seed),
        "--rate-limit", args.rate_limit, "--latency-ms", str(args.latency_ms),
        "--host", "127.0.0.1", "--port", "0", "--api-key", KEY, "--site-id", SITE,
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                               text=True)
    assert process.stdout is not None
    for line in process.stdout:
        if "http://" in line:
            url = line[line.index("http://"):].split()[0].rstrip(".,")
            return process, url
    process.kill()
    raise SystemExit("the emulator exited before printing its URL")


def emulator_stats(url: str) -> dict[str, object]:
    with urllib.request.urlopen(f"{url}/__emulator/stats", timeout=10) as answer:
        stats: dict[str, object] = json.load(answer)
    return stats


async def walk(url: str, *, parallel_pages: bool, rate_limit: int,
               segments: int = 1) -> tuple[int, float]:
    settings = WixSettings(base_url=url, rate_limit=rate_limit)
    async with WixClient(api_key=KEY, site_id=SITE, settings=settings) as client:
        store = await open_store(client, settings=WalkSettings(parallel_pages=parallel_pages,
                                                               v3_product_visibility=False,
                                                               v3_segments=segments))
        if segments > 1:
            # Segments are sized from the previous walk: walk once untimed to learn the size.
            await store.walk()
            await asyncio.to_thread(urllib.request.urlopen,
                                    urllib.request.Request(f"{url}/__emulator/reset",
                                                           method="POST", data=b"{}"))
        started = time.perf_counter()
        snapshot = await store.walk()
        return len(snapshot.variants), time.perf_counter() - started


def bench(catalog: str, args: argparse.Namespace, *, parallel_pages: bool,
          segments: int = 1) -> Result:
    process, url = start_emulator(catalog, args)
    try:
        budget = 10**9 if args.rate_limit == "off" else int(args.rate_limit.split("/")[0])
        variants, wall_s = asyncio.run(walk(url, parallel_pages=parallel_pages,
                                            rate_limit=budget, segments=segments))
        stats = emulator_stats(url)
    finally:
        process.terminate()
        process.wait(timeout=10)
    calls = int(stats["requests_total"])  # type: ignore[call-overload]
    if catalog == "v1":
        minimum = math.ceil(args.products / 100) + 1
        label = f"v1 {'offset windows' if parallel_pages else 'sequential crawl'}"
    else:
        minimum = math.ceil(variants / 1000) + 1
        label = "v3 one cursor" if segments <= 1 else f"v3 {segments} segments"
    return Result(label, calls, minimum, variants, wall_s,
                  int(stats["rate_limited"]))  # type: ignore[call-overload]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--products", type=int, default=12_000, help="products to generate")
    parser.add_argument("--seed", type=int, default=7, help="generator seed")
    parser.add_argument("--latency-ms", type=int, default=0,
                        help="emulated latency per request (50%%..150%% of it)")
    parser.add_argument("--rate-limit", default="off",
                        help="emulator rate limit N/S, or off (the client uses the same N)")
    parser.add_argument("--catalogs", default="v1,v3", help="comma-separated: v1, v3")
    parser.add_argument("--v3-segments", default="1,16",
                        help="V3: comma-separated segment counts to time (1 = one cursor)")
    parser.add_argument("--sequential-too", action="store_true",
                        help="V1: also time the strictly sequential numericId crawl")
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    results = []
    for catalog in args.catalogs.split(","):
        if catalog == "v3":
            for segments in (int(n) for n in args.v3_segments.split(",")):
                results.append(bench(catalog, args, parallel_pages=True, segments=segments))
            continue
        results.append(bench(catalog, args, parallel_pages=True))
        if catalog == "v1" and args.sequential_too:
            results.append(bench(catalog, args, parallel_pages=False))
    print(f"products={args.products} seed={args.seed} latency_ms={args.latency_ms} "
          f"rate_limit={args.rate_limit}")
    print(f"{'walk':<22}{'calls':>7}{'minimum':>9}{'variants':>10}{'wall s':>9}{'429s':>6}")
    for r in results:
        print(f"{r.label:<22}{r.calls:>7}{r.minimum:>9}{r.variants:>10}{r.wall_s:>9.2f}"
              f"{r.rate_limited:>6}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
