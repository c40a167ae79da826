"""One site's loop: scheduling, coalescing, the fast lane, backoff and stopping."""

from __future__ import annotations

import asyncio
import random

import pytest
from structlog.testing import capture_logs

from syncd.cycle.metrics import Metrics
from syncd.frontends.daemon.backoff import Backoff
from syncd.frontends.daemon.cycle import CycleKind, CycleResult
from syncd.frontends.daemon.health import SiteStatus
from syncd.frontends.daemon.schedule import IntervalSchedule
from syncd.frontends.daemon.siteloop import LoopOptions, SiteLoop

from .conftest import FakeRunner, FakeSite, until

HOUR = IntervalSchedule(3600)


def make_loop(runner: FakeRunner, *, schedule=HOUR, backoff=None, fast_max_keys=50,
              settled=None) -> SiteLoop[FakeSite]:
    return SiteLoop(
        FakeSite("shop"), runner=runner,
        options=LoopOptions(schedule=schedule, fast_max_keys=fast_max_keys),
        status=SiteStatus("shop"), metrics=Metrics(),
        backoff=backoff or Backoff(initial_s=0.01, max_s=0.05, jitter_ratio=0.0),
        source_settled=settled, rng=random.Random(0))


class Running:
    """Runs a loop in a task for the duration of a test and stops it afterwards."""

    def __init__(self, loop: SiteLoop[FakeSite]) -> None:
        self.loop = loop
        self.stop = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Running:
        self.task = asyncio.create_task(self.loop.run(self.stop), name="site shop")
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.stop.set()
        assert self.task is not None
        await asyncio.wait_for(self.task, timeout=5)


async def test_first_cycle_runs_at_start_up_and_is_full(runner):
    async with Running(make_loop(runner)):
        await until(lambda: len(runner.calls) == 1)
    assert runner.calls[0].kind is CycleKind.FULL
    assert runner.calls[0].changed_keys is None


async def test_interval_schedule_runs_full_cycles_repeatedly():
    runner = FakeRunner()
    async with Running(make_loop(runner, schedule=IntervalSchedule(0.02))):
        await until(lambda: len(runner.calls) >= 4)
    assert {c.kind for c in runner.calls} == {CycleKind.FULL}


async def test_triggers_during_a_cycle_cause_exactly_one_more_cycle():
    gate = asyncio.Event()
    runner = FakeRunner(gate=gate)
    loop = make_loop(runner)
    async with Running(loop):
        await until(lambda: len(runner.calls) == 1)
        for _ in range(10):
            loop.request_full_cycle("test")
        gate.set()
        await until(lambda: len(runner.calls) == 2)
        await asyncio.sleep(0.1)  # room for a wrong third cycle to start
        assert len(runner.calls) == 2


async def test_cycles_of_one_site_never_overlap():
    in_flight = 0
    overlaps = 0

    class Counting(FakeRunner):
        async def __call__(self, site, **kw):
            nonlocal in_flight, overlaps
            in_flight += 1
            overlaps += in_flight > 1
            try:
                return await super().__call__(site, **kw)
            finally:
                in_flight -= 1

    runner = Counting(delay_s=0.02)
    loop = make_loop(runner)
    async with Running(loop):
        for _ in range(5):
            loop.source_changed(frozenset({"A"}))
            await asyncio.sleep(0.01)
        await until(lambda: len(runner.calls) >= 2)
    assert overlaps == 0


async def test_a_few_changed_rows_run_a_fast_cycle_with_their_keys(runner):
    loop = make_loop(runner)
    async with Running(loop):
        await until(lambda: len(runner.finished) == 1)
        loop.source_changed(frozenset({"SKU-1", "SKU-2"}))
        await until(lambda: len(runner.calls) == 2)
    assert runner.calls[1].kind is CycleKind.FAST
    assert runner.calls[1].changed_keys == {"SKU-1", "SKU-2"}


async def test_changes_before_any_successful_full_cycle_run_a_full_cycle():
    runner = FakeRunner(results=[CycleResult.REFUSED])
    loop = make_loop(runner)
    async with Running(loop):
        await until(lambda: len(runner.finished) == 1)
        loop.source_changed(frozenset({"SKU-1"}))
        await until(lambda: len(runner.calls) == 2)
    assert [c.kind for c in runner.calls] == [CycleKind.FULL, CycleKind.FULL]


async def test_too_many_changed_rows_run_a_full_cycle(runner):
    loop = make_loop(runner, fast_max_keys=3)
    async with Running(loop):
        await until(lambda: len(runner.finished) == 1)
        loop.source_changed(frozenset({"A", "B", "C", "D"}))
        await until(lambda: len(runner.calls) == 2)
    assert runner.calls[1].kind is CycleKind.FULL


async def test_an_unknown_change_runs_a_full_cycle(runner):
    loop = make_loop(runner)
    async with Running(loop):
        await until(lambda: len(runner.finished) == 1)
        loop.source_changed(None)
        await until(lambda: len(runner.calls) == 2)
    assert runner.calls[1].kind is CycleKind.FULL


async def test_changes_made_during_a_cycle_are_merged_into_the_next_fast_cycle():
    gate = asyncio.Event()
    runner = FakeRunner()
    loop = make_loop(runner)
    async with Running(loop):
        await until(lambda: len(runner.finished) == 1)
        runner.gate = gate
        loop.source_changed(frozenset({"A"}))
        await until(lambda: len(runner.calls) == 2)
        loop.source_changed(frozenset({"B"}))
        loop.source_changed(frozenset({"C"}))
        gate.set()
        await until(lambda: len(runner.calls) == 3)
    assert runner.calls[1].changed_keys == {"A"}
    assert runner.calls[2].changed_keys == {"B", "C"}


async def test_failed_cycles_back_off_with_growing_delays_and_retry_full():
    runner = FakeRunner(results=[CycleResult.FAILED] * 3)
    with capture_logs() as logs:
        async with Running(make_loop(
                runner, backoff=Backoff(initial_s=0.01, max_s=0.03, jitter_ratio=0.0))):
            await until(lambda: len(runner.finished) == 4)
    delays = [e["delay_s"] for e in logs if e["event"] == "cycle_backoff"]
    assert delays == [0.01, 0.02, 0.03]  # doubled, then capped
    assert {c.kind for c in runner.calls} == {CycleKind.FULL}
    assert runner.finished[-1].result is CycleResult.OK


async def test_backoff_resets_after_a_success():
    backoff = Backoff(initial_s=0.01, max_s=1.0, jitter_ratio=0.0)
    runner = FakeRunner(results=[CycleResult.FAILED, CycleResult.FAILED, CycleResult.OK,
                                 CycleResult.FAILED])
    loop = make_loop(runner, backoff=backoff)
    with capture_logs() as logs:
        async with Running(loop):
            await until(lambda: len(runner.finished) == 3)
            assert backoff.failures == 0
            loop.request_full_cycle("test")
            await until(lambda: len(runner.finished) == 5)
    delays = [e["delay_s"] for e in logs if e["event"] == "cycle_backoff"]
    assert delays == [0.01, 0.02, 0.01]


async def test_an_exception_from_the_runner_is_a_failed_cycle_not_a_crash():
    runner = FakeRunner(results=[RuntimeError("bug in a cycle")])
    loop = make_loop(runner)
    with capture_logs() as logs:
        async with Running(loop):
            await until(lambda: len(runner.finished) == 1)
    crashed = [e for e in logs if e["event"] == "cycle_crashed"]
    assert len(crashed) == 1
    finished = [e for e in logs if e["event"] == "cycle_finished"]
    assert finished[0]["result"] == "failed"
    assert "bug in a cycle" in finished[0]["error"]


async def test_a_failing_site_waits_out_its_backoff_even_when_the_source_changes():
    backoff = Backoff(initial_s=30.0, max_s=30.0, jitter_ratio=0.0)
    runner = FakeRunner(results=[CycleResult.FAILED])
    loop = make_loop(runner, backoff=backoff)
    async with Running(loop):
        await until(lambda: len(runner.calls) == 1)
        loop.source_changed(frozenset({"A"}))
        await asyncio.sleep(0.1)
        assert len(runner.calls) == 1


async def test_each_cycle_ends_with_one_summary_line(runner):
    with capture_logs() as logs:
        async with Running(make_loop(runner)):
            await until(lambda: len(runner.finished) == 1)
    summaries = [e for e in logs if e["event"] == "cycle_finished"]
    assert len(summaries) == 1
    line = summaries[0]
    assert line["result"] == "ok" and line["kind"] == "full"
    assert line["planned"] == 2 and line["written"] == 2
    assert line["duration_s"] >= 0


async def test_status_records_success_and_failures():
    runner = FakeRunner(results=[CycleResult.FAILED])
    loop = make_loop(runner)
    status = loop._status
    async with Running(loop):
        await until(lambda: len(runner.finished) == 1)
        assert status.consecutive_failures == 1
        assert status.last_success_at_s is None
        await until(lambda: len(runner.finished) == 2)
    assert status.consecutive_failures == 0
    assert status.full_cycle_succeeded
    assert status.cycles == 2


async def test_stop_during_a_cycle_lets_it_finish_and_ends_the_loop():
    gate = asyncio.Event()
    runner = FakeRunner(gate=gate, results=[CycleResult.SKIPPED])
    running = Running(make_loop(runner))
    async with running:
        await until(lambda: len(runner.calls) == 1)
        running.stop.set()  # the fake runner returns once it sees stop
        await asyncio.wait_for(running.task, timeout=5)
    assert len(runner.finished) == 1
    assert len(runner.calls) == 1


async def test_a_cycle_waits_while_the_source_is_being_written(runner):
    settled = asyncio.Event()
    async with Running(make_loop(runner, settled=settled)):
        await asyncio.sleep(0.05)
        assert runner.calls == []
        settled.set()
        await until(lambda: len(runner.calls) == 1)


async def test_refused_fast_rows_are_kept_for_the_next_cycle():
    runner = FakeRunner(results=[CycleResult.OK, CycleResult.REFUSED])
    loop = make_loop(runner)
    async with Running(loop):
        await until(lambda: len(runner.finished) == 1)
        loop.source_changed(frozenset({"A"}))
        await until(lambda: len(runner.finished) == 2)
        await asyncio.sleep(0.05)
        assert len(runner.calls) == 2  # no immediate re-run of a refused plan
        loop.source_changed(frozenset({"B"}))
        await until(lambda: len(runner.calls) == 3)
    assert runner.calls[2].kind is CycleKind.FAST
    assert runner.calls[2].changed_keys == {"A", "B"}


@pytest.mark.parametrize("result", [CycleResult.REFUSED, CycleResult.INVALID_SOURCE])
async def test_refusals_and_invalid_sources_do_not_back_off(result):
    runner = FakeRunner(results=[result])
    loop = make_loop(runner)
    async with Running(loop):
        await until(lambda: len(runner.finished) == 1)
        await asyncio.sleep(0.02)
    assert loop._status.retry_at_s is None
    assert len(runner.calls) == 1  # next one waits for the schedule


async def test_full_every_bounds_the_time_between_full_cycles_under_a_sparse_schedule():
    runner = FakeRunner()
    loop = SiteLoop(
        FakeSite("shop"), runner=runner,
        options=LoopOptions(schedule=IntervalSchedule(86400), full_every_s=0.02),
        status=SiteStatus("shop"), metrics=Metrics())
    async with Running(loop):
        await until(lambda: len(runner.calls) >= 3)
    assert {c.kind for c in runner.calls} == {CycleKind.FULL}
