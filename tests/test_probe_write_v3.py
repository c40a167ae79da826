"""The probe's write test on an emulated Catalog V3 store: one Bulk Update of a real item
written its own value and a missing item shows whether errors are per item and results
indexed, each switch on and off, and no item's stock changes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from support.sync import API_KEY, load_site, write_config
from syncd.cycle.probe_write import WRITE_TEST_CALLS, WriteTestRecord, run_write_test
from syncd.cycle.sync import SiteSync
from syncd.cycle.write_test_runs import unfinished_write_tests
from syncd.edges.backend.local.journal import journal_path, read_journal
from syncd_emulator.variants import WixVariants

SITE_ID = "probe-v3"


def stock(state: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every item's stock; the revision a write of the same value moves is left out."""
    return [{k: v for k, v in r.items() if k != "revision"} for r in state]


@pytest.mark.parametrize(("switches", "errors", "order"), [
    ("", "per_item", "indexed"),
    ("bulk_results_unordered", "per_item", "unordered"),
    ("whole_bulk_errors", "whole_call", "undetermined"),
    ("whole_bulk_errors,bulk_results_unordered", "whole_call", "undetermined"),
    ("sparse_json", "per_item", "indexed"),
])
async def test_a_v3_write_test_reads_how_bulk_update_reports_a_bad_item(
        emulator: Any, tmp_path: Path, switches: str, errors: str, order: str) -> None:
    emu = await emulator(catalog="v3", generate_products=20, seed=3, site_id=SITE_ID,
                         api_key=API_KEY, rate_limit=None,
                         variants=WixVariants.parse(switches))
    before = emu.state()
    product = next(str(r["product_id"]) for r in before
                   if r["tracked"] and r["inventory_item_id"] and r["quantity"] is not None)
    source = tmp_path / "stock.csv"
    source.write_text("sku,quantity\n", encoding="utf-8")
    settings, site = load_site(write_config(tmp_path, url=emu.url, source=source,
                                            site_id=SITE_ID, timeout_s=2.0))
    sync = SiteSync(site, state_dir=settings.state_dir)
    record = WriteTestRecord()
    async with sync:
        findings = await run_write_test(sync, product, record=record)
    found = {f.point: f.reading for f in findings}
    assert (found["bulk_errors"], found["bulk_results_order"]) == (errors, order), findings
    assert {p for p, r in found.items() if r != "undetermined"} <= {"bulk_errors",
                                                                   "bulk_results_order"}
    assert stock(emu.state()) == stock(before), "an item's stock changed"
    assert record.restored and not record.left
    entries = list(read_journal(journal_path(sync.state_dir, "shop")))
    assert entries and {e.run_id for e in entries} == {record.run_id}
    assert {e.outcome.value for e in entries} >= {"pending"}
    assert not unfinished_write_tests(entries)
    assert all((e.before.tracked, e.before.quantity) == (e.after.tracked, e.after.quantity)
               for e in entries), "the journaled write changes nothing"
    assert record.calls <= WRITE_TEST_CALLS
    assert int(emu.stats()["requests_total"]) - 1 <= WRITE_TEST_CALLS  # type: ignore[call-overload]
