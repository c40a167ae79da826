"""The console's board keeps each site's latest plan without the read it was made from.

A 300-product store's read is about 700 KB of variants: kept for every site of an agency
it was most of the daemon's memory. The board keeps the plan and its changes; the SKU page
reads the SKU's products when it is asked for (``SyncCycleRunner.explain``)."""

from __future__ import annotations

import asyncio
import contextlib

from support.faults import API_KEY, KEY_ENV, SITE_ID, make_desired, write_site
from syncd.cycle.results import CycleKind
from syncd.edges.config import Settings
from syncd.frontends.daemon.runner import open_cycle_runner
from syncd.frontends.daemon.site_board import Board


async def _site(emulator, tmp_path):
    emu = await emulator(catalog="v1", generate_products=30, seed=11, site_id=SITE_ID,
                         api_key=API_KEY, rate_limit=None)
    desired = make_desired(emu.state(), drift=0.2, seed=11)
    files = write_site(tmp_path, url=emu.url, desired=desired)
    return emu, Settings.from_file(files.config, env={KEY_ENV: API_KEY}), desired


@contextlib.asynccontextmanager
async def _after_a_full_cycle(emulator, tmp_path):
    """A site's board and runner after one full cycle: (emulator, board, site, desired)."""
    emu, settings, desired = await _site(emulator, tmp_path)
    board = Board()
    async with open_cycle_runner(settings, board=board) as runner:
        site = settings.sites[0]
        await runner(site, kind=CycleKind.FULL, changed_keys=None, stop=asyncio.Event())
        yield emu, board, site.name, desired


async def test_the_board_keeps_a_plan_and_its_changes_without_the_stores_read(
        emulator, tmp_path):
    async with _after_a_full_cycle(emulator, tmp_path) as (emu, board, site, _):
        kept = board.sites[site].latest
    assert kept is not None
    assert kept.snapshot.variants == ()
    assert kept.plan.store_variants == len(emu.state()) and kept.plan.changes
    assert all(c.variant.sku for c in kept.plan.changes)  # a change keeps its variant


async def test_the_sku_page_plan_is_read_when_asked_for_and_costs_one_request(
        emulator, tmp_path):
    async with _after_a_full_cycle(emulator, tmp_path) as (emu, board, site, desired):
        latest = board.sites[site].latest
        assert latest is not None and board.explain is not None
        sku = next(iter(desired))
        row = next(r for r in emu.state() if r["sku"] == sku)
        store = emu.store
        store.adjust_variant(store.variant(store.by_id[str(row["product_id"])],
                                           str(row["variant_id"])), -1)  # a sale since
        reads = emu.stats()["requests_total"]
        fresh = await board.explain(site, sku, latest)
        assert emu.stats()["requests_total"] - reads == 1
    assert fresh is not None
    carriers = [v for v in fresh.snapshot.variants if v.sku == sku]
    assert [v.quantity for v in carriers] == [desired[sku] - 1]
    assert [c.quantity for c in fresh.plan.changes if c.variant.sku == sku] == [desired[sku]]
    assert board.explain is None  # only while its runner runs


async def test_a_site_without_a_full_read_yet_has_nothing_to_explain_from(emulator, tmp_path):
    emu, settings, desired = await _site(emulator, tmp_path)
    board = Board()
    async with open_cycle_runner(settings, board=board) as runner:
        latest_of_nothing = await runner.explain(settings.sites[0].name, next(iter(desired)),
                                                 latest=None)  # type: ignore[arg-type]
    assert latest_of_nothing is None
    assert emu.stats()["requests_total"] == 0
