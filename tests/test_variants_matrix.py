"""Full sync cycles against an emulator playing the other answer of each unconfirmed point.

Every run: a drifted source is synced once (the store must then say exactly what the source
says, every other variant untouched, every write journaled once with its before-value and
never sent twice) and once more (nothing left to do: no field read as missing makes a
variant look changed), in no more calls than the contract's minimum plus what the safe
readings cost (``bench.harness.safe_reading_calls``, the benchmark table's figure).
"""

from __future__ import annotations

import asyncio
import math
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from bench.harness import PROVOKED_429, safe_reading_calls, v1_read_calls, write_reading_calls

from support.sync import API_KEY, load_site, state_by_key, unique_skus, write_config
from syncd.core.journal import Outcome
from syncd.cycle.sync import SiteSync
from syncd.edges.backend.local.journal import read_journal
from syncd.edges.wix.walk_v3 import FIRST_WALK_RANGES
from syncd_emulator.variants import NAMES, WixVariants, ignores_write

PRODUCTS = 800
"""Enough for offset windows past the lower offset cap, small enough for a quick run."""

PROFILES = [*NAMES, "all", "read_lag,applied_5xx", "no_variant_stock,inventory_hides_hidden"]
"""Each switch alone, all of them, the delta path's worst pair (a 5xx after the delta
landed, and a re-read that does not show it yet; ``all`` writes absolutely), and stock read
from a Query Inventory that leaves hidden products out."""

SPENT_WINDOW = (2_000, 2.0)
"""The emulator's budget under a ``PROVOKED_429`` switch, spent before the run starts: the
run's first requests get the 429 whose hint or body the switch shapes, and the window
frees two seconds later, well before a believed or fallen-back pause ends."""


def spend_budget(emu: Any) -> None:
    """Use up the emulator's window for the site and for the key (``rate_per_key``)."""
    for key in {emu.config.site_id, API_KEY}:
        while emu.emulator.limiter.allow(key):
            pass


def desired_stock(state: list[dict[str, Any]], drift_every: int = 4) -> dict[str, int]:
    """Every tracked variant with a unique SKU, and every product-level SKU (one product
    with options but ``manageVariants: false``), one in ``drift_every`` of them changed."""
    desired: dict[str, int] = {}
    unique = unique_skus(state)
    shared: dict[str, list[dict[str, Any]]] = {}
    for row in state:
        sku = str(row["sku"])
        if not sku or not row["tracked"] or row["inventory_item_id"] is None:
            continue
        if sku in unique:
            desired[sku] = int(row["quantity"] or 0)
        elif row["shared_sku"]:
            shared.setdefault(sku, []).append(row)
    skus = Counter(str(r["sku"]) for r in state)
    for sku, rows in shared.items():
        if len({r["product_id"] for r in rows}) == 1 and skus[sku] == len(rows) > 1:
            desired[sku] = max(int(r["quantity"] or 0) for r in rows)
    for n, sku in enumerate(sorted(desired)):
        if n % drift_every == 0:
            desired[sku] = (desired[sku] + 1 + n % 37) % 5000
    return desired


def write_source(path: Path, desired: dict[str, int]) -> None:
    path.write_text("sku,quantity\n" + "".join(f"{s},{q}\n" for s, q in desired.items()))


def assert_store_says(before: list[dict[str, Any]], after: list[dict[str, Any]],
                      desired: dict[str, int],
                      ignored: frozenset[tuple[str, str]] = frozenset()) -> None:
    """Named variants hold the source's quantity; every other one, and every one whose
    writes Wix ignores (``ignored``: product and variant ids), is exactly as it was."""
    after_by_key = state_by_key(after)
    for key, old in state_by_key(before).items():
        new = after_by_key[key]
        want = None if key[:2] in ignored else desired.get(str(old["sku"]))
        if want is not None:
            assert (new["tracked"], new["quantity"]) == (True, want), old["sku"]
        else:
            assert (new["quantity"], new["in_stock"], new["tracked"]) == (
                old["quantity"], old["in_stock"], old["tracked"]), old["sku"]


def assert_journal_guarantees(path: Path, before: list[dict[str, Any]]) -> int:
    """Every applied write has its pending line first, the before-value it was read at, and
    no variant was written twice. Returns the number of applied writes."""
    entries = list(read_journal(path))
    pending = {e.write_id for e in entries if e.outcome is Outcome.PENDING}
    initial = state_by_key(before)
    applied = [e for e in entries if e.outcome is Outcome.APPLIED]
    keys = Counter((e.product_id, e.variant_id, e.inventory_item_id) for e in applied)
    twice = [key for key, n in keys.items() if n > 1]
    lines = "\n".join(
        f"{e.run_id} {e.outcome.value} {e.before} -> {e.after} {e.time.isoformat()} {e.error}"
        for e in entries if twice and (e.product_id, e.variant_id,
                                       e.inventory_item_id) == twice[0])
    assert not twice, f"{len(twice)} variants were written twice, as this one:\n{lines}"
    for entry in applied:
        assert entry.write_id in pending
        old = initial[(entry.product_id, entry.variant_id, entry.inventory_item_id)]
        assert entry.before.quantity == old["quantity"]
    return len(applied)


def minimum_calls(catalog: str, before: list[dict[str, Any]], changed: list[Any]) -> int:
    if catalog == "v1":
        products = len({r["product_id"] for r in before})
        return 1 + v1_read_calls(products) + len({c.variant.product_id for c in changed})
    items = sum(1 for r in before if r["inventory_item_id"] is not None)
    # A process's first walk reads up to FIRST_WALK_RANGES productId ranges side by side:
    # each range past the first may end on one partly filled page more.
    ranges = min(FIRST_WALK_RANGES, math.ceil(items / 1000))
    return 1 + math.ceil(items / 1000) + (ranges - 1) + math.ceil(len(changed) / 1000)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("catalog", ["v1", "v3"])
@pytest.mark.parametrize("profile", PROFILES)
async def test_a_full_sync_is_exact_whichever_way_wix_answers(emulator, tmp_path, catalog,
                                                               profile):
    variants = WixVariants.parse(profile)
    provoked = any(name in PROVOKED_429 for name in variants.active)
    emu = await emulator(catalog=catalog, generate_products=PRODUCTS, seed=21,
                         rate_limit=SPENT_WINDOW if provoked else None, api_key=API_KEY,
                         variants=variants)
    before = emu.state()
    desired = desired_stock(before)
    source = tmp_path / "stock.csv"
    write_source(source, desired)
    # Without variants[].stock, the delta path's verifying re-read costs stock look-ups that
    # the safe-reading budget below does not count: that profile is held to absolute writes.
    # ``ignored_writes`` plays on Update Inventory Variants only: absolute writes meet it.
    policy = {"write_mode": "absolute"} if (variants.no_variant_stock
                                            or variants.ignored_writes) else None
    # A short request timeout: a delta answered 5xx is waited out for twice that long.
    config = write_config(tmp_path, url=emu.url, source=source, rate_limit=(100_000, 1.0),
                          policy=policy, timeout_s=5)
    settings, site = load_site(config)
    if provoked:
        spend_budget(emu)
    async with SiteSync(site, state_dir=settings.state_dir) as sync:
        first = await sync.sync(force=True)
        writes_after_first = emu.stats()["writes"]
        # A walk within the read lag would see the values before the writes: the next
        # cycle comes once they show (it would write the same values again, idempotently).
        await asyncio.sleep(emu.config.effective_read_lag_s)
        second = await sync.sync()
    assert first.applied is not None and first.applied.complete
    changes = first.planned.plan.changes
    assert changes, "the drift must give the run something to write"
    assert not first.planned.plan.ambiguous or all(
        len({v.product_id for v in a.variants}) > 1 for a in first.planned.plan.ambiguous)
    ignored = frozenset(
        (c.variant.product_id, c.variant.variant_id) for c in changes
        if variants.ignored_writes and catalog == "v1"
        and ignores_write(c.variant.product_id, c.variant.variant_id))
    assert_store_says(before, emu.state(), desired, ignored)
    journal = Path(settings.state_dir) / "journal" / "shop.jsonl"
    assert assert_journal_guarantees(journal, before) == len(changes)
    # Only the writes Wix ignored still differ, and they are not sent again.
    assert {(c.variant.product_id, c.variant.variant_id)
            for c in second.planned.plan.changes} == ignored, "nothing else may differ"
    assert second.applied is not None and second.applied.held == len(ignored)
    assert emu.stats()["writes"] == writes_after_first
    wanted = {(c.variant.product_id, c.variant.variant_id): abs(c.quantity - c.variant.quantity)
              for c in changes if c.quantity is not None and c.variant.quantity is not None}
    for name, (_entries, added, removed) in emu.stats()["deltas"]["by_variant"].items():
        product_id, variant_id = name.split("/")
        assert added + removed <= wanted[(product_id, variant_id)], name
    products = len({r["product_id"] for r in before})
    allowed = (minimum_calls(catalog, before, list(changes))
               + safe_reading_calls(catalog, variants.active, products)
               + write_reading_calls(catalog, variants.active,
                                     changed_products=len({c.variant.product_id
                                                           for c in changes}),
                                     products=products)
               + first.applied.conflict_retries)
    assert first.api_calls <= allowed, (first.api_calls, allowed)
    if provoked:
        assert emu.stats()["rate_limited"] >= 1, "the run must have met the shaped 429"
    if variants.unmanaged_options and catalog == "v1":
        shared = {c.variant.sku for c in changes if c.variant.shared_sku}
        assert shared, "products with options but manageVariants false must be written"
