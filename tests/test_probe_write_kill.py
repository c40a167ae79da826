"""A write test killed with SIGKILL at any step: the next ``syncd sync`` (or write test)
puts the product back exactly as it was before the test, not as the source says.

The write test runs in a process of its own, through ``open_site_syncs`` as the command
runs it, against an emulator that holds every request a while (``latency_ms``), so a kill
made the moment the journal shows a step lands while that step's request is in flight.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from support.faults import wait_for
from support.sync import API_KEY, load_site, run_syncd, write_config
from syncd.core.journal import unsettled
from syncd.cycle.probe_write import run_write_test
from syncd.cycle.sync import SiteSync
from syncd.cycle.write_test_runs import unfinished_write_tests
from syncd.edges.backend.local.journal import journal_path, read_journal

ROOT = Path(__file__).resolve().parent.parent
RUNNER = Path(__file__).resolve().parent / "support" / "write_test_runner.py"
SITE_ID = "kill-site"
LATENCY_MS = 300

# Journal lines of a write test on a product of 4 variants, in order: Update up (4 pending,
# 4 outcomes), Update back (4 + 4), Increment (1 + 1), Decrement (1 + 1). A kill when the
# journal holds that many lines lands just after the step was journaled or settled.
LONG = pytest.mark.long_run
KILL_AT_LINES = (4, pytest.param(8, marks=LONG), 12, pytest.param(16, marks=LONG), 17,
                 pytest.param(18, marks=LONG), pytest.param(19, marks=LONG), 20)
"""The default run kills at four of them; ``--long-faults`` at every one."""


def _pick(state: list[dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    """A tracked product with 4 variants, and a row of another product for the source."""
    counts: dict[str, int] = {}
    for r in state:
        counts[str(r["product_id"])] = counts.get(str(r["product_id"]), 0) + 1
    product = next(pid for pid, n in sorted(counts.items())
                   if n == 4 and all(r["tracked"] for r in state if r["product_id"] == pid))
    other = next(r for r in state if r["product_id"] != product and r["sku"] and r["tracked"]
                 and sum(1 for o in state if o["sku"] == r["sku"]) == 1)
    return product, other


async def _kill_at(config: Path, journal: Path, product: str, lines: int) -> bool:
    """Start a write test and SIGKILL it once the journal holds ``lines`` lines; True
    when a write was then without an outcome (killed mid-step)."""
    env = {**os.environ, "WIX_API_KEY": API_KEY, "PYTHONPATH": f"{ROOT}:{ROOT / 'tests'}"}
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(RUNNER), str(config), product, env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)

    def count() -> int:
        try:
            return journal.read_bytes().count(b"\n")
        except FileNotFoundError:
            return 0

    try:
        reached = await wait_for(lambda: count() >= lines or process.returncode is not None,
                                 timeout_s=60)
        assert reached and process.returncode is None, "the write test ended before the kill"
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()
    return bool(unsettled(read_journal(journal)))


async def _site(emulator: Any, tmp_path: Path) -> tuple[Any, Path, str]:
    emu = await emulator(catalog="v1", generate_products=30, seed=11, site_id=SITE_ID,
                         api_key=API_KEY, rate_limit=None, latency_ms=LATENCY_MS)
    product, other = _pick(emu.state())
    return emu, _config_naming(emu, tmp_path, other), product


def _config_naming(emu: Any, tmp_path: Path, other: dict[str, Any]) -> Path:
    """A configuration whose source names ``other`` only, at a new value: the sync writes
    that one, and must put the tested product back to its value before the test, not
    leave it changed."""
    source = tmp_path / "stock.csv"
    source.write_text(f"sku,quantity\n{other['sku']},{int(other['quantity']) + 3}\n",
                      encoding="utf-8")
    return write_config(tmp_path, url=emu.url, source=source, site_id=SITE_ID,
                        timeout_s=1.0, policy={"max_changed_fraction": 1.0})


def _rows(state: list[dict[str, Any]], product: str) -> list[dict[str, Any]]:
    return [r for r in state if r["product_id"] == product]


@pytest.mark.parametrize("lines", KILL_AT_LINES)
async def test_a_write_test_killed_at_any_step_is_put_back_by_the_next_sync(
        emulator: Any, tmp_path: Path, lines: int) -> None:
    emu, config, product = await _site(emulator, tmp_path)
    before = _rows(emu.state(), product)
    journal = journal_path(tmp_path / "state", "shop")
    mid_step = await _kill_at(config, journal, product, lines)
    if lines in (4, 12, 17, 19):  # just journaled pending, its request held by the latency
        assert mid_step, "the kill did not land while a write was in flight"
    unfinished = unfinished_write_tests(list(read_journal(journal)))
    if lines not in (16, 20):  # only there do the test's lines cancel out
        assert unfinished
    emu.set_faults(latency_ms=0)
    code, _, err = await run_syncd("sync", "--config", str(config))
    assert code == 0, err
    assert _rows(emu.state(), product) == before, f"killed at journal line {lines}: {err}"
    if unfinished:
        assert "write_test_restored" in err or "write_test_found_restored" in err
    assert not unfinished_write_tests(list(read_journal(journal)))
    entries = list(read_journal(journal))
    assert not unsettled(entries)


async def test_a_killed_write_test_is_put_back_by_the_next_write_test(
        emulator: Any, tmp_path: Path) -> None:
    emu, config, product = await _site(emulator, tmp_path)
    before = _rows(emu.state(), product)
    journal = journal_path(tmp_path / "state", "shop")
    assert await _kill_at(config, journal, product, 17)  # the Increment in flight
    emu.set_faults(latency_ms=0)
    settings, site = load_site(config)
    async with SiteSync(site, state_dir=settings.state_dir) as sync:
        await run_write_test(sync, product)
    assert _rows(emu.state(), product) == before
    assert not unsettled(list(read_journal(journal)))


async def test_a_variant_sold_after_the_kill_is_left_as_the_sale_left_it(
        emulator: Any, tmp_path: Path) -> None:
    emu, config, product = await _site(emulator, tmp_path)
    before = _rows(emu.state(), product)
    journal = journal_path(tmp_path / "state", "shop")
    await _kill_at(config, journal, product, 8)  # every variant one unit up, settled
    sold = next(r for r in _rows(emu.state(), product) if int(r["quantity"]) >= 3)
    state = emu.store.by_id[product]
    emu.store.adjust_variant(emu.store.variant(state, sold["variant_id"]), -2)  # a sale
    emu.set_faults(latency_ms=0)
    code, _, err = await run_syncd("sync", "--config", str(config))
    assert code == 0, err
    expected = [dict(r, quantity=int(sold["quantity"]) - 2)
                if r["variant_id"] == sold["variant_id"] else r for r in before]
    assert _rows(emu.state(), product) == expected
    assert "write_test_variant_moved" in err and "write_test_restored" in err


async def test_a_killed_write_test_is_put_back_by_the_next_read_only_probe(
        emulator: Any, tmp_path: Path) -> None:
    emu, config, product = await _site(emulator, tmp_path)
    before = _rows(emu.state(), product)
    journal = journal_path(tmp_path / "state", "shop")
    assert await _kill_at(config, journal, product, 17)  # the Increment in flight
    emu.set_faults(latency_ms=0)
    code, _, err = await run_syncd("probe", "--config", str(config))
    assert code == 0, err
    assert _rows(emu.state(), product) == before
    assert not unfinished_write_tests(list(read_journal(journal)))
    assert not unsettled(list(read_journal(journal)))



# Journal lines of the test on an untracked product whose store applies the increment:
# Increment (pending, outcome), Decrement (pending, outcome); where the store refuses it,
# the first two only. A kill at a pending line lands while its delta is in flight: the
# store may have applied it (``landed``: applied by hand when the kill cut it short) or not.
# The default run keeps the kills the put-back must act on; ``--long-faults`` all of them.
UNTRACKED_KILLS = [("apply", 1, True), pytest.param("apply", 1, False, marks=LONG),
                   ("apply", 2, None), pytest.param("apply", 3, True, marks=LONG),
                   ("apply", 3, False), pytest.param("apply", 4, None, marks=LONG),
                   ("refuse", 1, None), pytest.param("refuse", 2, None, marks=LONG)]


async def _untracked_site(emulator: Any, tmp_path: Path,
                          adjust_untracked: str) -> tuple[Any, Path, str]:
    emu = await emulator(catalog="v1", generate_products=30, seed=11, site_id=SITE_ID,
                         api_key=API_KEY, rate_limit=None, latency_ms=LATENCY_MS,
                         adjust_untracked=adjust_untracked)
    state = emu.state()
    product = next(pid for pid in sorted({str(r["product_id"]) for r in state})
                   if all(not r["tracked"] for r in _rows(state, pid)))
    other = next(r for r in state if r["tracked"] and r["sku"]
                 and sum(1 for o in state if o["sku"] == r["sku"]) == 1)
    return emu, _config_naming(emu, tmp_path, other), product


def _units(emu: Any) -> tuple[int, int]:
    deltas = emu.stats()["deltas"]
    return int(deltas["units_added"]), int(deltas["units_removed"])


@pytest.mark.parametrize(("adjust_untracked", "lines", "landed"), UNTRACKED_KILLS)
async def test_an_untracked_write_test_killed_at_any_step_is_put_back_by_the_next_sync(
        emulator: Any, tmp_path: Path, adjust_untracked: str, lines: int,
        landed: bool | None) -> None:
    emu, config, product = await _untracked_site(emulator, tmp_path, adjust_untracked)
    before = _rows(emu.state(), product)
    journal = journal_path(tmp_path / "state", "shop")
    mid_step = await _kill_at(config, journal, product, lines)
    by_hand = 0
    if lines in (1, 3):  # just journaled pending, its request held by the latency
        assert mid_step, "the kill did not land while a write was in flight"
        (delta,) = unsettled(read_journal(journal))
        assert delta.delta is not None
        added, removed = _units(emu)
        if landed and (added, removed) == ((0, 0) if delta.delta > 0 else (1, 0)):
            # The store received the delta before the kill and applied it.
            state = emu.store.by_id[product]
            emu.store.adjust_variant(emu.store.variant(state, delta.variant_id), delta.delta)
            by_hand = delta.delta
    if (adjust_untracked, lines) in (("apply", 2), ("apply", 3)):
        # The increment landed and is not taken back yet: the journal must say so.
        assert unfinished_write_tests(list(read_journal(journal)))
    emu.set_faults(latency_ms=0)
    code, _, err = await run_syncd("sync", "--config", str(config))
    assert code == 0, err
    assert _rows(emu.state(), product) == before, f"killed at journal line {lines}: {err}"
    added, removed = _units(emu)
    added, removed = added + max(by_hand, 0), removed - min(by_hand, 0)
    assert added == removed <= 1, "a unit was added or taken twice"
    entries = list(read_journal(journal))
    assert not unfinished_write_tests(entries)
    assert not unsettled(entries)
    # The next sync finds nothing left to put back, and sends no delta.
    units = _units(emu)
    code, _, err = await run_syncd("sync", "--config", str(config))
    assert code == 0, err
    assert _rows(emu.state(), product) == before
    assert _units(emu) == units


@pytest.mark.parametrize("landed", [True, pytest.param(False, marks=LONG)])
async def test_a_sync_killed_while_it_takes_back_an_untracked_increment_never_takes_it_twice(
        emulator: Any, tmp_path: Path, landed: bool) -> None:
    emu, config, product = await _untracked_site(emulator, tmp_path, "apply")
    before = _rows(emu.state(), product)
    journal = journal_path(tmp_path / "state", "shop")
    await _kill_at(config, journal, product, 2)  # the increment applied, not taken back
    assert _units(emu) == (1, 0)
    env = {**os.environ, "WIX_API_KEY": API_KEY, "SYNCD_LOG_FORMAT": "json"}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "syncd", "sync", "--config", str(config), env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)

    def undo_sent() -> bool:  # the delta taking the increment back is journaled pending
        return any(e.rollback_of and e.delta is not None
                   for e in unsettled(read_journal(journal)))

    try:
        assert await wait_for(lambda: undo_sent() or process.returncode is not None,
                              timeout_s=60)
        assert process.returncode is None and undo_sent(), "the sync ended before the kill"
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()
    by_hand = 0
    if landed and _units(emu) == (1, 0):
        # The store received the decrement before the kill and applied it.
        (undo,) = unsettled(read_journal(journal))
        assert undo.delta == -1
        state = emu.store.by_id[product]
        emu.store.adjust_variant(emu.store.variant(state, undo.variant_id), -1)
        by_hand = 1
    emu.set_faults(latency_ms=0)
    code, _, err = await run_syncd("sync", "--config", str(config))
    assert code == 0, err
    assert _rows(emu.state(), product) == before, err
    added, removed = _units(emu)
    assert (added, removed + by_hand) == (1, 1), "the increment was taken back twice"
    entries = list(read_journal(journal))
    assert not unfinished_write_tests(entries)
    assert not unsettled(entries)


async def test_an_untracked_quantity_moved_after_the_kill_is_left_as_it_is_and_reported(
        emulator: Any, tmp_path: Path) -> None:
    emu, config, product = await _untracked_site(emulator, tmp_path, "apply")
    journal = journal_path(tmp_path / "state", "shop")
    await _kill_at(config, journal, product, 1)  # the increment in flight
    (increment,) = unsettled(read_journal(journal))
    state = emu.store.by_id[product]
    emu.store.adjust_variant(emu.store.variant(state, increment.variant_id), 5)  # an edit
    moved = _rows(emu.state(), product)
    units = _units(emu)
    emu.set_faults(latency_ms=0)
    code, _, err = await run_syncd("sync", "--config", str(config))
    assert code == 0, err
    assert _rows(emu.state(), product) == moved
    assert _units(emu) == units, "a delta was sent on a guess"
    assert "write_test_variant_moved" in err
    assert not unsettled(list(read_journal(journal)))
