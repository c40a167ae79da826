"""What the daemon's source watchers report: a feed's failure in readiness across reloads,
and which source holds a site's cycles back while it is being written."""

from __future__ import annotations

import asyncio
from pathlib import Path

from syncd.frontends.daemon.config import WatchedSource
from syncd.frontends.daemon.fleet_loop import source_gates
from syncd.frontends.daemon.health import SiteStatuses
from syncd.frontends.daemon.polling import OnChanged, OnHealth
from syncd.frontends.daemon.watcher import SourceWatcher

from .conftest import until
from .test_supervisor import Harness, config, setup_for

FEED = "https://feeds.example/stock.csv"


class FakePoller:
    """A feed that reports ``error`` (None: healthy) from its first fetch on."""

    def __init__(self, on_health: OnHealth, error: str | None) -> None:
        self.path = FEED
        self.settled = asyncio.Event()
        self.settled.set()
        self._on_health = on_health
        self._error = error

    async def prime(self) -> None:
        self._on_health(self._error)

    async def run(self) -> None:
        await asyncio.Event().wait()


def feed(*sites: str, error: str | None = "feed down") -> WatchedSource:
    def poller(on_changed: OnChanged, on_health: OnHealth) -> FakePoller:
        return FakePoller(on_health, error)

    return WatchedSource(FEED, sites, poller=poller)


async def test_a_reload_that_drops_a_failing_feed_clears_its_error(tmp_path, runner):
    harness = Harness(setup_for(config(tmp_path, "eu", watch_source=True), runner,
                                sources=[feed("eu")]))
    async with harness:
        await until(lambda: harness.daemon.statuses["eu"].source_error == "feed down")
        harness.next_setup = setup_for(config(tmp_path, "eu", watch_source=True), runner)
        harness.daemon.request_reload("test")
        await until(lambda: harness.daemon.statuses["eu"].source_error is None)


async def test_a_site_added_after_its_feed_began_failing_is_not_ready(tmp_path, runner):
    harness = Harness(setup_for(config(tmp_path, "eu", watch_source=True), runner,
                                sources=[feed("eu")]))
    async with harness:
        await until(lambda: len(runner.finished) == 1)
        harness.next_setup = setup_for(config(tmp_path, "eu", "us", watch_source=True), runner,
                                       sources=[feed("eu", "us")])
        harness.daemon.request_reload("test")
        await until(lambda: "us" in harness.daemon.statuses)
        assert harness.daemon.statuses["us"].source_error == "feed down"


def test_a_site_gets_the_error_its_feed_reported_before_the_site_had_a_status():
    statuses = SiteStatuses()
    statuses.report_source(["us"], FEED, "feed down")
    statuses.add(["us"])
    assert statuses.statuses["us"].source_error == "feed down"
    statuses.report_source(["us"], FEED, None)
    assert statuses.statuses["us"].source_error is None


def test_a_watched_file_holds_back_a_site_that_also_reads_a_feed(tmp_path: Path):
    async def settled() -> None: ...

    file_watcher = SourceWatcher(tmp_path / "stock.csv", settle_s=1.0, on_settled=settled)
    poller = FakePoller(lambda error: None, None)
    sources = [WatchedSource(tmp_path / "stock.csv", ("eu", "us")), feed("us", "fr")]
    for order in ((0, 1), (1, 0)):
        gates = source_gates([(file_watcher, poller)[i] for i in order],
                             [sources[i] for i in order])
        assert gates == {"eu": file_watcher.settled, "us": file_watcher.settled,
                         "fr": poller.settled}


def test_a_reload_forgets_the_watchers_reports_but_not_what_the_last_cycle_read():
    statuses = SiteStatuses()
    statuses.add(["eu", "us"])
    statuses.report_source(["eu"], "cycle", "stock.csv:3: quantity: not a number")
    statuses.report_source(["us"], FEED, "feed down")
    statuses.forget_sources(keep="cycle")
    assert statuses.statuses["eu"].source_error == "stock.csv:3: quantity: not a number"
    assert statuses.statuses["us"].source_error is None
