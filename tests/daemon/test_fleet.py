"""Many sites in one daemon: reloads that touch only what changed, and isolation."""

from __future__ import annotations

import asyncio
import itertools
import time

from syncd.frontends.daemon.cycle import CycleOutcome, CycleResult

from .conftest import FakeRunner, FakeSite, until
from .test_supervisor import Harness, config, setup_for


async def test_a_reload_adding_a_site_starts_it_without_touching_the_others(tmp_path, runner):
    harness = Harness(setup_for(config(tmp_path, "eu"), runner))
    async with harness:
        await until(lambda: len(runner.finished) == 1)
        eu_task = next(t for t in asyncio.all_tasks() if t.get_name() == "site eu")
        harness.next_setup = setup_for(config(tmp_path, "eu", "us"), runner)
        harness.daemon.request_reload("test")
        await until(lambda: len(runner.finished) == 2)
        await asyncio.sleep(0.1)
        assert [c.site for c in runner.calls] == ["eu", "us"]  # no second eu cycle
        assert not eu_task.done()
        assert harness.daemon.statuses["eu"].cycles == 1


async def test_a_reload_removing_a_site_stops_only_that_site(tmp_path):
    gate = asyncio.Event()
    runner = FakeRunner(gate=gate)  # a cycle ends when the gate opens or its loop stops
    harness = Harness(setup_for(config(tmp_path, "eu", "us"), runner))
    async with harness:
        await until(lambda: len(runner.calls) == 2)  # both cycles in flight
        harness.next_setup = setup_for(config(tmp_path, "eu"), runner)
        harness.daemon.request_reload("test")
        await until(lambda: set(harness.daemon.statuses) == {"eu"})
        assert [o.site for o in runner.finished] == ["us"]  # us wound down when stopped
        names = {t.get_name() for t in asyncio.all_tasks()}
        assert "site eu" in names and "site us" not in names
        assert harness.daemon.statuses["eu"].in_cycle  # eu's cycle was never interrupted
        gate.set()
        await until(lambda: len(runner.finished) == 2)
    assert [o.site for o in runner.finished] == ["us", "eu"]


async def test_a_site_whose_settings_changed_is_restarted_alone(tmp_path, runner):
    harness = Harness(setup_for(config(tmp_path, "eu", "us"), runner))
    async with harness:
        await until(lambda: len(runner.finished) == 2)
        us_task = next(t for t in asyncio.all_tasks() if t.get_name() == "site us")
        harness.next_setup = setup_for(
            config(tmp_path, "eu", FakeSite("us", setting="changed")), runner)
        harness.daemon.request_reload("test")
        await until(lambda: len(runner.finished) == 3)
        await asyncio.sleep(0.1)
        assert us_task.done()  # its loop was replaced by one running the new settings
        assert harness.daemon.statuses["us"].cycles == 2  # the status carried over
    assert [c.site for c in runner.calls] == ["eu", "us", "us"]


async def test_a_reload_changing_the_schedule_restarts_every_loop(tmp_path, runner):
    harness = Harness(setup_for(config(tmp_path, "eu", "us"), runner))
    async with harness:
        await until(lambda: len(runner.finished) == 2)
        harness.next_setup = setup_for(config(tmp_path, "eu", "us", interval_s=1800), runner)
        harness.daemon.request_reload("test")
        await until(lambda: len(runner.finished) == 4)
    assert sorted(c.site for c in runner.calls[2:]) == ["eu", "us"]


class BlockingRunner(FakeRunner):
    """A runner where named sites hang (a dead store) or crash, the others answer at once."""

    def __init__(self, *, hang=(), crash=()) -> None:
        super().__init__()
        self.hang, self.crash = set(hang), set(crash)
        self.started_at: dict[str, list[float]] = {}

    async def __call__(self, site, *, kind, changed_keys, stop) -> CycleOutcome:
        self.started_at.setdefault(site.name, []).append(time.monotonic())
        if site.name in self.hang:
            await stop.wait()
            return CycleOutcome(site=site.name, kind=kind, result=CycleResult.SKIPPED)
        if site.name in self.crash:
            raise RuntimeError("store exploded")
        return await super().__call__(site, kind=kind, changed_keys=changed_keys, stop=stop)


async def test_a_hanging_and_a_crashing_site_do_not_delay_the_others(tmp_path):
    runner = BlockingRunner(hang={"dead"}, crash={"broken"})
    names = ("dead", "broken", *(f"s{i}" for i in range(6)))
    cfg = config(tmp_path, *names, interval_s=0.2, max_concurrent_cycles=2)
    harness = Harness(setup_for(cfg, runner))
    async with harness:
        await until(lambda: all(len(runner.started_at.get(f"s{i}", ())) >= 3
                                for i in range(6)), timeout_s=20)
        statuses = harness.daemon.statuses
        # every healthy site kept its schedule: one slot held by the dead store forever,
        # the crashing one backing off, the other slot enough for the rest
        for i in range(6):
            starts = runner.started_at[f"s{i}"]
            gaps = [b - a for a, b in itertools.pairwise(starts)]
            assert max(gaps) < 0.2 + 2.0, (f"s{i}", gaps)
            assert statuses[f"s{i}"].last_start_delay_s is not None
        assert statuses["broken"].consecutive_failures >= 1
        assert statuses["dead"].in_cycle


async def test_a_reload_raising_max_concurrent_cycles_lets_waiting_cycles_start(tmp_path):
    runner = FakeRunner(gate=asyncio.Event())  # cycles stay in flight until the test ends
    harness = Harness(setup_for(config(tmp_path, "eu", "us", max_concurrent_cycles=1), runner))
    async with harness:
        await until(lambda: len(runner.calls) == 1)
        await asyncio.sleep(0.05)
        assert len(runner.calls) == 1  # the other site waits for the one slot
        harness.next_setup = setup_for(
            config(tmp_path, "eu", "us", max_concurrent_cycles=2), runner)
        harness.daemon.request_reload("test")
        await until(lambda: len(runner.calls) == 2)
        assert runner.finished == []  # the first cycle was not interrupted to make room
