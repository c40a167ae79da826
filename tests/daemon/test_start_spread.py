"""A fleet's first round spreads over one period; a single store starts at once."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from syncd.base.errors import ConfigError
from syncd.cycle.metrics import Metrics
from syncd.edges.config import Settings
from syncd.frontends.daemon.health import SiteStatus
from syncd.frontends.daemon.schedule import IntervalSchedule, start_offset_s
from syncd.frontends.daemon.siteloop import LoopOptions, SiteLoop
from syncd.frontends.daemon.wiring import daemon_config

from .conftest import FakeRunner, FakeSite, until
from .test_supervisor import Harness, config, setup_for

WORKTREE = Path(__file__).resolve().parents[2]
NAMES = [f"site-{n:05d}" for n in range(1, 10_001)]


def test_ten_thousand_first_cycles_fill_the_interval_evenly():
    offsets = [start_offset_s(name, window_s=300.0) for name in NAMES]
    assert all(0.0 <= offset < 300.0 for offset in offsets)
    buckets = [0] * 10
    for offset in offsets:
        buckets[int(offset // 30)] += 1
    # Every 30 s of the 5 minutes gets about a tenth of the stores, none a crowd.
    assert all(800 <= count <= 1200 for count in buckets), buckets


def test_offsets_are_the_same_after_a_restart():
    """Another process (another hash seed) puts every store at the same offset."""
    code = ("from syncd.frontends.daemon.schedule import start_offset_s\n"
            "print([start_offset_s(f'site-{n:05d}', window_s=300.0) for n in range(1, 201)])")
    env = {**os.environ, "PYTHONPATH": str(WORKTREE), "PYTHONHASHSEED": "12345"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True, timeout=60).stdout
    assert out.strip() == str([start_offset_s(name, window_s=300.0) for name in NAMES[:200]])


async def test_a_loop_with_a_start_offset_is_first_due_at_that_offset():
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    runner = FakeRunner()
    status = SiteStatus("shop")
    loop = SiteLoop(FakeSite("shop"), runner=runner,
                    options=LoopOptions(schedule=IntervalSchedule(300)), status=status,
                    metrics=Metrics(), clock=lambda: t0, first_delay_s=123.5)
    stop = asyncio.Event()
    task = asyncio.create_task(loop.run(stop), name="site shop")
    await until(lambda: status.next_due_at_s is not None)
    await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(task, timeout=5)
    assert status.next_due_at_s == t0.timestamp() + 123.5
    assert runner.calls == []  # not run at start-up


async def test_a_fleet_larger_than_its_slots_spreads_its_first_cycles(tmp_path, runner):
    names = [f"store-{n:02d}" for n in range(20)]
    cfg = config(tmp_path, *names, max_concurrent_cycles=4, spread_first_round_above=10)
    started_s = datetime.now(UTC).timestamp()
    async with Harness(setup_for(cfg, runner)) as harness:
        statuses = harness.daemon.statuses
        await until(lambda: all(statuses[n].next_due_at_s is not None for n in names))
        await asyncio.sleep(0.05)
        assert runner.calls == []  # nobody ran at start-up: each waits for its offset
        for name in names:
            due_in_s = statuses[name].next_due_at_s - started_s
            expected_s = start_offset_s(name, window_s=0.9 * 3600.0)
            assert abs(due_in_s - expected_s) < 2.0, name
        dues = sorted(statuses[n].next_due_at_s for n in names)
        assert dues[-1] - dues[0] > 1800  # spread over the hour, not bunched
        # ... and over its first 54 minutes only: the last first cycles end within the hour.
        assert dues[-1] - started_s < 0.9 * 3600.0 + 2.0


async def test_a_single_store_starts_its_first_cycle_at_once(tmp_path, runner):
    cfg = config(tmp_path, "shop", max_concurrent_cycles=1, spread_first_round_above=1)
    async with Harness(setup_for(cfg, runner)):
        await until(lambda: len(runner.calls) == 1)


async def test_a_fleet_the_slots_can_take_starts_every_store_at_once(tmp_path, runner):
    names = ["eu", "us", "uk"]
    cfg = config(tmp_path, *names, max_concurrent_cycles=4, spread_first_round_above=1)
    async with Harness(setup_for(cfg, runner)):
        await until(lambda: len(runner.calls) == 3)


async def test_a_fleet_under_the_threshold_starts_every_store_at_once(tmp_path, runner):
    names = [f"store-{n:02d}" for n in range(6)]
    cfg = config(tmp_path, *names, max_concurrent_cycles=2, spread_first_round_above=10)
    async with Harness(setup_for(cfg, runner)):
        await until(lambda: len(runner.calls) == 6)


MINIMAL = """\
sites:
  - name: demo
    site_id: demo-site
    api_key_env: WIX_API_KEY
source:
  path: stock.csv
"""


def test_the_settings_file_spreads_fleets_above_256_stores_unless_told(tmp_path):
    path = tmp_path / "syncd.yaml"
    path.write_text(MINIMAL)
    env = {"WIX_API_KEY": "k"}
    assert daemon_config(Settings.from_file(path, env=env)).spread_first_round_above == 256
    path.write_text(MINIMAL + "spread_first_round_above: 5000\n")
    assert daemon_config(Settings.from_file(path, env=env)).spread_first_round_above == 5000
    path.write_text(MINIMAL + "spread_first_round_above: 0\n")
    with pytest.raises(ConfigError, match=r"syncd.yaml:7.*spread_first_round_above"):
        Settings.from_file(path, env=env)
