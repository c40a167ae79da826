"""Reads that cost what they show, on either backend: the newest runs, the lines about a
SKU, one run, the open writes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from syncd.base.model import Catalog, StoreSnapshot, StoreVariant
from syncd.core.explain import sku_needles
from syncd.core.journal import Journal, Outcome
from syncd.core.plan import ChangeReason, StockChange
from syncd.edges.backend import StateBackend
from syncd.edges.backend.reading import recent_runs

SITE = "shop"
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _variant(sku: str, variant_id: str) -> StoreVariant:
    return StoreVariant(product_id="P", variant_id=variant_id, inventory_item_id="I", sku=sku,
                        tracked=True, quantity=1, in_stock=True, hidden=False)


async def _runs(backend: StateBackend, count: int) -> None:
    for n in range(count):
        at = T0 + timedelta(minutes=5 * n)
        store = backend.journal(SITE, run_id=f"run-{n:03d}").store
        async with Journal(store, site=SITE, run_id=f"run-{n:03d}", clock=lambda at=at: at) as j:
            changes = [StockChange(_variant(f"SKU-{n}-{k}", f"V-{n}-{k}"), 2, None, True,
                                   ChangeReason.QUANTITY, None) for k in range(2)]
            if n % 10 == 0:  # the hot SKU, under another variant id's name now and then
                changes.append(StockChange(_variant("HOT", "V-HOT"), n, None, True,
                                           ChangeReason.QUANTITY, None))
            done = await j.write_pending(changes)
            await j.settle(done, Outcome.APPLIED)


async def test_the_newest_runs_are_listed_and_older_ones_said_to_exist(
    state_backend: StateBackend
):
    await _runs(state_backend, 60)
    found, whole = await recent_runs(state_backend, SITE, 5)
    assert [r.run_id for r in found] == [f"run-{n:03d}" for n in range(55, 60)]
    assert not whole and all(r.count(Outcome.APPLIED) >= 2 for r in found)
    found, whole = await recent_runs(state_backend, SITE, 500)
    assert len(found) == 60 and whole


async def test_the_lines_about_a_sku_are_found_among_the_newest_only(
    state_backend: StateBackend
):
    await _runs(state_backend, 60)
    snapshot = StoreSnapshot(Catalog.V1, (_variant("HOT", "V-HOT"),))
    about = await state_backend.read_recent_about(SITE, sku_needles("HOT", snapshot),
                                                  limit=4, window=10_000)
    assert [(e.run_id, e.outcome) for e in about] == [
        ("run-040", Outcome.PENDING), ("run-040", Outcome.APPLIED),
        ("run-050", Outcome.PENDING), ("run-050", Outcome.APPLIED)]
    # Only the newest `window` lines are searched (each run here writes 4 to 6 lines).
    near = await state_backend.read_recent_about(SITE, sku_needles("HOT", snapshot),
                                                 limit=100, window=50)
    assert {e.run_id for e in near} == {"run-050"}
