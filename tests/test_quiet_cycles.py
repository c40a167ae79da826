"""A full cycle whose store answers exactly as at the last read that planned nothing.

Most cycles of a daemon's stores find nothing to do. When a V1 walk's answers are those of
the last cycle's read, byte for byte, for the same source, hints and settings, with no
write open, the plan is that cycle's (nothing): the walk stops before turning its answers
into variants. Any difference plans as usual; the calls are the same either way."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from support.sync import API_KEY, drifted_source, load_site, write_config
from syncd.base.model import StoreVariant
from syncd.core.journal import JournalEntry
from syncd.core.plan import ChangeReason, StockChange
from syncd.cycle.sync import SiteSync
from syncd.edges.wix import walk_v1


async def _quiet_site(emulator, tmp_path: Path, products: int = 250, catalog: str = "v1",
                      **config):
    emu = await emulator(catalog=catalog, generate_products=products, seed=5, rate_limit=None,
                         api_key=API_KEY)
    source = tmp_path / "stock.csv"
    desired = drifted_source(emu.state(), source, drift=0.05)
    settings, site = load_site(write_config(tmp_path, url=emu.url, source=source,
                                            rate_limit=(100_000, 1.0), **config))
    sync = SiteSync(site, state_dir=settings.state_dir)
    await sync.__aenter__()
    try:
        wrote = await sync.sync()  # writes the drift
        first_quiet = await sync.sync()  # reads the written store: nothing to do
    except BaseException:
        await sync.__aexit__(None, None, None)
        raise
    assert wrote.planned.plan.changes
    assert not first_quiet.planned.plan.changes and not first_quiet.planned.snapshot.unchanged
    return emu, sync, source, desired, first_quiet


@pytest.mark.parametrize("catalog", ["v1", "v3"])
async def test_a_store_answering_as_at_the_last_quiet_read_is_not_planned_again(
        emulator, tmp_path, catalog):
    _emu, sync, _, _, first_quiet = await _quiet_site(emulator, tmp_path, catalog=catalog)
    try:
        again = await sync.sync()
    finally:
        await sync.__aexit__(None, None, None)
    assert again.planned.snapshot.unchanged and again.planned.snapshot.variants == ()
    assert again.planned.plan == first_quiet.planned.plan
    assert again.api_calls == first_quiet.api_calls  # the same walk, only not flattened
    assert again.applied is not None and again.applied.written == 0


@pytest.mark.parametrize("catalog", ["v1", "v3"])
async def test_a_sale_since_the_quiet_read_is_planned_and_written(emulator, tmp_path, catalog):
    emu, sync, _, desired, _ = await _quiet_site(emulator, tmp_path, catalog=catalog)
    row = next(r for r in emu.state() if r["sku"] in desired and desired[r["sku"]] > 0)
    store = emu.store
    if catalog == "v3":
        store.adjust_item(store.items_by_id[str(row["inventory_item_id"])], -1)
    else:
        store.adjust_variant(store.variant(store.by_id[str(row["product_id"])],
                                           str(row["variant_id"])), -1)
    try:
        after_sale = await sync.sync()
        settled = await sync.sync()
    finally:
        await sync.__aexit__(None, None, None)
    assert not after_sale.planned.snapshot.unchanged
    assert [(c.variant.sku, c.quantity) for c in after_sale.planned.plan.changes] == \
        [(row["sku"], desired[row["sku"]])]
    assert not settled.planned.plan.changes  # and the next read plans nothing again
    assert {r["sku"]: r["quantity"] for r in emu.state()}[row["sku"]] == desired[row["sku"]]


async def test_a_changed_source_is_planned_though_the_store_answers_the_same(
        emulator, tmp_path):
    _emu, sync, source, desired, _ = await _quiet_site(emulator, tmp_path)
    sku = next(iter(desired))
    desired[sku] += 3
    source.write_text("sku,quantity\n" + "".join(f"{s},{q}\n" for s, q in desired.items()))
    try:
        changed = await sync.sync()
    finally:
        await sync.__aexit__(None, None, None)
    assert not changed.planned.snapshot.unchanged
    assert [(c.variant.sku, c.quantity) for c in changed.planned.plan.changes] == \
        [(sku, desired[sku])]


async def test_a_source_rewritten_with_the_same_rows_is_planned_again(emulator, tmp_path):
    _emu, sync, source, _, first_quiet = await _quiet_site(emulator, tmp_path)
    text = source.read_text()
    source.write_text(text.replace("sku,quantity\n", "sku,quantity\n\n"))  # lines move
    try:
        again = await sync.sync()
        after = await sync.sync()
    finally:
        await sync.__aexit__(None, None, None)
    assert not again.planned.snapshot.unchanged and not again.planned.plan.changes
    assert again.planned.source.digest() == first_quiet.planned.source.digest()
    assert after.planned.snapshot.unchanged  # and the rows read from the new file are kept


async def test_a_write_left_open_keeps_the_cycle_reading_everything(emulator, tmp_path):
    # Absolute writes: an open one is settled by the next full read, where an open delta
    # would be waited out first.
    emu, sync, _, _, _ = await _quiet_site(emulator, tmp_path,
                                           policy={"write_mode": "absolute"})
    written = next(v for v in emu.state() if v["tracked"] and v["sku"])
    # As a run killed between its journal line and its write leaves it:
    entry = JournalEntry.pending(
        StockChange(_variant(written), int(written["quantity"] or 0) + 1, None, True,
                    ChangeReason.QUANTITY, None),
        write_id="w-open", run_id="r-killed", site="shop", at=datetime.now(UTC))
    sync.open_writes._open[entry.write_id] = entry
    try:
        cycle = await sync.sync()
    finally:
        await sync.__aexit__(None, None, None)
    assert not cycle.planned.snapshot.unchanged and cycle.planned.snapshot.variants


def _variant(row) -> StoreVariant:
    return StoreVariant(product_id=str(row["product_id"]), variant_id=str(row["variant_id"]),
                        inventory_item_id=row["inventory_item_id"], sku=row["sku"],
                        tracked=True, quantity=row["quantity"], in_stock=row["in_stock"],
                        hidden=False)


async def test_a_store_larger_than_the_deferral_limit_is_flattened_page_by_page(
        emulator, tmp_path, monkeypatch):
    monkeypatch.setattr(walk_v1, "DEFER_MAX_PRODUCTS", 100)
    _emu, sync, _, _, first_quiet = await _quiet_site(emulator, tmp_path, products=250)
    try:
        again = await sync.sync()
    finally:
        await sync.__aexit__(None, None, None)
    assert not again.planned.snapshot.unchanged
    assert again.planned.snapshot.answers == first_quiet.planned.snapshot.answers
    assert not again.planned.plan.changes
