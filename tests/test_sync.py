"""One sync cycle end to end against the emulator: correctness, cost, refusals."""

from __future__ import annotations

import asyncio
import math
from pathlib import Path

import pytest

from support.sync import (
    API_KEY,
    drifted_source,
    load_site,
    state_by_key,
    unique_skus,
    write_config,
)
from syncd.apply.absolute import apply_plan
from syncd.base.errors import GuardRefused, SourceError
from syncd.base.model import Catalog
from syncd.core.journal import Outcome
from syncd.cycle.sync import SiteSync
from syncd.edges.backend.local.journal import file_journal, journal_path, read_journal
from syncd.frontends.daemon.cycle import CycleKind


async def _site_sync(tmp_path: Path, emu, source: Path, **kw) -> SiteSync:
    # The emulators here run without a rate limit; so does the client, since call counts,
    # not pacing, are under test.
    kw.setdefault("rate_limit", (100_000, 1.0))
    config = write_config(tmp_path, url=emu.url, source=source, **kw)
    settings, site = load_site(config)
    return SiteSync(site, state_dir=settings.state_dir)


def _write_stock(source: Path, stock: dict[str, int]) -> None:
    source.write_text("sku,quantity\n" + "".join(f"{s},{q}\n" for s, q in stock.items()))


def _assert_converged(before, after, desired: dict[str, int]) -> None:
    """Matched variants hold the desired quantity; every other variant is untouched."""
    unique = unique_skus(before)
    after_by_key = state_by_key(after)
    for key, old in state_by_key(before).items():
        new = after_by_key[key]
        sku = str(old["sku"])
        if sku in desired and sku in unique:
            assert new["tracked"] is True
            assert new["quantity"] == desired[sku], sku
        else:
            assert (new["quantity"], new["in_stock"], new["tracked"]) == (
                old["quantity"], old["in_stock"], old["tracked"]), sku


@pytest.mark.slow
@pytest.mark.timeout(300)
async def test_large_v1_store_with_drift_converges_in_near_minimum_calls(emulator, tmp_path):
    emu = await emulator(catalog="v1", generate_products=12_000, seed=11, rate_limit=None,
                         api_key=API_KEY)
    before = emu.state()
    ambiguous = sorted({str(r["sku"]) for r in before if r["sku"]} - unique_skus(before))
    assert ambiguous, "the generated store should carry duplicate SKUs"
    source = tmp_path / "stock.csv"
    desired = drifted_source(before, source, drift=0.05,
                             extra_rows=[(ambiguous[0], 77)])
    async with await _site_sync(tmp_path, emu, source) as sync:
        result = await sync.sync(force=True)
    after = emu.state()
    _assert_converged(before, after, desired)
    plan = result.planned.plan
    assert result.applied is not None and result.applied.complete
    assert ambiguous[0] in {a.sku for a in plan.ambiguous}
    assert all(r["quantity"] != 77 or r["sku"] != ambiguous[0] for r in after)
    assert plan.hidden_changes > 0, "hidden products must be synced like visible ones"
    products = len({r["product_id"] for r in before})
    changed_products = len({c.variant.product_id for c in plan.changes})
    minimum = 1 + math.ceil(products / 100) + changed_products
    assert result.api_calls <= 1.02 * minimum, (result.api_calls, minimum)
    assert emu.stats()["requests_total"] == result.api_calls


@pytest.mark.slow
@pytest.mark.timeout(300)
async def test_large_v3_store_with_drift_converges_in_near_minimum_calls(emulator, tmp_path):
    emu = await emulator(catalog="v3", generate_products=12_000, seed=12, rate_limit=None,
                         api_key=API_KEY)
    before = emu.state()
    source = tmp_path / "stock.csv"
    desired = drifted_source(before, source, drift=0.05)
    async with await _site_sync(tmp_path, emu, source) as sync:
        result = await sync.sync(force=True)
    _assert_converged(before, emu.state(), desired)
    items = sum(1 for r in before if r["inventory_item_id"] is not None)
    changes = len(result.planned.plan.changes)
    assert result.applied is not None
    minimum = 1 + math.ceil(items / 1000) + math.ceil(changes / 1000)
    assert result.api_calls <= 1.02 * minimum + result.applied.conflict_retries
    assert emu.stats()["requests_total"] == result.api_calls


async def test_second_plan_after_a_sync_has_nothing_to_do(emulator, tmp_path):
    emu = await emulator(catalog="v1", generate_products=150, seed=2, rate_limit=None,
                         api_key=API_KEY)
    source = tmp_path / "stock.csv"
    drifted_source(emu.state(), source, drift=0.2)
    async with await _site_sync(tmp_path, emu, source) as sync:
        first = await sync.sync()
        writes_after_first = emu.stats()["writes"]
        second = await sync.sync()
    assert first.applied is not None and first.applied.written > 0
    assert second.planned.plan.changes == ()
    assert second.applied is not None and second.applied.written == 0
    assert emu.stats()["writes"] == writes_after_first


async def test_bad_rows_are_reported_by_line_and_nothing_is_written(emulator, tmp_path):
    emu = await emulator(catalog="v1", generate_products=20, seed=2, rate_limit=None,
                         api_key=API_KEY)
    sku = sorted(unique_skus(emu.state()))[0]
    source = tmp_path / "stock.csv"
    source.write_text(f"sku,quantity\n{sku},5\nOTHER-1,-3\n,4\nOTHER-2,100000\nOTHER-3,abc\n")
    async with await _site_sync(tmp_path, emu, source) as sync:
        with pytest.raises(SourceError) as caught:
            await sync.sync()
    message = str(caught.value)
    for line, field in ((3, "quantity"), (4, "sku"), (5, "quantity"), (6, "quantity")):
        assert f"{source}:{line}: {field}:" in message
    assert emu.stats()["writes"]["calls"] == 0
    assert emu.stats()["requests_total"] == 0, "a bad source must stop the run before Wix"


async def test_empty_source_is_refused_without_writes(emulator, tmp_path):
    emu = await emulator(catalog="v1", generate_products=20, seed=2, rate_limit=None,
                         api_key=API_KEY)
    source = tmp_path / "stock.csv"
    source.write_text("sku,quantity\n")
    async with await _site_sync(tmp_path, emu, source,
                                policy={"unmatched": "zero"}) as sync:
        with pytest.raises(SourceError, match=r"empty|no rows|no data"):
            await sync.sync(force=True)
    assert emu.stats()["writes"]["calls"] == 0


async def test_source_shrunk_by_half_is_refused_without_writes(emulator, tmp_path):
    emu = await emulator(catalog="v1", generate_products=60, seed=4, rate_limit=None,
                         api_key=API_KEY)
    source = tmp_path / "stock.csv"
    drifted_source(emu.state(), source, drift=0.0)
    async with await _site_sync(tmp_path, emu, source) as sync:
        await sync.sync()
        lines = source.read_text().splitlines()
        source.write_text("\n".join(lines[: 1 + (len(lines) - 1) // 2]) + "\n")
        emu.reset()
        with pytest.raises(GuardRefused) as caught:
            await sync.sync()
    assert caught.value.guard == "max_source_shrink"
    assert "--force" in str(caught.value)
    assert emu.stats()["writes"]["calls"] == 0


async def test_changed_fraction_guard_refuses_and_force_overrides_once(emulator, tmp_path):
    emu = await emulator(catalog="v1", generate_products=40, seed=5, rate_limit=None,
                         api_key=API_KEY)
    before = emu.state()
    source = tmp_path / "stock.csv"
    desired = drifted_source(before, source, drift=1.0)
    async with await _site_sync(tmp_path, emu, source,
                                policy={"max_zeroed": 100_000}) as sync:
        with pytest.raises(GuardRefused) as caught:
            await sync.sync()
        assert caught.value.guard == "max_changed_fraction"
        assert emu.stats()["writes"]["calls"] == 0
        result = await sync.sync(force=True)
    assert result.applied is not None and result.applied.complete
    _assert_converged(before, emu.state(), desired)


async def test_v3_stale_revision_is_reread_and_written_again(emulator, tmp_path):
    emu = await emulator(catalog="v3", generate_products=30, seed=6, rate_limit=None,
                         api_key=API_KEY)
    before = emu.state()
    source = tmp_path / "stock.csv"
    desired = drifted_source(before, source, drift=0.5)
    async with await _site_sync(tmp_path, emu, source) as sync:
        planned = await sync.plan(force=True)
        victim = planned.plan.changes[0].variant
        # A checkout lands between the walk and the write: the revision moves on.
        item = next(i for p in emu.store.products for v in p.variants for i in v.items
                    if i.id == victim.inventory_item_id)
        emu.store.write_item(item, quantity=1, in_stock=None)
        journal = file_journal(journal_path(sync.state_dir, "shop"), site="shop", run_id="r1")
        async with journal:
            report = await apply_plan(planned.plan, store=await sync.store(), journal=journal)
    assert report.complete
    assert report.conflict_retries == 1
    _assert_converged(before, emu.state(), desired)
    outcomes = [e.outcome for e in read_journal(journal.store.path)
                if e.inventory_item_id == victim.inventory_item_id]
    assert outcomes == [Outcome.PENDING, Outcome.CONFLICT, Outcome.PENDING, Outcome.APPLIED]


async def test_stop_request_finishes_the_batch_in_flight_and_sends_no_more(emulator, tmp_path):
    emu = await emulator(catalog="v1", generate_products=120, seed=7, rate_limit=None,
                         api_key=API_KEY)
    source = tmp_path / "stock.csv"
    drifted_source(emu.state(), source, drift=0.5)


    stop = asyncio.Event()
    # Absolute writes: a stop lands between per-product batches (the delta path's stop is
    # tested in tests/faults/test_delta_path.py).
    async with await _site_sync(tmp_path, emu, source,
                                policy={"max_changed_fraction": 1.0,
                                        "write_mode": "absolute"}) as sync:
        result = await sync.sync(stop=stop, progress=lambda done, total: stop.set())
    applied = result.applied
    assert applied is not None and applied.stopped
    assert applied.written > 0 and applied.failed == 0
    changed_products = {p.product_id for p in applied.products if p.written}
    assert all(p.not_attempted == 0 for p in applied.products if p.product_id in
               changed_products), "a product is written whole or not at all"
    entries = list(read_journal(Path(sync.state_dir) / "journal" / "shop.jsonl"))
    assert sum(e.outcome is Outcome.APPLIED for e in entries) == applied.written
    assert sum(e.outcome is Outcome.PENDING for e in entries) == applied.written


async def test_fast_cycle_rereads_only_the_products_of_changed_rows(emulator, tmp_path):
    emu = await emulator(catalog="v1", generate_products=500, seed=8, rate_limit=None,
                         api_key=API_KEY)
    before = emu.state()
    source = tmp_path / "stock.csv"
    desired = drifted_source(before, source, drift=0.0)
    async with await _site_sync(tmp_path, emu, source) as sync:
        await sync.sync()
        sku = next(iter(desired))
        desired[sku] += 3
        _write_stock(source, desired)
        calls = emu.stats()["requests_total"]
        result = await sync.sync(kind=CycleKind.FAST, changed_keys={sku})
    assert result.planned.kind is CycleKind.FAST
    assert [c.variant.sku for c in result.planned.plan.changes] == [sku]
    assert emu.stats()["requests_total"] - calls == 2, "one targeted read, one write"
    _assert_converged(before, emu.state(), desired)


async def test_metrics_count_requests_and_retries_of_a_cycle(emulator, tmp_path):
    from prometheus_client.parser import text_string_to_metric_families

    from syncd.cycle.metrics import Metrics

    emu = await emulator(catalog="v1", generate_products=30, seed=9, rate_limit=None,
                         api_key=API_KEY)
    source = tmp_path / "stock.csv"
    drifted_source(emu.state(), source, drift=0.3)
    # Absolute writes, which are retried like reads (a delta call never is).
    config = write_config(tmp_path, url=emu.url, source=source, rate_limit=(100_000, 1.0),
                          policy={"write_mode": "absolute"})
    settings, site = load_site(config)
    metrics = Metrics()
    emu.set_faults(fail_rate=0.25)
    async with SiteSync(site, state_dir=settings.state_dir, metrics=metrics) as sync:
        result = await sync.sync(force=True)
    assert result.applied is not None and result.applied.complete
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(metrics.exposition().decode())
               for s in family.samples}
    requests = sum(v for (name, labels), v in samples.items()
                   if name == "syncd_api_requests_total" and ("site", "shop") in labels)
    retries = sum(v for (name, _), v in samples.items() if name == "syncd_api_retries_total")
    failures = emu.stats()["faults_injected"]
    assert requests == emu.stats()["requests_total"]
    assert failures > 0 and retries == failures


async def test_v3_conflict_found_already_in_place_is_journaled_for_rollback(emulator, tmp_path):
    """The usual cause: our own earlier attempt landed but its answer was lost."""
    emu = await emulator(catalog="v3", generate_products=30, seed=6, rate_limit=None,
                         api_key=API_KEY)
    source = tmp_path / "stock.csv"
    drifted_source(emu.state(), source, drift=0.5)
    async with await _site_sync(tmp_path, emu, source) as sync:
        planned = await sync.plan(force=True)
        change = planned.plan.changes[0]
        item = next(i for p in emu.store.products for v in p.variants for i in v.items
                    if i.id == change.variant.inventory_item_id)
        emu.store.write_item(item, quantity=change.quantity, in_stock=None)
        journal = file_journal(journal_path(sync.state_dir, "shop"), site="shop", run_id="r1")
        async with journal:
            report = await apply_plan(planned.plan, store=await sync.store(), journal=journal)
    assert report.complete and report.conflict_retries == 1
    lines = [e for e in read_journal(journal.store.path)
             if e.inventory_item_id == change.variant.inventory_item_id]
    assert [e.outcome for e in lines] == [Outcome.PENDING, Outcome.CONFLICT, Outcome.PENDING,
                                         Outcome.APPLIED]
    assert lines[-1].before.quantity == change.variant.quantity
    assert lines[-1].after.quantity == change.quantity


async def test_fast_cycle_is_refused_when_it_would_change_too_much_of_the_store(emulator,
                                                                                 tmp_path):
    emu = await emulator(catalog="v1", generate_products=6, seed=8, rate_limit=None,
                         api_key=API_KEY)
    source = tmp_path / "stock.csv"
    desired = drifted_source(emu.state(), source, drift=0.0)
    async with await _site_sync(tmp_path, emu, source) as sync:
        await sync.sync()
        wrong = {sku: q + 5 for sku, q in desired.items()}  # every row shifted
        _write_stock(source, wrong)
        with pytest.raises(GuardRefused) as caught:
            await sync.sync(kind=CycleKind.FAST, changed_keys=set(wrong))
    assert caught.value.guard == "max_changed_fraction"


async def test_v3_fast_cycle_sees_a_sku_copied_to_another_product_since_the_full_walk(
    emulator, tmp_path
):
    emu = await emulator(catalog="v3", generate_products=40, seed=13, rate_limit=None,
                         api_key=API_KEY)
    source = tmp_path / "stock.csv"
    desired = drifted_source(emu.state(), source, drift=0.0)
    async with await _site_sync(tmp_path, emu, source) as sync:
        await sync.sync()
        sku = next(iter(desired))
        # The merchant duplicates the product in the dashboard: its SKU now appears twice.
        other = next(v for p in emu.store.products for v in p.variants
                     if v.items and v.sku != sku and v.sku not in desired)
        other.sku = sku
        for item in other.items:
            item.json = None  # the emulator's cached JSON of the item is stale now
        desired[sku] += 3
        _write_stock(source, desired)
        writes = emu.stats()["writes"]
        result = await sync.sync(kind=CycleKind.FAST, changed_keys={sku})
    assert result.planned.kind is CycleKind.FAST
    assert [a.sku for a in result.planned.plan.ambiguous] == [sku]
    assert result.planned.plan.changes == ()
    assert emu.stats()["writes"] == writes


async def test_a_428_on_a_read_makes_the_next_cycle_ask_for_the_catalog_again(emulator,
                                                                              tmp_path):
    from syncd.base.errors import WixConflict
    from syncd.edges.wix import V1Store

    emu = await emulator(catalog="v1", generate_products=5, rate_limit=None, api_key=API_KEY)
    source = tmp_path / "stock.csv"
    drifted_source(emu.state(), source, drift=0.0)

    class UpgradedSite:
        """What a cached V1 adapter meets once the site has moved to Catalog V3."""

        catalog = Catalog.V1

        async def walk(self):
            raise WixConflict("428: site runs catalog V3", status=428)

    async with await _site_sync(tmp_path, emu, source) as sync:
        sync._store = UpgradedSite()  # type: ignore[assignment]
        with pytest.raises(WixConflict):
            await sync.plan()
        version_calls = emu.stats()["requests"].get("GET /stores/v3/provision/version", 0)
        await sync.plan()
        assert isinstance(await sync.store(), V1Store)
    assert emu.stats()["requests"]["GET /stores/v3/provision/version"] == version_calls + 1


async def test_a_stores_budget_outlives_the_clients_of_a_reload(emulator, tmp_path):
    from syncd.cycle.wiring import open_site_syncs
    from syncd.edges.wix import LimiterPool

    emu = await emulator(catalog="v1", generate_products=5, rate_limit=None, api_key=API_KEY)
    source = tmp_path / "stock.csv"
    drifted_source(emu.state(), source, drift=0.0)
    settings, _ = load_site(write_config(tmp_path, url=emu.url, source=source,
                                         rate_limit=(3, 60.0)))
    pool = LimiterPool()
    async with open_site_syncs(settings, limiters=pool) as first:
        await first["shop"].plan()  # 2 of the 3 requests this minute
    async with open_site_syncs(settings, limiters=pool) as second:
        limiter = second["shop"].client.limiter
        assert limiter is first["shop"].client.limiter
        # One request left in the window: a second plan's two must wait for the minute.
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(1.0):
                await second["shop"].plan()


async def test_a_cycle_of_an_unchanged_source_reuses_its_parsed_rows(emulator, tmp_path):
    emu = await emulator(catalog="v1", generate_products=30, seed=9, rate_limit=None,
                         api_key=API_KEY)
    before = emu.state()
    source = tmp_path / "stock.csv"
    desired = drifted_source(before, source, drift=0.3)
    async with await _site_sync(tmp_path, emu, source) as sync:
        await sync.sync()
        again = await sync.sync()
        assert sync.source_cache.hits == 1
        assert again.planned.plan.changes == ()
        sku = next(iter(desired))
        desired[sku] += 5
        _write_stock(source, desired)
        edited = await sync.sync()
    assert sync.source_cache.hits == 1
    assert [c.variant.sku for c in edited.planned.plan.changes] == [sku]
    _assert_converged(before, emu.state(), desired)
