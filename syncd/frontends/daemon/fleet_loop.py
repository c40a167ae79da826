"""The daemon's loop: configurations one after the other, and the site loops each one runs.

``FleetRun.run`` is what ``Daemon.run`` runs between start-up and shutdown. For each
configuration (the first, then each accepted reload) it opens the configuration's cycle
runner and source watchers, then ``Fleet.apply`` starts and stops only the sites that
differ from what runs: a site whose settings, loop options and ownership term are unchanged
keeps its loop (its cycle in flight, its fast-lane index, its back-off), which follows the
new configuration's watchers from then on. An ownership change (a replica joined or left)
is applied the same way within one configuration. On a stop every loop gets the grace
period to finish its cycle, then every runner is closed; replicas keep renewing their
leases until then.

It owns what the site loops share (the running loops, the running configuration, the
concurrency slots). The daemon owns the rest and hands it in: the site statuses, the stop,
reload and force events, how a new configuration is loaded, and the site locks.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Generic, TypeVar

import structlog

from syncd.cycle.metrics import Metrics
from syncd.edges.backend.fence import SiteLease
from syncd.frontends.daemon.aio import wait_for_any
from syncd.frontends.daemon.backoff import Backoff
from syncd.frontends.daemon.config import DaemonConfig, DaemonSetup, WatchedSource
from syncd.frontends.daemon.cycle import CycleOutcome, CycleResult, CycleRunner, NamedSite
from syncd.frontends.daemon.fleet import Fleet
from syncd.frontends.daemon.health import SiteStatuses
from syncd.frontends.daemon.ownership import Ownership
from syncd.frontends.daemon.polling import Poller
from syncd.frontends.daemon.schedule import period_s, start_offset_s
from syncd.frontends.daemon.siteloop import LoopOptions, SiteLoop
from syncd.frontends.daemon.slots import CycleSlots
from syncd.frontends.daemon.watcher import SourceWatcher

log = structlog.get_logger("syncd.frontends.daemon")

SiteT = TypeVar("SiteT", bound=NamedSite)

LoadNext = Callable[[DaemonConfig[SiteT]], Awaitable[DaemonSetup[SiteT] | None]]
"""Loads the configuration again after a reload request: the next one, or None when it was
rejected (the running one stays) or a stop came meanwhile."""

CYCLE_READING = "the source as the last cycle read it"
"""The key of a cycle's own reading among a site's source reports."""

SOURCE_READ_FINE = frozenset({CycleResult.OK, CycleResult.REFUSED, CycleResult.NO_MATCH})
"""Cycle results that read the whole source and could use it (a guard or the match check
stopped them later)."""

OWNERSHIP_EXIT_S = 10.0
"""How long the ownership task may take to leave the live set and disconnect on shutdown
(5 s each at most); past that it is cancelled (a connection attempt to a database that
does not answer)."""


def loop_options(config: DaemonConfig[SiteT]) -> LoopOptions:
    """How every site loop of ``config`` schedules its cycles."""
    schedule = config.schedule
    return LoopOptions(schedule=config.timetable, jitter_s=schedule.jitter_s,
                       fast_max_keys=config.fast_max_keys, full_every_s=schedule.full_every_s,
                       incremental=schedule.incremental, resync_s=schedule.resync_s)


FIRST_ROUND_SHARE = 0.9
"""The share of one schedule period a spread first round starts its stores in: the rest is
left for the last of them to finish (a first cycle reads the whole store and plans it), so
the first round is done within one period."""


def first_round_window_s(config: DaemonConfig[SiteT], *, sites: int, now: datetime) -> float:
    """Over how many seconds the first cycles of ``sites`` loops are spread (0: all at once).

    A large fleet (more sites than ``spread_first_round_above`` and than
    ``max_concurrent_cycles``) could not start every site at once anyway: its first round
    is spread over the first ``FIRST_ROUND_SHARE`` of one period of the schedule, each site
    at its stable offset, so a restart does not queue every store behind the slots (and
    leave the end of the queue late), and the last stores' first cycles are done before the
    period ends. A single site, or a smaller fleet, starts at once.
    """
    limit, above = config.max_concurrent_cycles, config.spread_first_round_above
    if above is None or sites <= above or (limit is not None and sites <= limit):
        return 0.0
    return FIRST_ROUND_SHARE * period_s(config.timetable, now)


def source_gates(watchers: Sequence[SourceWatcher | Poller],
                 sources: Sequence[WatchedSource]) -> dict[str, asyncio.Event]:
    """The event holding back each site's cycles while its source is being written.

    A watched file's settle wait; a polled feed (always settled) never takes a file's place
    for a site that reads both, or the file could be read half-written.
    """
    gates: dict[str, asyncio.Event] = {}
    for watcher, source in zip(watchers, sources, strict=False):
        for site in source.sites:
            if isinstance(watcher, SourceWatcher) or site not in gates:
                gates[site] = watcher.settled
    return gates


def _term(lease: SiteLease | None) -> Hashable:
    return None if lease is None else (lease.replica, lease.epoch)


class FleetRun(Generic[SiteT]):
    """Runs the site loops of successive configurations until the stop event is set."""

    def __init__(
        self,
        *,
        statuses: SiteStatuses,
        metrics: Metrics,
        stop: asyncio.Event,
        reload: asyncio.Event,
        force: asyncio.Event,
        load_next: LoadNext[SiteT],
        release_locks: Callable[[DaemonConfig[SiteT]], None],
        on_outcome: Callable[[CycleOutcome], None],
        ownership: Ownership | None = None,
    ) -> None:
        self._statuses = statuses
        self._metrics = metrics
        self._stop = stop
        self._reload = reload
        self._force = force
        self._load_next = load_next
        self._release_locks = release_locks
        """Releases the locks of every site not in the given configuration."""
        self._on_outcome = on_outcome
        self._own = ownership
        self._slots = CycleSlots()
        self._loops: dict[str, SiteLoop[SiteT]] = {}
        self._config_names: set[str] = set()
        """The sites of the running configuration, with the disabled ones."""
        self.config: DaemonConfig[SiteT] | None = None
        """The configuration the loops run under (None before the first one starts)."""

    @property
    def loops(self) -> Mapping[str, SiteLoop[SiteT]]:
        """The running site loops, by site (approvals, the console, SIGUSR1)."""
        return self._loops

    async def run(self, setup: DaemonSetup[SiteT], tg: asyncio.TaskGroup) -> None:
        """Run ``setup``, then each configuration a reload brings, until the stop event."""
        fleet: Fleet[SiteT] = Fleet(tg, force=self._force)
        own = self._own
        # The leases outlive the daemon's stop until the cycles in flight have drained: they
        # keep being renewed, so that those cycles may finish their writes, fenced.
        own_stop = asyncio.Event()
        own_task = tg.create_task(own.run(own_stop), name="site ownership") if own else None
        current: DaemonSetup[SiteT] | None = setup
        grace_s = setup.config.shutdown_grace_s
        try:
            while current is not None:
                grace_s = current.config.shutdown_grace_s
                current = await self._run_config(current, fleet, tg)
        finally:
            if own is not None:
                own.set_sites(())  # take no new site while draining
            await fleet.close(grace_s=grace_s)
            self._loops = {}
            if own is not None:
                await own.stopped(frozenset())
            own_stop.set()
            if own_task is not None:
                await asyncio.wait({own_task}, timeout=OWNERSHIP_EXIT_S)
                own_task.cancel()

    async def _run_config(self, setup: DaemonSetup[SiteT], fleet: Fleet[SiteT],
                          tg: asyncio.TaskGroup) -> DaemonSetup[SiteT] | None:
        """Run one configuration; returns the next one after a reload, None after a stop."""
        config = setup.config
        self._slots.resize(config.max_concurrent_cycles)
        self._note_site_files(config)
        # This configuration's watchers and pollers report afresh; what the loops' last
        # cycles read stays until their next cycle.
        self._statuses.forget_sources(keep=CYCLE_READING)
        await fleet.open_generation(setup)
        if self._own is not None:
            self._own.set_sites([site.name for site in config.sites])
        watchers = await self._make_watchers(setup, fleet.loops)
        gates = source_gates(watchers, setup.sources)
        watch_tasks = [tg.create_task(w.run(), name=f"watch {w.path}") for w in watchers]
        try:
            await self._apply(fleet, config, gates)
            return await self._wait(fleet, config, gates)
        finally:
            for task in watch_tasks:
                task.cancel()

    async def _wait(self, fleet: Fleet[SiteT], config: DaemonConfig[SiteT],
                    gates: dict[str, asyncio.Event]) -> DaemonSetup[SiteT] | None:
        """Follow ownership changes until a stop (None) or an accepted reload (the new setup)."""
        own = self._own
        while True:
            events = (self._stop, self._reload) + ((own.changed,) if own else ())
            await wait_for_any(*events, timeout_s=None)
            if self._stop.is_set():
                return None
            if own is not None and own.changed.is_set():
                own.changed.clear()
                await self._apply(fleet, config, gates)
            if self._reload.is_set():
                new = await self._load_next(config)
                if new is not None:
                    return new
                if self._stop.is_set():
                    return None

    async def _apply(self, fleet: Fleet[SiteT], config: DaemonConfig[SiteT],
                     gates: dict[str, asyncio.Event]) -> None:
        """Run the loops ``config`` (and this process's share of the sites) asks for."""
        own = self._own
        allowed = own.runnable() if own is not None else None
        sites = [s for s in config.sites if allowed is None or s.name in allowed]
        leases = {site.name: own.lease(site.name) for site in sites} if own is not None else {}
        options = loop_options(config)
        window_s = first_round_window_s(config, sites=len(sites), now=datetime.now(UTC))
        loop_key = (options, config.backoff_initial_s, config.backoff_max_s)
        # A loop runs within one ownership term: a site lost and taken back meanwhile (a new
        # epoch) gets a new loop, fenced by the new lease.
        wanted = [(site, (site, loop_key, _term(leases.get(site.name)))) for site in sites]
        self._statuses.add(site.name for site in sites)
        for site in sites:
            self._metrics.observe_source_ok(
                site.name, self._statuses.statuses[site.name].source_error is None)

        def make_loop(site: SiteT, runner: CycleRunner[SiteT]) -> SiteLoop[SiteT]:
            return SiteLoop(
                site, runner=runner, options=options,
                status=self._statuses.statuses[site.name], metrics=self._metrics,
                backoff=Backoff(initial_s=config.backoff_initial_s, max_s=config.backoff_max_s),
                source_settled=gates.get(site.name), on_outcome=self._cycle_ended,
                slots=self._slots, lease=leases.get(site.name),
                first_delay_s=start_offset_s(site.name, window_s=window_s))

        started, _ = await fleet.apply(wanted, grace_s=config.shutdown_grace_s,
                                       make_loop=make_loop)
        if window_s and started:
            log.info("first_cycles_spread", sites=len(started), window_s=round(window_s, 3),
                     max_concurrent_cycles=config.max_concurrent_cycles)
        for loop in fleet.loops:
            loop.use_source_gate(gates.get(loop.name))
        for name in self._statuses.retain(fleet.names):
            self._metrics.forget_site(name)
        self._loops = {loop.name: loop for loop in fleet.loops}
        self.config = config
        if own is not None:
            await own.stopped(fleet.names)
        else:
            self._release_locks(config)

    def _note_site_files(self, config: DaemonConfig[SiteT]) -> None:
        """Tell the log, readiness, the console and the metric which site files are bad."""
        running = {site.name for site in config.sites}
        errors = dict(config.bad_site_files)
        for name, error in sorted(errors.items()):
            if name in running:
                log.error("site_file_invalid", site=name, error=error,
                          action="runs its previous configuration until the file is fixed")
            else:
                log.error("site_disabled", site=name, error=error,
                          action="fix the file, then reload (SIGHUP)")
        for name in self._statuses.config_errors.keys() - errors.keys():
            if name in running:
                log.info("site_file_valid_again", site=name)
        self._statuses.config_errors.clear()
        self._statuses.config_errors.update(errors)
        for name in self._config_names - running - errors.keys():
            self._metrics.observe_site_config(name, None)
        for name in running | errors.keys():
            self._metrics.observe_site_config(name, name not in errors)
        self._config_names = running | errors.keys()

    def _cycle_ended(self, outcome: CycleOutcome) -> None:
        """A cycle read the source too: whether it could use it is reported like a watcher's
        reading (an incremental or scheduled cycle may be the first to see a bad edit)."""
        if outcome.result is CycleResult.INVALID_SOURCE:
            error = outcome.error or outcome.summary or "the source cannot be used"
            self._report_source((outcome.site,), CYCLE_READING, error)
        elif outcome.result in SOURCE_READ_FINE:
            self._report_source((outcome.site,), CYCLE_READING, None)
        self._on_outcome(outcome)

    def _report_source(self, sites: Sequence[str], source: str, error: str | None) -> None:
        """A source of ``sites`` fails (``error``) or works: readiness, console, metric."""
        self._statuses.report_source(sites, source, error)
        for name in sites:
            status = self._statuses.statuses.get(name)
            if status is not None:
                self._metrics.observe_source_ok(name, status.source_error is None)

    async def _make_watchers(
        self, setup: DaemonSetup[SiteT], loops: Sequence[SiteLoop[SiteT]]
    ) -> list[SourceWatcher | Poller]:
        """One watcher per source, telling its sites' ``loops`` (the fleet's live list)."""
        if not setup.config.schedule.watch_source:
            return []
        return [await self._make_watcher(source, loops, settle_s=setup.config.schedule.settle_s)
                for source in setup.sources]

    async def _make_watcher(
        self, source: WatchedSource, loops: Sequence[SiteLoop[SiteT]], *, settle_s: float
    ) -> SourceWatcher | Poller:
        tracker = source.tracker
        sites = set(source.sites)

        def tell_loops(keys: frozenset[str] | None) -> None:
            for loop in loops:
                if loop.name in sites:
                    loop.source_changed(keys)

        async def on_settled() -> None:
            if tracker is not None:
                await tracker.on_source_settled()  # calls tell_loops with the changed keys
            else:
                tell_loops(None)  # no reader for the fast lane: a full cycle

        def on_health(error: str | None) -> None:
            # Per site and source, so that one good feed does not hide another failing one.
            self._report_source(source.sites, str(source.path), error)

        def on_rows(error: str | None) -> None:
            # Apart from the fetch: a feed fetched fine may still hold rows that are invalid.
            self._report_source(source.sites, f"{source.path} (rows)", error)

        poller = source.poller(on_settled, on_health) if source.poller is not None else None
        if poller is not None:
            await poller.prime()  # the first copy of the feed, before the tracker reads it
        if tracker is not None:
            tracker.subscribe_health(on_rows)
            await tracker.prime()
            tracker.subscribe(tell_loops)
        if poller is not None:
            return poller
        return SourceWatcher(Path(source.path), settle_s=settle_s, on_settled=on_settled)
