"""Sync cycles that meet one of Wix's unconfirmed behaviours in its less convenient form."""

from __future__ import annotations

import asyncio
import math
from pathlib import Path

import pytest
import yaml
from bench.bench_hidden_walk import hidden_walk

from support.sync import API_KEY, drifted_source, load_site, write_config
from syncd.apply.absolute import apply_plan
from syncd.base.errors import WixNotFound
from syncd.core.journal import Outcome
from syncd.cycle.sync import SiteSync
from syncd.cycle.wiring import open_site_syncs
from syncd.edges.backend.local.journal import file_journal, journal_path, read_journal
from syncd.edges.config import Settings
from syncd.edges.wix import V1Store, V3Store
from syncd_emulator import EmulatorConfig, serve
from syncd_emulator.ratelimit import SlidingWindowLimiter
from syncd_emulator.variants import WixVariants


async def _site_sync(tmp_path: Path, emu, source: Path) -> SiteSync:
    config = write_config(tmp_path, url=emu.url, source=source, rate_limit=(100_000, 1.0))
    settings, site = load_site(config)
    return SiteSync(site, state_dir=settings.state_dir)


async def test_a_stale_item_in_a_bulk_rejected_whole_is_isolated_and_written_again(
    emulator, tmp_path
):
    emu = await emulator(catalog="v3", generate_products=60, seed=6, rate_limit=None,
                         api_key=API_KEY, variants=WixVariants(whole_bulk_errors=True))
    source = tmp_path / "stock.csv"
    desired = drifted_source(emu.state(), source, drift=0.5)
    async with await _site_sync(tmp_path, emu, source) as sync:
        planned = await sync.plan(force=True)
        victim = planned.plan.changes[len(planned.plan.changes) // 2].variant
        item = emu.store.items_by_id[victim.inventory_item_id]
        emu.store.write_item(item, quantity=1, in_stock=None)  # a sale in between
        calls = emu.stats()["requests_total"]
        journal = file_journal(journal_path(sync.state_dir, "shop"), site="shop", run_id="r1")
        async with journal:
            report = await apply_plan(planned.plan, store=await sync.store(), journal=journal)
    assert report.complete and report.conflict_retries == 1
    after = {r["sku"]: r["quantity"] for r in emu.state()}
    assert all(after[sku] == q for sku, q in desired.items())
    changes = len(planned.plan.changes)
    # 1 rejected call, two halves per level down to the stale item, then 1 re-read + 1 write.
    assert emu.stats()["requests_total"] - calls <= 1 + 2 * math.ceil(math.log2(changes)) + 2
    outcomes = [e.outcome for e in read_journal(journal.store.path)
                if e.inventory_item_id == victim.inventory_item_id]
    assert outcomes == [Outcome.PENDING, Outcome.CONFLICT, Outcome.PENDING, Outcome.APPLIED]


@pytest.mark.parametrize("status_switch", [True, False])
async def test_a_site_moved_to_v3_is_detected_again_whatever_status_v1_calls_get(
    emulator, tmp_path, status_switch
):
    emu = await emulator(catalog="v3", generate_products=5, rate_limit=None, api_key=API_KEY,
                         variants=WixVariants(mismatch_status=status_switch))
    source = tmp_path / "stock.csv"
    drifted_source(emu.state(), source, drift=0.0)
    async with await _site_sync(tmp_path, emu, source) as sync:
        sync._store = V1Store(sync.client)  # detected while the site still ran V1
        with pytest.raises(WixNotFound if status_switch else Exception):
            await sync.plan()
        await sync.plan()
        assert isinstance(await sync.store(), V3Store)


async def test_sites_sharing_one_key_share_one_budget_when_configured(tmp_path):
    limiter = SlidingWindowLimiter((10, 1.0))
    variants = WixVariants(rate_per_key=True)
    configs = [EmulatorConfig(catalog="v1", site_id=f"site-{n}", api_key=API_KEY,
                              generate_products=1_500, seed=n, rate_limit=(10, 1.0),
                              variants=variants) for n in (1, 2)]
    async with serve(configs[0], limiter=limiter) as one, \
            serve(configs[1], limiter=limiter) as two:
        source = tmp_path / "stock.csv"
        source.write_text("sku,quantity\n")
        for shared in (True, False):
            limiter.reset()
            doc = {"sites": [{"name": f"shop{n}", "site_id": f"site-{n}", "catalog": "v1",
                              "api_key_env": "WIX_API_KEY", "base_url": emu.url,
                              "rate_limit": {"requests": 10, "per_seconds": 1,
                                             "shared_key": shared}}
                             for n, emu in ((1, one), (2, two))],
                   "source": {"path": str(source)}, "state_dir": str(tmp_path / "state")}
            path = tmp_path / f"syncd-{shared}.yaml"
            path.write_text(yaml.safe_dump(doc))
            settings = Settings.from_file(path, env={"WIX_API_KEY": API_KEY})
            async with open_site_syncs(settings) as syncs:
                stores = [await s.store() for s in syncs.values()]
                await asyncio.gather(*(store.walk() for store in stores))
                limited = sum(s.client.calls.rate_limited for s in syncs.values())
            if shared:
                assert limited == 0, "one budget for one key: Wix never says 429"
            else:
                assert limited > 0, "two budgets for one key overrun it"


async def test_a_store_with_hidden_products_walked_with_short_pages_and_sparse_json(tmp_path):
    """The scaled-down form of ``tests/bench/bench_hidden_walk.py`` (25,000 products with
    1,000 hidden, about two and a half minutes here): every variant seen, none written
    twice, nothing left to do afterwards."""
    report = await hidden_walk(2_500, 100, work=tmp_path)
    assert report.variants_seen == report.variants_in_store
    assert report.hidden_variants_seen == report.hidden_variants_in_store > 0
    assert report.written == report.planned > 0
    assert report.written_twice == 0
    assert report.wrong == 0
    assert report.changes_after == 0


async def test_a_product_with_options_but_unmanaged_variants_is_set_by_its_one_sku(
    emulator, tmp_path
):
    store = tmp_path / "store.yaml"
    store.write_text(
        "products:\n"
        "  - name: Plain Tee\n"
        "    manage_variants: false\n"
        "    sku: PLAIN-TEE\n"
        "    options: {Size: [S, M]}\n"
        "    variants:\n"
        "      - {choices: {Size: S}, quantity: 3}\n"
        "      - {choices: {Size: M}, quantity: 9}\n"
        "  - name: Other Tee\n"
        "    manage_variants: false\n"
        "    sku: PLAIN-TEE\n"
        "    options: {Size: [S]}\n")
    emu = await emulator(catalog="v1", store_path=str(store), rate_limit=None,
                         api_key=API_KEY)
    source = tmp_path / "stock.csv"
    source.write_text("sku,quantity\nPLAIN-TEE,5\n")
    async with await _site_sync(tmp_path, emu, source) as sync:
        planned = await sync.plan(force=True)
    # Shared by two products, the SKU is ambiguous: nothing is guessed.
    assert [a.sku for a in planned.plan.ambiguous] == ["PLAIN-TEE"]
    store.write_text(store.read_text().split("  - name: Other Tee")[0])
    emu = await emulator(catalog="v1", store_path=str(store), rate_limit=None,
                         api_key=API_KEY)
    (tmp_path / "second").mkdir()
    async with await _site_sync(tmp_path / "second", emu, source) as sync:
        result = await sync.sync(force=True)
    assert result.planned.plan.ambiguous == ()
    assert result.applied is not None and result.applied.written == 2
    assert sorted((r["sku"], r["quantity"]) for r in emu.state()) == [
        ("PLAIN-TEE", 5), ("PLAIN-TEE", 5)]
    assert emu.stats()["writes"]["calls"] == 1, "one call for the product's variants"
