"""A sync racing live orders: what syncd guarantees while shoppers buy stock.

syncd's source gives *absolute* levels ("SKU X should have 7"). A sale during a sync does
not change what the source wants, so after the sync the item holds 7 either way; the
question is whether syncd ever writes over a sale it has not seen.

Catalog V3 (inventory items with revisions). Every write carries the revision the write
was planned from, and Wix applies it only if the item is still at that revision. So:

- a write is never applied on top of a change syncd did not read: a sale between the read
  and the write makes the write fail as stale, nothing is written, the journal records a
  ``conflict``, syncd re-reads just those items and re-plans them from the fresh value
  (no write at all if the item now already holds the desired level), and writes again
  with the new revision (up to ``syncd.apply.absolute.CONFLICT_ROUNDS`` rounds; an item still
  racing after that is reported as failed and left to the next cycle);
- the journal's before-value of the write that landed is the post-sale level, so the sale
  is accounted for in the journal and a rollback would restore the level *after* the
  sale, never resurrect sold units ("no lost order");
- sales after syncd's write are never undone by syncd within the cycle.

Checked here exactly: each unit the shopper sells decrements one item's quantity by one
and bumps its revision by one, so at the end every item must hold its last known value
minus the revisions since (``desired - (revision now - revision syncd wrote)`` for items
syncd wrote, ``initial - (revision now - initial revision)`` for the others), and every
applied write's new revision is exactly one more than the revision it was planned from.

Catalog V1 (Inventory V2) has no revisions: an absolute write always lands. A sale between
the walk that read a product and the write of that product is overwritten, and the
journal's before-value misses it. The exposure window is the time from the page that read
the product to the product's write: the rest of the walk, the plan, and the product's
place in the write queue (at Wix's 200 requests per minute a product written behind the
first minute's budget waits a minute or more; ``tests/bench/bench_window.py`` measures it).
syncd does not re-read V1 products before writing them; doing so would shrink the window
to one round trip at the cost of one extra Query Products call per 100 products written.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from support.faults import (
    API_KEY,
    SITE,
    SITE_ID,
    double_applied_errors,
    end_state_errors,
    make_desired,
    read_entries,
    sync_once,
    sync_until_converged,
    write_site,
)
from syncd.apply.absolute import apply_plan
from syncd.core.journal import Outcome, new_run_id
from syncd.cycle.results import SyncResult
from syncd.cycle.sync import SiteSync
from syncd.edges.backend import LocalBackend

pytestmark = pytest.mark.faults


def _sell(emu, units: int, *, seed: int) -> int:
    """``units`` orders, exactly as the emulator's shopper places them; returns units sold."""
    rng = random.Random(seed)
    return sum(emu.store.sell_one(rng) for _ in range(units))


async def test_v3_write_on_a_stale_revision_is_rejected_then_replanned_from_fresh_data(
    emulator, tmp_path
):
    emu = await emulator(catalog="v3", generate_products=150, seed=41, site_id=SITE_ID,
                         api_key=API_KEY, rate_limit=None)
    initial = emu.state()
    desired = make_desired(initial, drift=1.0, seed=41)  # every named item gets a new level
    files = write_site(tmp_path, url=emu.url, desired=desired)
    settings = files.settings()
    async with SiteSync(settings.sites[0], state_dir=settings.state_dir) as sync:
        planned = await sync.plan()
        at_plan = {r["inventory_item_id"]: r for r in emu.state()}
        assert _sell(emu, 200, seed=41) == 200  # orders between the read and the write
        now = {r["inventory_item_id"]: r for r in emu.state()}
        sold = {item: int(row["revision"]) - int(at_plan[item]["revision"])  # one per unit
                for item, row in now.items() if row["revision"] != at_plan[item]["revision"]}
        planned_items = {c.variant.inventory_item_id for c in planned.plan.changes}
        raced = planned_items & sold.keys()
        journal = LocalBackend(settings.state_dir).journal(
            SITE, run_id=new_run_id(datetime.now(UTC)))
        async with journal:
            report = await apply_plan(planned.plan, store=await sync.store(), journal=journal)

    assert raced, "the orders must hit planned items for this test to mean anything"
    assert report.complete
    assert report.conflict_retries == len(raced)
    final = {r["inventory_item_id"]: r for r in emu.state()}
    for item_id, row in final.items():
        if item_id in planned_items:
            assert row["quantity"] == desired[row["sku"]]
        elif row["tracked"]:  # not syncd's to write: the orders stand
            assert row["quantity"] == at_plan[item_id]["quantity"] - sold.get(item_id, 0)
        else:  # untracked: shoppers cannot take units that are not counted
            assert row == at_plan[item_id]

    entries, bad = read_entries(files)
    assert bad == []
    by_item: dict[str, list] = {}
    for e in entries:
        by_item.setdefault(e.inventory_item_id, []).append(e)
    for item_id in raced:
        first_try, refused, retry, landed = by_item[item_id]
        assert (first_try.outcome, refused.outcome, retry.outcome, landed.outcome) == (
            Outcome.PENDING, Outcome.CONFLICT, Outcome.PENDING, Outcome.APPLIED)
        # Re-planned from the fresh read: the sales are in the before-value and revision.
        assert retry.before.quantity == first_try.before.quantity - sold[item_id]
        assert int(retry.revision) == int(first_try.revision) + sold[item_id]
        assert int(landed.revision) == int(retry.revision) + 1
    for item_id in planned_items - raced:
        assert [e.outcome for e in by_item[item_id]] == [Outcome.PENDING, Outcome.APPLIED]


async def test_v3_sync_racing_a_live_shopper_never_writes_over_a_sale_it_did_not_read(
    emulator, tmp_path, long_faults
):
    emu = await emulator(catalog="v3", generate_products=600 if long_faults else 300, seed=42,
                         site_id=SITE_ID, api_key=API_KEY, rate_limit=None, latency_ms=10)
    initial = emu.state()
    desired = make_desired(initial, drift=0.5, seed=42)
    files = write_site(tmp_path, url=emu.url, desired=desired)

    emu.set_faults(shopper_rate=500.0)
    result = await sync_once(files)
    emu.set_faults(shopper_rate=0.0)
    raced = emu.stats()
    during = emu.state()

    assert isinstance(result, SyncResult), result
    assert raced["shopper_sales"] > 0
    entries, bad = read_entries(files)
    assert bad == []
    pending_revision = {e.write_id: e.revision for e in entries if e.outcome is Outcome.PENDING}
    written_at: dict[str, int] = {}
    for e in entries:
        if e.outcome is Outcome.APPLIED:
            # Applied on exactly the revision it was planned from, and nothing in between.
            assert int(e.revision) == int(pending_revision[e.write_id]) + 1
            written_at[e.inventory_item_id] = int(e.revision)
    start = {r["inventory_item_id"]: r for r in initial}
    for row in during:
        item_id = row["inventory_item_id"]
        if item_id is None or not row["tracked"]:
            continue
        if item_id in written_at:  # syncd's value, minus what sold after it
            expected = desired[row["sku"]] - (int(row["revision"]) - written_at[item_id])
        else:  # never written by syncd: every sale stands
            expected = start[item_id]["quantity"] - (
                int(row["revision"]) - int(start[item_id]["revision"]))
        assert row["quantity"] == expected, row

    # Once the shop is quiet, the next sync brings every named item back to the source.
    await sync_until_converged(files, max_runs=3)
    final = emu.state()
    named = [r for r in final if r["sku"] in desired]
    assert all(r["quantity"] == desired[r["sku"]] for r in named)


async def test_v1_sale_between_read_and_write_is_overwritten_as_documented(emulator, tmp_path):
    emu = await emulator(catalog="v1", generate_products=60, seed=43, site_id=SITE_ID,
                         api_key=API_KEY, rate_limit=None)
    initial = emu.state()
    desired = make_desired(initial, drift=1.0, seed=43)
    files = write_site(tmp_path, url=emu.url, desired=desired)
    settings = files.settings()
    async with SiteSync(settings.sites[0], state_dir=settings.state_dir) as sync:
        planned = await sync.plan()
        change = planned.plan.changes[0]
        variant = emu.store.by_id[change.variant.product_id].variants_by_id[
            change.variant.variant_id]
        read_quantity = variant.quantity
        emu.store.adjust_variant(variant, -1)  # an order after the walk read the product
        journal = LocalBackend(settings.state_dir).journal(
            SITE, run_id=new_run_id(datetime.now(UTC)))
        async with journal:
            report = await apply_plan(planned.plan, store=await sync.store(), journal=journal)

    assert report.complete and report.conflict_retries == 0
    # No revision on V1: the write lands over the sale, and the journal never saw it.
    assert variant.quantity == desired[change.variant.sku] != read_quantity - 1
    entries, _ = read_entries(files)
    applied = [e for e in entries if e.outcome is Outcome.APPLIED
               and e.variant_id == change.variant.variant_id
               and e.product_id == change.variant.product_id]
    assert [e.before.quantity for e in applied] == [read_quantity]
    assert end_state_errors(initial, emu.state(), desired) == []


async def test_v1_delta_sync_racing_a_live_shopper_keeps_every_sale_and_adds_nothing_twice(
    emulator, tmp_path, long_faults
):
    """With ``write_mode: delta`` a V1 sync never writes an absolute value over a sale: it
    adds exactly the units it planned from what it read, so every sale made meanwhile
    stands, whether it came before or after the delta."""
    emu = await emulator(catalog="v1", generate_products=600 if long_faults else 300, seed=44,
                         site_id=SITE_ID, api_key=API_KEY, rate_limit=None, latency_ms=10)
    initial = emu.state()
    desired = make_desired(initial, drift=0.5, seed=44)
    files = write_site(tmp_path, url=emu.url, desired=desired, write_mode="delta")

    emu.set_faults(shopper_rate=500.0)
    result = await sync_once(files)
    emu.set_faults(shopper_rate=0.0)
    stats = emu.stats()
    sold = dict(emu.store.sold)

    assert isinstance(result, SyncResult), result
    assert stats["shopper_sales"] > 0
    entries, bad = read_entries(files)
    assert bad == []
    first = {}
    not_applied = set()
    absolute = set()
    for e in entries:
        key = (e.product_id, e.variant_id)
        first.setdefault(key, e)
        if e.delta is not None and e.outcome is Outcome.FAILED:
            not_applied.add(key)
        elif e.delta is None:
            # An absolute write only where a re-read found the value from before the delta:
            # a skipped entry, or (indistinguishable) exactly the units added sold since.
            assert key in not_applied, e
            absolute.add(key)
    assert entries and len(absolute) < len(first) / 20
    raced = 0
    for key, (_, added, removed) in stats["deltas"]["by_variant"].items():
        product_id, variant_id = key.split("/", 1)
        if (product_id, variant_id) in absolute:
            continue
        read = first[(product_id, variant_id)]
        # Exactly the difference planned from the value read: nothing sold is overwritten.
        assert added - removed == read.after.quantity - read.before.quantity, key
        raced += sold.get((product_id, variant_id), 0) > 0
    assert raced > 0, "the shopper must hit synced variants for this test to mean anything"
    assert double_applied_errors(stats, initial, desired, sold) == []

    # Once the shop is quiet, the next sync brings every named variant back to the source.
    await sync_until_converged(files, max_runs=3)
    final = emu.state()
    assert all(r["quantity"] == desired[r["sku"]] for r in final if r["sku"] in desired)
    assert double_applied_errors(emu.stats(), initial, desired, sold) == []
