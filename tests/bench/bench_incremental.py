"""Benchmark: a daemon-like run of incremental cycles against a live emulated store.

Starts ``python -m syncd emulator`` (its own process) with a generated store and the
simulated shopper, makes a source equal to the store (plus a little drift), and runs one
site's cycles the way the daemon does with ``schedule.incremental``: a full walk at
start-up, an incremental cycle every ``--cycle-s``, a full resync every ``--resync-s``.
It prints, per cycle, its kind, calls (reads and writes), query pages, changed units and
planned writes, checks each incremental cycle against the budget

    V3: calls  <= 2 + ceil(changed items / 1000)
    V1: query pages <= 2 + ceil(changed products / 100)

and at the end stops the shopper, runs one incremental cycle (which writes the last sales
back) and one full cycle, which must plan nothing: the store equals the source. It also
reports the 429s the emulator answered and whether the canary switched the site to full
walks (and after how many cycles). Not collected by pytest.

Time can be compressed by ``--compress F``: cycles, resyncs, the run, the rate window
(200 per 60/F s) and the overlap window of incremental reads (30/F s) shrink F times and
the shopper sells F times faster, so each cycle sees the same number of changes as the
real-time run would. What does not shrink is the CPU of a full walk and of planning the
whole source, and V1's one write call per product: compress V1 less, or a start-up backlog
of writes and sales outruns the compressed budget. The reference runs (10 simulated
minutes, cycles every 15 simulated seconds, a resync every 4 simulated minutes):

    .venv/bin/python tests/bench/bench_incremental.py --catalog v3 --compress 5
    .venv/bin/python tests/bench/bench_incremental.py --catalog v1 --compress 2 --drift 0
    .venv/bin/python tests/bench/bench_incremental.py --catalog v1 --compress 2 --drift 0 \\
        --minutes 3 --stock-timestamps ignore

V1 pages without stock (each changed product re-read by id; the overlap window shows
syncd's own writes again, at the stamps already read):

    .venv/bin/python tests/bench/bench_incremental.py --catalog v1 --compress 5 \\
        --minutes 1.5 --drift 0.052 --wix-variants no_variant_stock

Real time (10 minutes each): ``--compress 1``.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import logging
import math
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from syncd.cycle.results import CycleKind
from syncd.cycle.sync import SiteSync
from syncd.edges.config import Settings

KEY = "bench-api-key-0001"
SITE = "bench-site"


@dataclass
class CycleRow:
    number: int
    asked: CycleKind
    ran: CycleKind
    calls: int
    pages: int
    changed: int
    planned: int
    written: int
    wall_s: float
    budget: int | None
    retries: int = 0
    """V3 items re-read and re-written after a stale revision (a sale raced the write)."""
    budget_unit: str = "calls"
    """What ``budget`` counts: all calls (V3) or query pages (V1)."""

    @property
    def within(self) -> bool:
        return self.budget is None or self.measured <= self.budget

    @property
    def measured(self) -> int:
        return self.calls if self.budget_unit == "calls" else self.pages


def start_emulator(args: argparse.Namespace, shopper_rate: float, window_s: float
                   ) -> tuple[subprocess.Popen[str], str]:
    command = [
        sys.executable, "-m", "syncd", "emulator", "--catalog", args.catalog,
        "--generate-products", str(args.products), "--seed", str(args.seed),
        "--rate-limit", f"200/{window_s:g}", "--latency-ms", str(args.latency_ms),
        "--shopper-rate", f"{shopper_rate:g}", "--stock-timestamps", args.stock_timestamps,
        *(["--wix-variants", args.wix_variants] if args.wix_variants else []),
        "--host", "127.0.0.1", "--port", "0", "--api-key", KEY, "--site-id", SITE,
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                               text=True)
    assert process.stdout is not None
    for line in process.stdout:
        if "http://" in line:
            return process, line[line.index("http://"):].split()[0].rstrip(".,")
    process.kill()
    raise SystemExit("the emulator exited before printing its URL")


def admin(url: str, path: str, body: dict[str, Any] | None = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{url}/__emulator/{path}", data=data,
                                     method="GET" if data is None else "POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=120) as answer:
        return json.load(answer)


def write_source(rows: list[dict[str, Any]], path: Path, drift: float) -> dict[str, int]:
    """Every tracked variant with a unique SKU at its current quantity; ``drift`` of them
    moved by a few units so the start-up cycle has writes to make."""
    counts = Counter(str(r["sku"]) for r in rows if r["sku"])
    desired: dict[str, int] = {}
    step = max(1, round(1 / drift)) if drift > 0 else 0
    for n, row in enumerate(rows):
        sku = str(row["sku"])
        if counts.get(sku) != 1 or not row["tracked"] or row["inventory_item_id"] is None:
            continue
        quantity = int(row["quantity"] or 0)
        desired[sku] = quantity + 5 if step and n % step == 0 else quantity
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["sku", "quantity"])
        writer.writerows(desired.items())
    return desired


def write_config(directory: Path, url: str, window_s: float, overlap_s: float) -> Path:
    config = directory / "syncd.yaml"
    config.write_text(
        "sites:\n"
        "  - name: bench\n"
        f"    site_id: {SITE}\n"
        "    api_key_env: SYNCD_BENCH_API_KEY\n"
        f"    base_url: {url}\n"
        f"    rate_limit: {{requests: 200, per_seconds: {window_s:g}}}\n"
        f"    change_overlap_seconds: {overlap_s:g}\n"
        "source:\n  path: stock.csv\n"
        "state_dir: state\n"
        "policy: {max_changed_fraction: 1.0}\n",
        encoding="utf-8")
    return config


def query_pages(sync: SiteSync) -> int:
    by = sync.client.calls.by_endpoint
    return by["v1.products.query"] + by["v3.inventory_items.query"]


async def one_cycle(sync: SiteSync, number: int, kind: CycleKind, catalog: str
                    ) -> CycleRow:
    pages_before = query_pages(sync)
    started = time.monotonic()
    result = await sync.sync(kind=kind)
    ran = result.planned.kind
    informer = sync.informer
    assert informer is not None
    changed = informer.last.changed if ran is CycleKind.INCREMENTAL else 0
    pages = query_pages(sync) - pages_before
    budget = None
    unit = "calls"
    if ran is CycleKind.INCREMENTAL:
        if catalog == "v3":
            budget = 2 + math.ceil(changed / 1000)
        else:
            budget, unit = 2 + math.ceil(changed / 100), "pages"
    applied = result.applied
    return CycleRow(number, kind, ran, result.api_calls, pages, changed,
                    len(result.planned.plan.changes), applied.written if applied else 0,
                    time.monotonic() - started, budget,
                    applied.conflict_retries if applied else 0, unit)


async def run(args: argparse.Namespace, url: str, directory: Path, real_cycle_s: float,
              real_resync_s: float, real_run_s: float) -> tuple[list[CycleRow], str]:
    settings = Settings.from_file(directory / "syncd.yaml",
                                  env={"SYNCD_BENCH_API_KEY": KEY})
    rows: list[CycleRow] = []
    async with SiteSync(settings.sites[0], state_dir=settings.state_dir,
                        incremental=True) as sync:
        started = time.monotonic()
        last_full = -math.inf
        number = 0
        while time.monotonic() - started < real_run_s:
            cycle_started = time.monotonic()
            kind = (CycleKind.FULL if cycle_started - last_full >= real_resync_s
                    else CycleKind.INCREMENTAL)
            row = await one_cycle(sync, number, kind, args.catalog)
            if row.ran is CycleKind.FULL:
                last_full = cycle_started
            rows.append(row)
            print_row(row, sync)
            number += 1
            await asyncio.sleep(max(0.0, cycle_started + real_cycle_s - time.monotonic()))
        admin(url, "faults", {"shopper_rate": 0})
        rows.append(await one_cycle(sync, number, CycleKind.INCREMENTAL, args.catalog))
        print_row(rows[-1], sync)
        final = await one_cycle(sync, number + 1, CycleKind.FULL, args.catalog)
        rows.append(final)
        print_row(final, sync)
        fallback = sync.informer.fallback if sync.informer else None
        print(f"incremental fallback: {fallback or 'none'}")
    return rows, str(fallback or "")


def print_row(row: CycleRow, sync: SiteSync) -> None:
    budget = "" if row.budget is None else f"<= {row.budget} {row.budget_unit}"
    flag = "" if row.within else "  OVER BUDGET"
    print(f"{row.number:>4} {row.asked.value:>11} -> {row.ran.value:<11} calls={row.calls:<4}"
          f" pages={row.pages:<4} changed={row.changed:<5} planned={row.planned:<4}"
          f" written={row.written:<4} stale={row.retries:<2} {row.wall_s:6.2f}s {budget}{flag}",
          flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--catalog", choices=("v1", "v3"), default="v3")
    parser.add_argument("--products", type=int, default=12_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--minutes", type=float, default=10.0, help="simulated run length")
    parser.add_argument("--cycle-s", type=float, default=15.0, help="simulated cycle interval")
    parser.add_argument("--resync-s", type=float, default=240.0,
                        help="simulated full-resync interval (the daemon's default is 3600; "
                             "shorter here so a run sees several)")
    parser.add_argument("--shopper", type=float, default=1.0, help="simulated orders/s")
    parser.add_argument("--compress", type=float, default=5.0,
                        help="time compression factor (1 = real time)")
    parser.add_argument("--latency-ms", type=int, default=0)
    parser.add_argument("--drift", type=float, default=0.01,
                        help="fraction of source rows that differ at start-up")
    parser.add_argument("--stock-timestamps", choices=("move", "ignore"), default="move")
    parser.add_argument("--wix-variants", default="",
                        help="unconfirmed Wix behaviours the emulator plays (its --wix-variants), "
                             "e.g. no_variant_stock: V1 pages without stock, re-read by id")
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    f = args.compress
    window_s = 60.0 / f
    process, url = start_emulator(args, args.shopper * f, window_s)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            directory = Path(tmp)
            time.sleep(3.0 / f)  # a live store: the shopper has sold before syncd starts
            desired = write_source(admin(url, "state"), directory / "stock.csv", args.drift)
            write_config(directory, url, window_s, 30.0 / f)
            print(f"catalog={args.catalog} products={args.products} source_rows={len(desired)} "
                  f"stock_timestamps={args.stock_timestamps} compress={f:g} "
                  f"cycle={args.cycle_s:g}s resync={args.resync_s:g}s run={args.minutes:g}min "
                  f"shopper={args.shopper:g}/s rate=200/60s (simulated)")
            rows, fallback = asyncio.run(run(
                args, url, directory, args.cycle_s / f, args.resync_s / f,
                args.minutes * 60 / f))
        stats = admin(url, "stats")
    finally:
        process.terminate()
        process.wait(timeout=10)
    incremental = [r for r in rows if r.ran is CycleKind.INCREMENTAL]
    asked_incremental = [r for r in rows if r.asked is CycleKind.INCREMENTAL]
    fulls = [r for r in rows if r.ran is CycleKind.FULL]
    switched = next((n for n, r in enumerate(asked_incremental, 1)
                     if r.ran is CycleKind.FULL), None)
    worst = max((r.measured - (r.budget or 0) for r in incremental), default=0)
    print(f"cycles={len(rows)} incremental={len(incremental)} full={len(fulls)} "
          f"over_budget={sum(not r.within for r in incremental)} worst_margin={worst:+d}")
    if incremental:
        calls = sorted(r.calls for r in incremental)
        pages = sorted(r.pages for r in incremental)
        print(f"incremental calls: median={calls[len(calls) // 2]} max={calls[-1]}; "
              f"query pages: median={pages[len(pages) // 2]} max={pages[-1]}; "
              f"changed: max={max(r.changed for r in incremental)}")
    print(f"full walk wall s: {', '.join(f'{r.wall_s:.1f}' for r in fulls)}")
    if switched is not None:
        overall = rows.index(asked_incremental[switched - 1])
        print(f"switched to full walks ({fallback}): scheduled incremental cycle #{switched} "
              f"(cycle {overall} overall) already walked the store")
    resyncs = fulls[1:-1]
    print(f"full cycles after start-up during the run: {len(resyncs)}, planned at each "
          f"(sales since the previous cycle): {[r.planned for r in resyncs]}")
    print(f"final full cycle planned {rows[-1].planned} changes "
          f"(0 = store equals source); emulator 429s={stats['rate_limited']} "
          f"shopper sales={stats['shopper_sales']} requests={stats['requests_total']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
