"""``syncd run`` as a real process against the emulator: SIGTERM in the middle of writes.

The daemon must let the writes in flight finish, start no new one, flush its journal and
exit 0 well within the grace period, leaving no product half-written and no journal entry
unsettled.
"""

from __future__ import annotations

import asyncio
import sys
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from support.sync import unsettled
from syncd.core.journal import Outcome
from syncd.edges.backend.local.journal import read_journal

from .daemon_process import SIGTERM, DaemonProcess, base_env, write_config

pytestmark = pytest.mark.timeout(120)


def source_moving_every_product(rows: list[dict]) -> tuple[str, dict[str, int]]:
    """A CSV that changes every tracked variant with a unique SKU, and the wanted values."""
    counts = Counter(r["sku"] for r in rows)
    wanted = {r["sku"]: (r["quantity"] + 5) % 1000 for r in rows
              if r["tracked"] and r["sku"] and counts[r["sku"]] == 1}
    lines = ["sku,quantity"] + [f"{sku},{q}" for sku, q in sorted(wanted.items())]
    return "\n".join(lines) + "\n", wanted


async def test_sigterm_during_writes_finishes_them_and_exits_0(emulator, tmp_path: Path):
    emu = await emulator(generate_products=60, latency_ms=150, rate_limit=None)
    before = {r["sku"]: r for r in emu.state()}
    csv, wanted = source_moving_every_product(list(before.values()))
    source = tmp_path / "stock.csv"
    source.write_text(csv)
    key = tmp_path / "key"
    key.write_text("demo-key\n")
    # Absolute writes: one call per product, so a stop lands between products (the delta
    # path sends these 60 products in one call; tests/faults/test_delta_path.py stops it).
    config = write_config(tmp_path, emulator_url=emu.url, source=source, key_file=key,
                          grace_s=15, extra={"policy": {"max_changed_fraction": 1.0,
                                                        "max_zeroed": 1000,
                                                        "write_mode": "absolute"}})
    daemon = DaemonProcess([sys.executable, "-m", "syncd", "run", "--config", str(config)],
                           env=base_env(SYNCD_STATE_DIR=str(tmp_path / "state")), cwd=tmp_path)
    await daemon.start()
    try:
        await daemon.wait_for("plan_ready")
        # Wait for the first product writes to land, then stop in the middle of the rest.
        await _until_writes(emu, at_least=2)
        daemon.signal(SIGTERM)
        code = await daemon.wait(timeout_s=15)
    finally:
        await daemon.kill()

    assert code == 0, daemon.log_text()
    finished = daemon.find("cycle_finished")
    assert finished is not None, daemon.log_text()
    assert 0 < finished["written"] < finished["planned"], finished  # stopped part-way
    assert finished["failed"] == 0
    assert daemon.find("shutdown_complete") is not None

    journal = list(read_journal(tmp_path / "state" / "journal" / "demo.jsonl"))
    assert unsettled(journal) == []  # every write sent was confirmed before exit
    applied = [e for e in journal if e.outcome is Outcome.APPLIED]
    assert len(applied) == finished["written"]

    # No product is half-written: its variants are all at the new values or all at the old.
    after = {r["sku"]: r for r in emu.state()}
    by_product: dict[str, set[bool]] = defaultdict(set)
    for sku, quantity in wanted.items():
        by_product[before[sku]["product_id"]].add(after[sku]["quantity"] == quantity)
    assert all(len(states) == 1 for states in by_product.values()), by_product
    written_products = sum(1 for states in by_product.values() if states == {True})
    assert 0 < written_products < len(by_product)


async def _until_writes(emu, *, at_least: int) -> None:
    async with asyncio.timeout(30):
        while emu.stats()["writes"]["calls"] < at_least:  # noqa: ASYNC110 - emulator counters
            await asyncio.sleep(0.01)
