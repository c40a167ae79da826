"""Compaction keeps what the retention rule keeps, on either backend: runs past the
retention go, a run holding an unsettled write stays (however old), and so does the run
a plain ``syncd rollback`` undoes; the kept run can still be rolled back."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from support.backends import BackendUnderTest, syncd_cli
from support.faults import API_KEY, KEY_ENV, SITE_ID, make_desired, write_site
from syncd.base.model import StoreVariant
from syncd.core.journal import Journal, Outcome
from syncd.core.plan import ChangeReason, StockChange
from syncd.edges.backend import LocalBackend, StateBackend
from syncd.edges.backend.local.segments import SegmentPolicy
from syncd.edges.backend.reading import recent_runs, rollback_target
from syncd.frontends.commands.common import ExitCode

SITE = "shop"
NOW = datetime.now(UTC)

# Every run closes the segment before it: each run is a segment of its own here.
EVERY_RUN = SegmentPolicy(max_bytes=1 << 30, min_bytes=0, max_age_s=0)


@pytest.fixture
async def journal_backend(backend: BackendUnderTest, tmp_path: Path
                          ) -> AsyncIterator[StateBackend]:
    if backend.dsn is None:
        yield LocalBackend(tmp_path / "state", segments=EVERY_RUN)
        return
    from syncd.edges.backend.postgres import open_postgres

    async with open_postgres(backend.dsn) as opened:
        yield opened


def _change(sku: str, before: int, after: int) -> StockChange:
    v = StoreVariant(product_id=f"P-{sku}", variant_id=f"V-{sku}", inventory_item_id=f"I-{sku}",
                     sku=sku, tracked=True, quantity=before, in_stock=before > 0,
                     hidden=False)
    return StockChange(v, after, None, True, ChangeReason.QUANTITY, None)


async def _run(backend: StateBackend, run_id: str, days_ago: float, *,
               settle: Outcome | None = Outcome.APPLIED, open_skus: tuple[str, ...] = (),
               rollback_of: str | None = None) -> None:
    """A run ``days_ago``: two settled writes, and a write left pending per ``open_skus``."""
    at = NOW - timedelta(days=days_ago)
    store = backend.journal(SITE, run_id=run_id, rollback_of=rollback_of).store
    async with Journal(store, site=SITE, run_id=run_id, clock=lambda: at,
                       rollback_of=rollback_of) as j:
        done = await j.write_pending([_change(f"{run_id}-A", 1, 2), _change(f"{run_id}-B", 3, 4)])
        if settle is not None:
            await j.settle(done, settle)
        if open_skus:
            await j.write_pending([_change(sku, 5, 6) for sku in open_skus])



async def test_compaction_drops_old_runs_but_keeps_unsettled_writes_and_the_rollback_run(
    journal_backend: StateBackend
):
    backend = journal_backend
    await _run(backend, "r40-old", 40)
    await _run(backend, "r30-open", 30, open_skus=("KILLED",))
    await _run(backend, "r20-last-sync", 20)
    await _run(backend, "r15-failed", 15, settle=Outcome.FAILED)
    await _run(backend, "r2-rollback", 2, rollback_of="r20-last-sync")

    dry = await backend.compact(SITE, retention_days=10, now=NOW, dry_run=True)
    assert {v.part.name for v in dry.dropped} != set()
    assert {e.run_id for e in await backend.read_journal(SITE)} == {
        "r40-old", "r30-open", "r20-last-sync", "r15-failed", "r2-rollback"}

    done = await backend.compact(SITE, retention_days=10, now=NOW)
    assert done.dropped_lines == dry.dropped_lines > 0
    left = await backend.read_journal(SITE)
    assert {e.run_id for e in left} == {"r30-open", "r20-last-sync", "r2-rollback"}
    # The unsettled write is still there, and still open.
    assert [e.sku for e in await backend.read_open(SITE)] == ["KILLED"]
    # A plain rollback still finds the last sync run, whole.
    points = await rollback_target(backend, SITE, None)
    assert {p.run_id for p in points.values()} == {"r20-last-sync"}
    assert {p.sku: (p.before.quantity, p.after.quantity) for p in points.values()} == {
        "r20-last-sync-A": (1, 2), "r20-last-sync-B": (3, 4)}
    assert await rollback_target(backend, SITE, "r40-old") == {}
    found, whole = await recent_runs(backend, SITE, 10)
    assert [r.run_id for r in found] == ["r30-open", "r20-last-sync", "r2-rollback"]
    assert whole

    again = await backend.compact(SITE, retention_days=10, now=NOW)
    assert again.dropped_lines == 0


async def test_an_unsettled_write_is_never_dropped_however_old(journal_backend: StateBackend):
    backend = journal_backend
    await _run(backend, "r400-open", 400, open_skus=("LOST-1", "LOST-2"))
    for days in (300, 200, 100):
        await _run(backend, f"r{days}", days)
    await _run(backend, "r1", 1)
    await backend.compact(SITE, retention_days=10, now=NOW)
    assert sorted(e.sku for e in await backend.read_open(SITE)) == ["LOST-1", "LOST-2"]
    assert {e.run_id for e in await backend.read_journal(SITE)} == {"r400-open", "r1"}


async def test_a_settled_write_frees_its_run_for_compaction(journal_backend: StateBackend):
    backend = journal_backend
    await _run(backend, "r50-open", 50, open_skus=("LATE",))
    open_entry, = await backend.read_open(SITE)
    # A later run settles it (a delta's re-read): the outcome line keeps the run id.
    at = NOW - timedelta(days=45)
    store = backend.journal(SITE, run_id="r45").store
    async with Journal(store, site=SITE, run_id="r45", clock=lambda: at) as j:
        await j.settle([open_entry], Outcome.FAILED)
    await _run(backend, "r1", 1)
    await backend.compact(SITE, retention_days=10, now=NOW)
    assert await backend.read_open(SITE) == []
    assert {e.run_id for e in await backend.read_journal(SITE)} == {"r1"}


async def test_journal_compact_command_says_what_it_would_drop_then_drops_it(
    tmp_path: Path, backend: BackendUnderTest, journal_backend: StateBackend
):
    files = write_site(tmp_path / "site", url="http://127.0.0.1:9", desired={"SKU-1": 1})
    files.config.write_text("journal_retention_days: 10\n" + files.config.read_text()
                            + backend.config_lines())
    target = journal_backend if backend.dsn else LocalBackend(files.state_dir,
                                                               segments=EVERY_RUN)
    await _run(target, "r40-old", 40)
    await _run(target, "r30-open", 30, open_skus=("KILLED",))
    await _run(target, "r1", 1)

    async def cli(*args: str) -> tuple[int, str, str]:
        return await syncd_cli("journal", "--config", str(files.config), *args,
                               backend=backend, key=API_KEY, key_env=KEY_ENV)

    code, out, err = await cli("--compact", "--dry-run")
    assert code == ExitCode.OK, err
    assert f"site {SITE}: would drop 1 " in out and "1 unsettled write(s)" in out
    assert {e.run_id for e in await target.read_journal(SITE)} == {"r40-old", "r30-open", "r1"}
    code, out, err = await cli("--compact", "--output", "json")
    assert code == ExitCode.OK, err
    compaction = json.loads(out)["sites"][0]["compaction"]
    assert (compaction["dropped"], compaction["kept_unsettled"]) == (1, 1)
    assert {e.run_id for e in await target.read_journal(SITE)} == {"r30-open", "r1"}
    code, _, err = await cli("--dry-run")
    assert code == ExitCode.CONFIG and "--compact" in err


async def test_a_run_kept_by_compaction_is_still_rolled_back_by_the_real_command(
    emulator, tmp_path: Path, backend: BackendUnderTest, journal_backend: StateBackend
):
    emu = await emulator(catalog="v1", generate_products=30, seed=5, site_id=SITE_ID,
                         api_key=API_KEY, rate_limit=None)
    initial = emu.state()
    before = {r["sku"]: r["quantity"] for r in initial}
    files = write_site(tmp_path / "site", url=emu.url,
                       desired=make_desired(initial, drift=0.3, seed=5))
    files.config.write_text(files.config.read_text() + backend.config_lines())
    target = journal_backend if backend.dsn else LocalBackend(files.state_dir,
                                                               segments=EVERY_RUN)
    await _run(target, "r40-old", 40)
    await _run(target, "r30-old", 30)
    await _run(target, "r1-recent", 1)

    async def cli(*args: str) -> tuple[int, str, str]:
        return await syncd_cli(*args, "--config", str(files.config), backend=backend,
                               key=API_KEY, key_env=KEY_ENV)

    code, out, err = await cli("sync", "--output", "json")
    assert code == ExitCode.OK, err
    code, out, err = await cli("journal", "--output", "json")
    sync_run = json.loads(out)["sites"][0]["runs"][-1]["run_id"]
    code, out, err = await cli("journal", "--compact", "--retention-days", "10")
    assert code == ExitCode.OK, err
    assert {e.run_id for e in await target.read_journal(SITE)} == {"r1-recent", sync_run}
    assert {r["sku"]: r["quantity"] for r in emu.state()} != before
    code, out, err = await cli("rollback", "--run", sync_run)
    assert code == ExitCode.OK, err
    assert {r["sku"]: r["quantity"] for r in emu.state()} == before


async def test_rows_of_an_earlier_schema_are_read_and_compacted_after_migration(
    backend: BackendUnderTest, tmp_path: Path
):
    if backend.dsn is None:
        pytest.skip("the local journal's earlier layout is tests/test_journal_segments.py's")
    import asyncpg

    from syncd.edges.backend.postgres import open_postgres
    from syncd.edges.backend.schema import migrate

    conn = await asyncpg.connect(backend.dsn)
    try:
        await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        assert await migrate(conn, up_to=3) == [1, 2, 3]
        old, done = (_change("OLD", 1, 2), _change("KILLED", 5, 6))
        lines = []
        for run_id, days, change, settle in (("r40", 40, old, True), ("r30", 30, done, False)):
            at = NOW - timedelta(days=days)
            j = Journal(LocalBackend(tmp_path).journal(SITE, run_id=run_id).store, site=SITE,
                        run_id=run_id, clock=lambda at=at: at)
            (pending,) = j.make_pending([change])
            lines += [pending, *([pending.settled(Outcome.APPLIED, at=at)] if settle else [])]
        await conn.executemany(
            "INSERT INTO syncd_journal (site, write_id, run_id, outcome, entry) "
            "VALUES ($1, $2, $3, $4, $5)",
            [(e.site, e.write_id, e.run_id, e.outcome.value, e.to_json()) for e in lines]
            + [(SITE, "bad/1", "r-bad", "pending", "not json")])  # a damaged row
        assert await migrate(conn) == [4, 5, 6]
    finally:
        await conn.close()
    async with open_postgres(backend.dsn) as pg:
        assert [e.sku for e in await pg.read_open(SITE)] == ["KILLED"]
        done_ = await pg.compact(SITE, retention_days=10, now=NOW)
        assert [v.part.name for v in done_.dropped] == ["r40"]
        bad: list = []
        assert {e.run_id for e in await pg.read_journal(SITE, bad)} == {"r30"}
        assert len(bad) == 1  # no time could be read from it: kept, and still reported
