"""Undoing a sync from its journal: what is restored, what is left alone, and why."""

from __future__ import annotations

import asyncio
import os
import sys

import pytest

from support.sync import API_KEY, drifted_source, load_site, state_by_key, write_config
from syncd.base.errors import SyncdError
from syncd.base.model import Catalog, StoreSnapshot, StoreVariant
from syncd.core.journal import StockState
from syncd.core.rollback import RollbackPoint, plan_rollback
from syncd.cycle.sync import SiteSync


def _variant(quantity: int | None, *, tracked: bool = True, in_stock: bool = True,
             variant_id: str = "v1") -> StoreVariant:
    return StoreVariant(product_id="p1", variant_id=variant_id, inventory_item_id="i1",
                        sku=f"SKU-{variant_id}", tracked=tracked, quantity=quantity,
                        in_stock=in_stock, hidden=False)


def _point(before: StockState, after: StockState, variant_id: str = "v1") -> RollbackPoint:
    return RollbackPoint(run_id="r1", product_id="p1", variant_id=variant_id,
                         sku=f"SKU-{variant_id}", inventory_item_id="i1", location_id=None,
                         before=before, after=after, revision=None, writes=1)


TRACKED_3 = StockState(quantity=3, in_stock=None, tracked=True)
TRACKED_7 = StockState(quantity=7, in_stock=None, tracked=True)


class TestPlanRollback:
    """The pure planning step."""

    def _plan(self, current: StoreVariant, point: RollbackPoint, **kw):
        snapshot = StoreSnapshot(Catalog.V1, (current,))
        return plan_rollback("r1", {("p1", current.variant_id, ""): point}, snapshot, **kw)

    def test_variant_still_holding_the_runs_value_is_restored(self):
        planned = self._plan(_variant(7), _point(TRACKED_3, TRACKED_7))
        [change] = planned.plan.changes
        assert (change.quantity, change.track, change.reason.value) == (3, True, "rollback")

    def test_variant_changed_since_the_run_is_left_alone_and_reported(self):
        planned = self._plan(_variant(6), _point(TRACKED_3, TRACKED_7))
        assert planned.plan.changes == ()
        assert [d.current.quantity for d in planned.drifted] == [6]

    def test_drifted_variant_is_restored_when_asked(self):
        planned = self._plan(_variant(6), _point(TRACKED_3, TRACKED_7), include_drifted=True)
        assert [c.quantity for c in planned.plan.changes] == [3]

    def test_variant_already_holding_its_old_value_needs_nothing(self):
        planned = self._plan(_variant(3), _point(TRACKED_3, TRACKED_7))
        assert planned.plan.changes == () and planned.already_restored == 1

    def test_tracking_switched_on_by_the_run_is_switched_back_off(self):
        before = StockState(quantity=0, in_stock=True, tracked=False)
        planned = self._plan(_variant(7), _point(before, TRACKED_7))
        [change] = planned.plan.changes
        assert (change.quantity, change.in_stock, change.track) == (None, True, False)

    def test_variant_gone_from_the_store_is_reported_missing(self):
        snapshot = StoreSnapshot(Catalog.V1, ())
        planned = plan_rollback("r1", {("p1", "v1", ""): _point(TRACKED_3, TRACKED_7)},
                                snapshot)
        assert planned.plan.changes == () and len(planned.missing) == 1


@pytest.mark.parametrize("catalog", ["v1", "v3"])
async def test_rollback_restores_the_store_except_what_changed_since(emulator, tmp_path,
                                                                      catalog):
    emu = await emulator(catalog=catalog, generate_products=80, seed=21, rate_limit=None,
                         api_key=API_KEY)
    initial = emu.state()
    source = tmp_path / "stock.csv"
    drifted_source(initial, source, drift=0.3)
    config = write_config(tmp_path, url=emu.url, source=source, rate_limit=(100_000, 1.0))
    settings, site = load_site(config)
    async with SiteSync(site, state_dir=settings.state_dir) as sync:
        result = await sync.sync()
        assert result.applied is not None and result.applied.written > 2
        # A shopper buys one unit of a variant the sync wrote.
        sold = result.planned.plan.changes[0].variant
        key = (sold.product_id, sold.variant_id, sold.inventory_item_id)
        _sell_one(emu, key)
        planned, applied = await sync.rollback()
    assert applied is not None and applied.complete
    assert [d.point.variant_id for d in planned.drifted] == [sold.variant_id]
    final = state_by_key(emu.state())
    for k, row in state_by_key(initial).items():
        now = final[k]
        if k == key:
            assert now["quantity"] == result.planned.plan.changes[0].quantity - 1
        else:
            assert (now["quantity"], now["in_stock"], now["tracked"]) == (
                row["quantity"], row["in_stock"], row["tracked"]), row["sku"]


def _sell_one(emu, key) -> None:
    product_id, variant_id, item_id = key
    product = next(p for p in emu.store.products if p.id == product_id)
    variant = next(v for v in product.variants if v.id == variant_id)
    if variant.items:
        item = next(i for i in variant.items if i.id == item_id)
        emu.store.adjust_item(item, -1)
    else:
        emu.store.adjust_variant(variant, -1)


async def test_rollback_without_a_journal_says_there_is_nothing_to_undo(emulator, tmp_path):
    emu = await emulator(catalog="v1", generate_products=5, rate_limit=None, api_key=API_KEY)
    source = tmp_path / "stock.csv"
    drifted_source(emu.state(), source, drift=0)
    settings, site = load_site(write_config(tmp_path, url=emu.url, source=source))
    async with SiteSync(site, state_dir=settings.state_dir) as sync:
        with pytest.raises(SyncdError, match="no applied write"):
            await sync.rollback()


async def _syncd(*args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "syncd", *args, env={**os.environ, "WIX_API_KEY": API_KEY},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_rollback_command_lists_runs_previews_and_undoes(emulator, tmp_path):
    emu = await emulator(catalog="v1", generate_products=30, seed=22, rate_limit=None,
                         api_key=API_KEY)
    initial = emu.state()
    source = tmp_path / "stock.csv"
    drifted_source(initial, source, drift=0.3)
    config = str(write_config(tmp_path, url=emu.url, source=source))
    assert (await _syncd("sync", "--config", config))[0] == 0
    code, out, _ = await _syncd("rollback", "--config", config, "--list")
    assert code == 0 and "writes applied" in out
    writes = emu.stats()["writes"]
    code, out, _ = await _syncd("rollback", "--config", config, "--dry-run")
    assert code == 2 and "rollback" in out
    assert emu.stats()["writes"] == writes
    code, out, err = await _syncd("rollback", "--config", config)
    assert code == 0, err
    assert emu.state() == initial
    code, out, _ = await _syncd("rollback", "--config", config, "--dry-run")
    # A plain rollback never undoes a rollback: the sync is already undone.
    assert code == 0
    code, out, _ = await _syncd("rollback", "--config", config, "--list")
    rollback_run = next(line.split()[0] for line in out.splitlines() if "rollback of" in line)
    code, out, _ = await _syncd("rollback", "--config", config, "--run", rollback_run,
                                "--dry-run")
    # Undoing the rollback is still possible, by naming it.
    assert code == 2
