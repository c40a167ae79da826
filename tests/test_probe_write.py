"""The probe's write test on an emulated store: it reads the store's behaviour right, stays
within its call budget, and leaves the product exactly as it was, stopped or not."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from support.sync import API_KEY, load_site, write_config
from syncd.core.findings import Finding
from syncd.cycle.probe_write import STEPS, WRITE_TEST_CALLS, WriteTestRecord, run_write_test
from syncd.cycle.sync import SiteSync
from syncd.cycle.write_test_runs import unfinished_write_tests
from syncd.edges.backend.local.journal import journal_path, read_journal
from syncd_emulator import RunningEmulator
from syncd_emulator.variants import WixVariants, ignores_write

PRODUCTS = 40
SITE_ID = "probe-site"


def product_rows(state: list[dict[str, Any]], product_id: str) -> list[dict[str, Any]]:
    return sorted((r for r in state if r["product_id"] == product_id),
                  key=lambda r: str(r["variant_id"]))


def pick_product(state: list[dict[str, Any]]) -> str:
    """A tracked product with several variants, one of which ``ignored_writes`` ignores."""
    by_product: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in state:
        by_product[str(r["product_id"])].append(r)
    for pid, rows in sorted(by_product.items()):
        if (len(rows) >= 2 and all(r["tracked"] and r["quantity"] is not None for r in rows)
                and any(ignores_write(pid, str(r["variant_id"])) for r in rows)
                and not all(ignores_write(pid, str(r["variant_id"])) for r in rows)):
            return pid
    raise AssertionError("the generated store has no product to test")


def pick_untracked(state: list[dict[str, Any]]) -> str:
    """A product that does not track quantities."""
    by_product: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in state:
        by_product[str(r["product_id"])].append(r)
    for pid, rows in sorted(by_product.items()):
        if all(not r["tracked"] for r in rows):
            return pid
    raise AssertionError("the generated store has no untracked product")


async def start(emulator: Any, tmp_path: Path, *, switches: str = "",
                **config: Any) -> tuple[RunningEmulator, SiteSync]:
    emu = await emulator(catalog="v1", generate_products=PRODUCTS, seed=7, site_id=SITE_ID,
                         api_key=API_KEY, rate_limit=None,
                         variants=WixVariants.parse(switches), read_lag_s=1.0, **config)
    source = tmp_path / "stock.csv"
    source.write_text("sku,quantity\n", encoding="utf-8")
    path = write_config(tmp_path, url=emu.url, source=source, site_id=SITE_ID, timeout_s=2.0)
    settings, site = load_site(path)
    return emu, SiteSync(site, state_dir=settings.state_dir)


def readings(findings: list[Finding]) -> dict[str, str]:
    return {f.point: f.reading for f in findings}


@pytest.mark.parametrize(("switches", "expected"), [
    ("", {"read_lag": "none", "write_answer_lost": "never_seen",
          "empty_answer_applied": "applied"}),
    ("read_lag", {"read_lag": "lag", "write_answer_lost": "never_seen",
                  "empty_answer_applied": "applied"}),
    ("applied_5xx", {"read_lag": "none", "write_answer_lost": "applied_then_5xx",
                     "empty_answer_applied": "applied"}),
    ("ignored_writes", {"read_lag": "none", "write_answer_lost": "never_seen",
                        "empty_answer_applied": "ignored"}),
])
async def test_the_write_test_reads_each_switch_and_puts_the_product_back(
        emulator: Any, tmp_path: Path, switches: str, expected: dict[str, str]) -> None:
    emu, sync = await start(emulator, tmp_path, switches=switches)
    before = emu.state()
    product = pick_product(before)
    record = WriteTestRecord()
    async with sync:
        findings = await run_write_test(sync, product, record=record)
    found = readings(findings)
    for point, reading in expected.items():
        assert found[point] == reading, findings
    if switches == "read_lag":
        lag = next(f for f in findings if f.point == "read_lag")
        assert lag.measured["seconds"] >= 1.0 and lag.measured["samples"] >= 3
    assert found["untracked_increment"] == "undetermined"
    untracked = next(f for f in findings if f.point == "untracked_increment")
    assert "name a product that does not track quantities" in untracked.evidence
    assert emu.state() == before, "the product is not exactly as it was"
    assert record.restored and not record.left
    entries = list(read_journal(journal_path(sync.state_dir, "shop")))
    assert {e.run_id for e in entries} == {record.run_id}, "every write is journaled"
    assert not unfinished_write_tests(entries), "the journal shows the test unfinished"
    requests = int(emu.stats()["requests_total"])  # type: ignore[call-overload]
    assert requests - 1 <= WRITE_TEST_CALLS  # the catalog version is asked once per site
    assert record.calls <= WRITE_TEST_CALLS
    stats = emu.stats()
    assert stats["writes"]["calls"] >= 4  # type: ignore[index]


@pytest.mark.parametrize(("switches", "adjust", "expected"), [
    ("", {}, "refused"),
    ("", {"adjust_bad_entry": "skip_entry"}, "skipped"),
    ("", {"adjust_untracked": "apply"}, "applied"),
    ("", {"adjust_untracked": "apply", "adjust_bad_entry": "skip_entry"}, "applied"),
    ("read_lag", {"adjust_untracked": "apply"}, "applied"),
    ("read_lag", {"adjust_bad_entry": "skip_entry"}, "skipped"),
])
async def test_an_untracked_product_shows_what_an_increment_does_and_is_put_back(
        emulator: Any, tmp_path: Path, switches: str, adjust: dict[str, str],
        expected: str) -> None:
    emu, sync = await start(emulator, tmp_path, switches=switches, **adjust)
    before = emu.state()
    product = pick_untracked(before)
    record = WriteTestRecord()
    async with sync:
        findings = await run_write_test(sync, product, record=record)
    found = readings(findings)
    assert found["untracked_increment"] == expected, findings
    assert {p for p, r in found.items() if r != "undetermined"} == {"untracked_increment"}
    assert emu.state() == before, "the product is not exactly as it was"
    assert record.restored and not record.left
    deltas = emu.stats()["deltas"]  # type: ignore[index]
    moved = 1 if expected == "applied" else 0
    assert (deltas["units_added"], deltas["units_removed"]) == (moved, moved)
    entries = list(read_journal(journal_path(sync.state_dir, "shop")))
    assert {e.run_id for e in entries} == {record.run_id}, "every write is journaled"
    assert sum(1 for e in entries if e.delta is not None) == 2 * (1 + moved)  # pending, outcome
    assert not unfinished_write_tests(entries), "the journal shows the test unfinished"
    requests = int(emu.stats()["requests_total"])  # type: ignore[call-overload]
    assert requests - 1 <= WRITE_TEST_CALLS and record.calls <= WRITE_TEST_CALLS


@pytest.mark.parametrize("stop_after", STEPS[:-1])
async def test_a_stop_after_any_step_still_puts_the_product_back(
        emulator: Any, tmp_path: Path, stop_after: str) -> None:
    emu, sync = await start(emulator, tmp_path, switches="read_lag")
    before = emu.state()
    product = pick_product(before)
    stop = asyncio.Event()
    done: list[str] = []

    def on_step(step: str) -> None:
        done.append(step)
        if step == stop_after:
            stop.set()

    record = WriteTestRecord()
    async with sync:
        await run_write_test(sync, product, stop=stop, on_step=on_step, record=record)
    assert stop_after in done
    assert done[-1] == "restore" or stop_after == "read_before"
    assert emu.state() == before, f"stopped after {stop_after}: the product changed"
    assert record.restored
    assert not unfinished_write_tests(list(read_journal(journal_path(sync.state_dir,
                                                                      "shop"))))


async def test_a_plain_rollback_after_a_write_test_undoes_the_last_sync_not_the_test(
        emulator: Any, tmp_path: Path) -> None:
    emu, sync = await start(emulator, tmp_path)
    state = emu.state()
    product = pick_product(state)
    other = next(r for r in state if r["product_id"] != product and r["tracked"]
                 and r["sku"] and sum(1 for o in state if o["sku"] == r["sku"]) == 1)
    source = tmp_path / "stock.csv"
    source.write_text(f"sku,quantity\n{other['sku']},{int(other['quantity']) + 2}\n",
                      encoding="utf-8")
    async with sync:
        synced = await sync.sync(force=True)
        assert synced.applied is not None and synced.applied.written == 1
        await run_write_test(sync, product)
        planned, _ = await sync.rollback(dry_run=True)
    assert planned.run_id == synced.run_id
    assert [c.variant.sku for c in planned.plan.changes] == [other["sku"]]
