"""The site loop with incremental reads on: cheap cycles often, full resyncs rarely."""

from __future__ import annotations

import asyncio
import itertools
import random
import signal

from syncd.cycle.metrics import Metrics
from syncd.frontends.daemon.backoff import Backoff
from syncd.frontends.daemon.cycle import CycleKind, CycleResult
from syncd.frontends.daemon.health import SiteStatus
from syncd.frontends.daemon.schedule import IntervalSchedule
from syncd.frontends.daemon.siteloop import LoopOptions, SiteLoop

from .conftest import FakeRunner, FakeSite, until
from .test_siteloop import Running


def incremental_loop(runner: FakeRunner, *, every_s: float, resync_s: float
                     ) -> SiteLoop[FakeSite]:
    return SiteLoop(
        FakeSite("shop"), runner=runner,
        options=LoopOptions(schedule=IntervalSchedule(every_s), incremental=True,
                            resync_s=resync_s),
        status=SiteStatus("shop"), metrics=Metrics(),
        backoff=Backoff(initial_s=0.01, max_s=0.05, jitter_ratio=0.0),
        rng=random.Random(0))


async def test_start_up_cycle_is_full_and_scheduled_ones_are_incremental(runner):
    async with Running(incremental_loop(runner, every_s=0.02, resync_s=3600)):
        await until(lambda: len(runner.calls) >= 5)
    kinds = [c.kind for c in runner.calls]
    assert kinds[0] is CycleKind.FULL
    assert set(kinds[1:]) == {CycleKind.INCREMENTAL}


async def test_a_full_resync_runs_every_resync_interval_between_incremental_cycles(runner):
    # Cycles every 20 ms, a resync every 150 ms: several incremental cycles between fulls.
    async with Running(incremental_loop(runner, every_s=0.02, resync_s=0.15)):
        await until(lambda: sum(c.kind is CycleKind.FULL for c in runner.calls) >= 3,
                    timeout_s=10)
    kinds = [c.kind for c in runner.calls]
    fulls = [i for i, k in enumerate(kinds) if k is CycleKind.FULL]
    assert fulls[0] == 0
    gaps = [b - a for a, b in itertools.pairwise(fulls)]
    assert all(gap >= 3 for gap in gaps), kinds  # incremental cycles ran in between
    assert CycleKind.INCREMENTAL in kinds


async def test_a_requested_resync_makes_the_next_cycle_full(runner):
    loop = incremental_loop(runner, every_s=0.02, resync_s=3600)
    async with Running(loop):
        await until(lambda: len(runner.calls) >= 3)
        loop.request_full_cycle("operator")
        count = len(runner.calls)
        await until(lambda: len(runner.calls) >= count + 2)
    kinds = [c.kind for c in runner.calls]
    assert CycleKind.FULL in kinds[count - 1 : count + 2], kinds


async def test_an_incremental_cycle_answered_by_a_full_walk_restarts_the_resync_clock():
    class Answering(FakeRunner):
        """Walks the whole store whatever is asked (a site whose canary failed)."""

        async def __call__(self, site, *, kind, changed_keys, stop):
            outcome = await super().__call__(site, kind=CycleKind.FULL,
                                             changed_keys=changed_keys, stop=stop)
            self.calls[-1].kind = kind
            return outcome

    runner = Answering()
    async with Running(incremental_loop(runner, every_s=0.02, resync_s=0.1)):
        await asyncio.sleep(0.5)
    kinds = [c.kind for c in runner.calls]
    # Every cycle was a full walk, so no extra resync was ever due after the first.
    assert len(kinds) >= 5
    assert kinds[0] is CycleKind.FULL and set(kinds[1:]) == {CycleKind.INCREMENTAL}


async def test_a_failed_cycle_is_retried_as_a_full_one():
    runner = FakeRunner(results=[CycleResult.OK, CycleResult.FAILED])
    async with Running(incremental_loop(runner, every_s=0.02, resync_s=3600)):
        await until(lambda: len(runner.calls) >= 3)
    assert [c.kind for c in runner.calls][:3] == [CycleKind.FULL, CycleKind.INCREMENTAL,
                                                  CycleKind.FULL]


async def test_sigusr1_asks_every_site_for_a_full_resync(tmp_path, runner):
    from .test_supervisor import Harness, config, setup_for

    cfg = config(tmp_path, "a", "b", interval_s=3600, incremental=True)
    async with Harness(setup_for(cfg, runner)):
        await until(lambda: len(runner.finished) == 2)
        signal.raise_signal(signal.SIGUSR1)
        await until(lambda: len(runner.finished) == 4)
    assert sorted((c.site, c.kind) for c in runner.calls[2:]) == [
        ("a", CycleKind.FULL), ("b", CycleKind.FULL)]
