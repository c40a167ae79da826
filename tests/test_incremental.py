"""Incremental cycles end to end against the emulator: cost, convergence, the canary."""

from __future__ import annotations

import asyncio
import math
import random
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from support.sync import API_KEY, drifted_source, load_site, unique_skus, write_config
from syncd.cycle.incremental import Fallback
from syncd.cycle.metrics import Metrics
from syncd.cycle.results import CycleKind
from syncd.cycle.sync import SiteSync
from syncd_emulator.variants import WixVariants


async def _site_sync(tmp_path: Path, emu, source: Path, metrics: Metrics | None = None
                     ) -> SiteSync:
    config = write_config(tmp_path, url=emu.url, source=source, rate_limit=(100_000, 1.0))
    settings, site = load_site(config)
    return SiteSync(site, state_dir=settings.state_dir, metrics=metrics, incremental=True)


def _sell(emu, orders: int, seed: int = 5) -> None:
    rng = random.Random(seed)
    for _ in range(orders):
        assert emu.store.sell_one(rng)


def _converged(emu, desired: dict[str, int]) -> bool:
    state = emu.state()
    unique = unique_skus(state)
    return all(row["quantity"] == desired[str(row["sku"])] for row in state
               if str(row["sku"]) in desired and str(row["sku"]) in unique)


async def test_v3_incremental_cycle_reads_and_writes_only_what_was_sold(emulator, tmp_path):
    emu = await emulator(catalog="v3", generate_products=300, seed=4, rate_limit=None,
                         api_key=API_KEY)
    source = tmp_path / "stock.csv"
    desired = drifted_source(emu.state(), source, drift=0.1)
    # A live store: something sold before syncd started, so its newest timestamp is recent
    # (on a store where nothing ever changed, the first read of changes reads it all).
    _sell(emu, 3, seed=1)
    async with await _site_sync(tmp_path, emu, source) as sync:
        first = await sync.sync(kind=CycleKind.INCREMENTAL)  # no baseline yet: a full walk
        assert first.planned.kind is CycleKind.FULL
        assert _converged(emu, desired)
        _sell(emu, 25)
        calls = emu.stats()["requests_total"]
        result = await sync.sync(kind=CycleKind.INCREMENTAL)
        spent = emu.stats()["requests_total"] - calls
    assert result.planned.kind is CycleKind.INCREMENTAL
    assert sync.informer is not None and sync.informer.fallback is None
    changed = sync.informer.last.changed
    assert 1 <= changed <= 25 + first.applied.written  # sold items, and our own writes
    assert spent <= 2 + math.ceil(changed / 1000)
    assert len(result.planned.plan.changes) >= 1  # the sold units go back
    assert _converged(emu, desired)


async def test_v1_incremental_cycle_reads_only_the_changed_products_pages(emulator, tmp_path):
    emu = await emulator(catalog="v1", generate_products=400, seed=6, rate_limit=None,
                         api_key=API_KEY)
    source = tmp_path / "stock.csv"
    desired = drifted_source(emu.state(), source, drift=0.05)
    _sell(emu, 3, seed=1)
    async with await _site_sync(tmp_path, emu, source) as sync:
        first = await sync.sync()
        _sell(emu, 30)
        before = _product_pages(emu)
        result = await sync.sync(kind=CycleKind.INCREMENTAL)
        pages = _product_pages(emu) - before
    assert result.planned.kind is CycleKind.INCREMENTAL
    assert sync.informer is not None
    assert first.applied is not None
    written_products = sum(1 for a in first.applied.products if a.written)
    # Sold products, and the products of our own writes (the overlap window re-reads those
    # sold before the first walk, but their unchanged state is not counted).
    assert 1 <= sync.informer.last.changed <= 30 + written_products
    assert pages <= 2 + math.ceil(sync.informer.last.changed / 100)
    assert _converged(emu, desired)


async def test_v3_canary_falls_back_to_full_walks_when_writes_do_not_move_updated_date(
        emulator, tmp_path):
    emu = await emulator(catalog="v3", generate_products=200, seed=9, rate_limit=None,
                         api_key=API_KEY, stock_timestamps="ignore")
    metrics = Metrics()
    source = tmp_path / "stock.csv"
    desired = drifted_source(emu.state(), source, drift=0.2)
    async with await _site_sync(tmp_path, emu, source, metrics) as sync:
        first = await sync.sync()
        assert first.applied is not None and first.applied.written > 0
        _sell(emu, 10)
        second = await sync.sync(kind=CycleKind.INCREMENTAL)
    assert sync.informer is not None
    assert sync.informer.fallback is Fallback.CANARY
    assert second.planned.kind is CycleKind.FULL  # the same cycle walked the store instead
    assert _converged(emu, desired)
    assert _fallback_metric(metrics) == {("shop", "canary_missed"): 1.0}


async def test_v1_canary_falls_back_to_full_walks_when_writes_do_not_move_last_updated(
        emulator, tmp_path):
    emu = await emulator(catalog="v1", generate_products=200, seed=2, rate_limit=None,
                         api_key=API_KEY, stock_timestamps="ignore")
    source = tmp_path / "stock.csv"
    desired = drifted_source(emu.state(), source, drift=0.2)
    async with await _site_sync(tmp_path, emu, source) as sync:
        await sync.sync()
        _sell(emu, 10)
        second = await sync.sync(kind=CycleKind.INCREMENTAL)
        third = await sync.sync(kind=CycleKind.INCREMENTAL)
    assert sync.informer is not None and sync.informer.fallback is Fallback.CANARY
    assert second.planned.kind is CycleKind.FULL
    assert third.planned.kind is CycleKind.FULL
    assert _converged(emu, desired)


async def test_moving_timestamps_keep_the_canary_quiet_over_many_cycles(emulator, tmp_path):
    emu = await emulator(catalog="v1", generate_products=150, seed=3, rate_limit=None,
                         api_key=API_KEY)
    source = tmp_path / "stock.csv"
    desired = drifted_source(emu.state(), source, drift=0.2)
    _sell(emu, 3, seed=1)
    async with await _site_sync(tmp_path, emu, source) as sync:
        await sync.sync()
        kinds = []
        for round_ in range(4):
            _sell(emu, 8, seed=round_)
            kinds.append((await sync.sync(kind=CycleKind.INCREMENTAL)).planned.kind)
    assert kinds == [CycleKind.INCREMENTAL] * 4
    assert sync.informer is not None and sync.informer.fallback is None
    assert _converged(emu, desired)


async def test_full_resync_finds_sales_the_incremental_reads_missed(emulator, tmp_path):
    # Nothing to write, so the canary is never armed; only the resync can notice.
    emu = await emulator(catalog="v3", generate_products=150, seed=12, rate_limit=None,
                         api_key=API_KEY, stock_timestamps="ignore")
    source = tmp_path / "stock.csv"
    # One sale that does move its timestamp, so the baseline has a recent one to use.
    emu.store.stock_moves_timestamps = True
    _sell(emu, 1)
    emu.store.stock_moves_timestamps = False
    drifted_source(emu.state(), source, drift=0.0)
    async with await _site_sync(tmp_path, emu, source) as sync:
        await sync.sync()
        assert sync.informer is not None and sync.informer.ready
        _sell(emu, 12, seed=8)
        quiet = await sync.sync(kind=CycleKind.INCREMENTAL)
        assert quiet.planned.kind is CycleKind.INCREMENTAL
        assert quiet.planned.plan.changes == ()  # the sales are invisible to it
        resync = await sync.sync(kind=CycleKind.FULL)
    assert sync.informer.fallback is Fallback.RESYNC
    assert len(resync.planned.plan.changes) >= 1  # and the full walk puts them back


async def test_full_resync_of_a_well_stamped_store_keeps_incremental_reads(emulator, tmp_path):
    emu = await emulator(catalog="v3", generate_products=150, seed=13, rate_limit=None,
                         api_key=API_KEY)
    source = tmp_path / "stock.csv"
    desired = drifted_source(emu.state(), source, drift=0.1)
    async with await _site_sync(tmp_path, emu, source) as sync:
        await sync.sync()
        _sell(emu, 5)
        await sync.sync(kind=CycleKind.INCREMENTAL)
        _sell(emu, 5, seed=9)
        await sync.sync(kind=CycleKind.FULL)
        _sell(emu, 5, seed=10)
        last = await sync.sync(kind=CycleKind.INCREMENTAL)
    assert sync.informer is not None and sync.informer.fallback is None
    assert last.planned.kind is CycleKind.INCREMENTAL
    assert _converged(emu, desired)


def _product_pages(emu) -> int:
    requests = emu.stats()["requests"]
    return sum(n for name, n in requests.items() if "products/query" in name)


def _fallback_metric(metrics: Metrics) -> dict[tuple[str, str], float]:
    found = {}
    for family in text_string_to_metric_families(metrics.exposition().decode()):
        if family.name == "syncd_incremental_fallback":
            for sample in family.samples:
                found[(sample.labels["site"], sample.labels["reason"])] = sample.value
    return found


async def test_v1_sale_read_while_reads_lag_is_read_again_and_synced(emulator, tmp_path):
    # Reads that lag writes show a sold product's new lastUpdated with its stock from before
    # the sale. The overlap window's next read of it must fetch its stock again, though the
    # stamp has not moved since, or the sale stays invisible until the next full walk.
    emu = await emulator(catalog="v1", generate_products=120, seed=34, rate_limit=None,
                         api_key=API_KEY,
                         variants=WixVariants(no_variant_stock=True, read_lag=True),
                         read_lag_s=1.0)
    source = tmp_path / "stock.csv"
    desired = drifted_source(emu.state(), source, drift=0.0)
    config = write_config(tmp_path, url=emu.url, source=source, rate_limit=(100_000, 1.0),
                          policy={"write_mode": "absolute"})
    settings, site = load_site(config)
    async with SiteSync(site, state_dir=settings.state_dir, incremental=True) as sync:
        await sync.sync()
        await sync.sync(kind=CycleKind.INCREMENTAL)
        _sell(emu, 1, seed=2)
        await asyncio.sleep(0.01)
        _sell(emu, 1, seed=3)  # a newer stamp, so the first sale's is not the newest
        # Reads the stock before the sales (unless the machine is so slow that a second
        # passed since them: then this cycle syncs them, and the next has nothing to do).
        lagged = await sync.sync(kind=CycleKind.INCREMENTAL)
        await asyncio.sleep(1.1)
        caught_up = await sync.sync(kind=CycleKind.INCREMENTAL)
    assert caught_up.planned.kind is CycleKind.INCREMENTAL
    assert len(lagged.planned.plan.changes) + len(caught_up.planned.plan.changes) == 2
    assert _converged(emu, desired)
