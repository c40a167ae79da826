"""The benchmark's plumbing reads what ``syncd sync --output json`` prints today, so the
figures in the README cannot silently turn into a crash or into dashes."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.bench import harness


async def test_the_benchmark_reads_a_syncs_calls_and_its_own_timing(emulator, tmp_path):
    emu = await emulator(catalog="v1", generate_products=30, seed=4, rate_limit=None,
                         api_key=harness.KEY, site_id=harness.SITE)
    rows = await asyncio.to_thread(harness.state, emu.url)
    drift = harness.drifted_source(rows, drift=0.3, seed=4)
    source = tmp_path / "stock.csv"
    harness.write_csv(source, drift.desired)
    config = harness.write_config(tmp_path, url=emu.url, limit=None, source=source)

    run = await asyncio.to_thread(harness.run_sync_cli, config)

    assert run.exit_code == 0, run.stderr
    assert run.document is not None and run.document["site"] == "bench"
    assert run.account["api_calls"] == emu.stats()["requests_total"] > 0
    assert run.account["written"] == drift.changed_variants
    assert run.cycle_s is not None and 0 < run.cycle_s < run.wall_s
