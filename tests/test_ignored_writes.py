"""An absolute write Wix answers ``{}`` but does not apply (the ``ignored_writes`` reading)
is found by the next cycle's walk, reported once (log, journal, metric, ``syncd lint``) and
not sent again while the source and the store keep their values."""

from __future__ import annotations

from pathlib import Path

import pytest
from structlog.testing import capture_logs

import syncd.apply.recent_writes as recent_writes
from support.sync import API_KEY, drifted_source, load_site, write_config
from syncd.core.journal import Outcome
from syncd.core.lint import Problem, lint_store
from syncd.cycle.metrics import Metrics
from syncd.cycle.sync import SiteSync
from syncd.edges.backend.local.journal import read_journal
from syncd_emulator.variants import WixVariants, ignores_write

PRODUCTS = 120

WRITES = "PATCH /stores/v2/inventoryItems/product/{productId}"


def _ignored_rows(state, desired):
    return [r for r in state if r["sku"] in desired and r["quantity"] != desired[r["sku"]]
            and ignores_write(r["product_id"], r["variant_id"])]


async def _site(emulator, tmp_path: Path):
    emu = await emulator(catalog="v1", generate_products=PRODUCTS, seed=5, rate_limit=None,
                         api_key=API_KEY, variants=WixVariants(ignored_writes=True))
    source = tmp_path / "stock.csv"
    desired = drifted_source(emu.state(), source, drift=0.3)
    config = write_config(tmp_path, url=emu.url, source=source,
                          policy={"write_mode": "absolute"})
    settings, site = load_site(config)
    return emu, source, desired, settings, site


def _writes(emu) -> int:
    return int(emu.stats()["requests"].get(WRITES, 0))


async def test_an_ignored_write_is_reported_once_and_not_sent_again(
    emulator, tmp_path, monkeypatch
):
    emu, _source, desired, settings, site = await _site(emulator, tmp_path)
    ignored = _ignored_rows(emu.state(), desired)
    assert ignored, "the drift must reach a variant the store ignores writes to"
    metrics = Metrics()
    async with SiteSync(site, state_dir=settings.state_dir, metrics=metrics) as sync:
        first = await sync.sync(force=True)
        assert first.applied is not None and first.applied.complete
        writes = _writes(emu)
        # Right after the write a read that does not show it may only lag: held, not
        # sent, not yet called ignored.
        with capture_logs() as early:
            second = await sync.sync()
        assert _writes(emu) == writes
        assert second.applied is not None and second.applied.held == len(ignored)
        assert second.applied.ignored_found == 0
        assert not [e for e in early if e["event"] == "write_ignored"]
        monkeypatch.setattr(recent_writes, "RECENT_WRITE_S", 0.0)
        with capture_logs() as found:
            third = await sync.sync()
        with capture_logs() as later:
            fourth = await sync.sync()
    assert _writes(emu) == writes, "an ignored write must not be sent again"
    assert third.applied is not None and third.applied.ignored_found == len(ignored)
    assert fourth.applied is not None and fourth.applied.ignored_found == 0
    assert fourth.applied.held == len(ignored) and fourth.applied.complete
    reported = [e for e in found if e["event"] == "write_ignored"]
    assert sorted(e["sku"] for e in reported) == sorted(r["sku"] for r in ignored)
    assert not [e for e in later if e["event"] == "write_ignored"]
    entries = list(read_journal(Path(settings.state_dir) / "journal" / "shop.jsonl"))
    assert sum(e.outcome is Outcome.IGNORED for e in entries) == len(ignored)
    sample = metrics.registry.get_sample_value("syncd_writes_ignored_total", {"site": "shop"})
    assert sample == len(ignored)
    async with SiteSync(site, state_dir=settings.state_dir) as sync:
        snapshot = await (await sync.store()).walk()
    finding = {f.problem: f for f in lint_store(snapshot, journal=entries).findings}[
        Problem.IGNORED_WRITE]
    assert finding.checked and finding.count == len(ignored)


async def test_an_ignored_write_is_sent_again_once_the_source_asks_for_another_value(
    emulator, tmp_path, monkeypatch
):
    monkeypatch.setattr(recent_writes, "RECENT_WRITE_S", 0.0)
    emu, source, desired, settings, site = await _site(emulator, tmp_path)
    ignored = _ignored_rows(emu.state(), desired)
    async with SiteSync(site, state_dir=settings.state_dir) as sync:
        await sync.sync(force=True)
        await sync.sync()
        writes = _writes(emu)
        changed = ignored[0]["sku"]
        desired[changed] += 1
        source.write_text("sku,quantity\n" + "".join(f"{k},{v}\n" for k, v in desired.items()))
        again = await sync.sync()
    assert again.applied is not None and again.applied.written == 1
    assert again.applied.held == len(ignored) - 1
    assert _writes(emu) == writes + 1


@pytest.mark.parametrize("catalog", ["v1"])
async def test_a_read_that_shows_the_write_clears_it(emulator, tmp_path, catalog):
    """Without the reading, nothing is held: every write lands and the next plan is empty."""
    emu = await emulator(catalog=catalog, generate_products=60, seed=6, rate_limit=None,
                         api_key=API_KEY)
    source = tmp_path / "stock.csv"
    drifted_source(emu.state(), source, drift=0.3)
    config = write_config(tmp_path, url=emu.url, source=source,
                          policy={"write_mode": "absolute"})
    settings, site = load_site(config)
    async with SiteSync(site, state_dir=settings.state_dir) as sync:
        await sync.sync(force=True)
        second = await sync.sync()
    assert second.planned.plan.changes == ()
    assert second.applied is not None and second.applied.held == 0


def _sell_back(emu, product_id: str, variant_id: str, units: int) -> None:
    store = emu.emulator.store
    product = next(p for p in store.products if p.id == product_id)
    variant = store.variant(product, variant_id)
    assert variant is not None
    store.adjust_variant(variant, -units)


async def test_a_sale_that_takes_a_written_variant_back_is_synced_not_held(emulator, tmp_path):
    """A write the next read shows in effect was not ignored: when a sale later takes the
    variant back to its old value, the same change planned again is sent, not held."""
    emu = await emulator(catalog="v1", generate_products=60, seed=6, rate_limit=None,
                         api_key=API_KEY)
    source = tmp_path / "stock.csv"
    before = {r["sku"]: r for r in emu.state()}
    desired = drifted_source(emu.state(), source, drift=0.3)
    config = write_config(tmp_path, url=emu.url, source=source,
                          policy={"write_mode": "absolute"})
    settings, site = load_site(config)
    async with SiteSync(site, state_dir=settings.state_dir) as sync:
        first = await sync.sync(force=True)
        assert first.applied is not None and first.applied.written > 0
        shown = await sync.sync()  # reads every write in effect
        assert shown.planned.plan.changes == ()
        sku, wanted = next((k, v) for k, v in desired.items()
                           if before[k]["quantity"] is not None and v > before[k]["quantity"])
        row = before[sku]
        _sell_back(emu, str(row["product_id"]), str(row["variant_id"]),
                   wanted - int(row["quantity"]))
        again = await sync.sync()
    assert again.applied is not None and again.applied.held == 0
    assert again.applied.written == 1
    assert {r["sku"]: r["quantity"] for r in emu.state()}[sku] == wanted


def test_a_held_repeat_is_sent_again_once_its_hold_ends():
    from datetime import UTC, datetime, timedelta

    from syncd.base.model import StoreVariant
    from syncd.core.journal import JournalEntry, StockState
    from syncd.core.plan import ChangeReason, StockChange

    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    variant = StoreVariant(product_id="p", variant_id="v", inventory_item_id="i", sku="S",
                           tracked=True, quantity=81, in_stock=True, hidden=False)
    change = StockChange(variant=variant, quantity=82, in_stock=True, track=True,
                         reason=ChangeReason.QUANTITY, row=None)
    entry = JournalEntry(write_id="w1", run_id="r1", site="shop", product_id="p",
                         variant_id="v", sku="S", inventory_item_id="i",
                         before=StockState(81, True, True), after=StockState(82, True, True),
                         revision=None, outcome=Outcome.APPLIED, time=t0)
    latest = {("p", "v"): entry}
    held = recent_writes.guard_writes([change], latest, now=t0 + timedelta(minutes=5))
    assert len(held.held) == 1
    expired = recent_writes.guard_writes(
        [change], latest, now=t0 + timedelta(seconds=recent_writes.IGNORED_HOLD_S + 1))
    assert expired.held == ()
