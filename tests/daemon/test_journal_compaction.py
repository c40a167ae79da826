"""The daemon's journal compaction: every site compacted on schedule and logged, a stop
ends the task at once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from structlog.testing import capture_logs

from support.faults import API_KEY, KEY_ENV, SITE, write_site
from syncd.base.model import StoreVariant
from syncd.core.journal import Journal, Outcome
from syncd.core.plan import ChangeReason, StockChange
from syncd.cycle.metrics import Metrics
from syncd.edges.backend.local import LocalBackend
from syncd.edges.backend.local.segments import SegmentPolicy
from syncd.edges.config import Settings
from syncd.frontends.daemon.compaction import JournalCompaction, compact_sites
from syncd.frontends.daemon.supervisor import Daemon

from .conftest import FakeRunner
from .test_supervisor import config, setup_for


def _change(sku: str, before: int, after: int) -> StockChange:
    v = StoreVariant(product_id=f"P-{sku}", variant_id=f"V-{sku}", inventory_item_id="I",
                     sku=sku, tracked=True, quantity=before, in_stock=True, hidden=False)
    return StockChange(v, after, None, True, ChangeReason.QUANTITY, None)


async def _old_runs(backend: LocalBackend) -> None:
    now = datetime.now(UTC)
    for run_id, days in (("old", 200), ("new", 1)):
        at = now - timedelta(days=days)
        store = backend.journal(SITE, run_id=run_id).store
        async with Journal(store, site=SITE, run_id=run_id, clock=lambda at=at: at) as j:
            done = await j.write_pending([_change(run_id, 1, 2)])
            await j.settle(done, Outcome.APPLIED)


async def test_the_daemon_compacts_each_site_and_logs_what_it_dropped(tmp_path):
    files = write_site(tmp_path, url="http://127.0.0.1:9", desired={"SKU-1": 1})
    files.config.write_text("journal_retention_days: 30\n" + files.config.read_text())
    settings = Settings.from_file(files.config, env={KEY_ENV: API_KEY})
    backend = LocalBackend(settings.state_dir,
                           segments=SegmentPolicy(min_bytes=0, max_age_s=0))
    await _old_runs(backend)
    stop = asyncio.Event()
    calls = 0

    async def compact() -> None:
        nonlocal calls
        calls += 1
        await compact_sites(settings)
        stop.set()

    with capture_logs() as logs:
        await asyncio.wait_for(JournalCompaction(compact, first_delay_s=0,
                                                 interval_s=3600).run(stop), timeout=30)
    assert calls == 1
    (event,) = [e for e in logs if e["event"] == "journal_compacted"]
    assert (event["site"], event["by"], event["dropped"], event["dropped_lines"],
            event["retention_days"]) == (SITE, "daemon", 1, 2, 30)
    assert {e.run_id for e in await backend.read_journal(SITE)} == {"new"}


async def test_a_stop_ends_the_wait_for_the_next_compaction(tmp_path):
    stop = asyncio.Event()
    calls = 0

    async def compact() -> None:
        nonlocal calls
        calls += 1

    task = asyncio.create_task(JournalCompaction(compact, first_delay_s=3600).run(stop),
                               name="journal compaction under test")
    await asyncio.sleep(0)
    stop.set()
    await asyncio.wait_for(task, timeout=30)
    assert calls == 0


async def test_the_daemon_runs_its_compaction_as_a_named_task_and_ends_it_on_stop(tmp_path):
    compacted = asyncio.Event()

    async def compact() -> None:
        compacted.set()

    setup = setup_for(config(tmp_path), FakeRunner())
    daemon = Daemon(lambda: setup, metrics=Metrics(), env={},
                    compaction=JournalCompaction(compact, first_delay_s=0, interval_s=3600))
    task = asyncio.create_task(daemon.run(setup), name="daemon under test")
    await asyncio.wait_for(compacted.wait(), timeout=10)
    assert "journal compaction" in {t.get_name() for t in asyncio.all_tasks()}
    daemon.request_stop("test over")
    await asyncio.wait_for(task, timeout=10)
    assert "journal compaction" not in {t.get_name() for t in asyncio.all_tasks()}
