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
