"""The daemon as a whole: start-up, one task per site, reloads, and a clean shutdown.

``Daemon.run`` takes the site locks, starts the HTTP endpoint, tells systemd it is ready and
then runs *generations*: one generation is one configuration, with one named task per site
(and one for the source watcher) owned by a ``TaskGroup``. A generation ends on SIGTERM/SIGINT
or on an accepted SIGHUP reload (SIGUSR1 asks every site for a full walk next cycle):

- The signal handlers only set events. The site loops see the stop event at once: no new
  cycle starts, and a cycle in flight sees the same event and stops between products.
- In-flight cycles get ``shutdown_grace_s`` to finish their current writes; then whatever is
  still running is cancelled. A second SIGTERM/SIGINT skips the rest of the grace period.
- The cycle runner's context is then exited (it closes its session and flushes the journal),
  the endpoint stops and ``run`` returns: the process exits 0.

A reload reads the configuration again (in a thread, it touches files); an invalid one is
logged with its error and the running generation simply continues. A valid one ends the
current generation like a shutdown would and starts the next, whose first cycles are full
ones, which also re-reads the source. Site statuses (and so readiness) survive a reload.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Generic, TypeVar

import structlog
from aiohttp import web

from syncd.backend.local import LocalBackend
from syncd.backend.local.approve import APPROVE_SIGNAL, take_approval
from syncd.config import HttpSettings, ListenAddress
from syncd.daemon.aio import wait_for_any
from syncd.daemon.backoff import Backoff
from syncd.daemon.config import DaemonConfig, DaemonSetup, WatchedSource
from syncd.daemon.cycle import CycleOutcome, NamedSite
from syncd.daemon.fleetrun import run_fleet
from syncd.daemon.health import SiteStatus
from syncd.daemon.http import HealthView, HttpServer, build_app
from syncd.daemon.notify import SystemdNotifier, run_watchdog, watchdog_interval_s
from syncd.daemon.ownership import Ownership
from syncd.daemon.polling import Poller
from syncd.daemon.siteloop import LoopOptions, SiteLoop
from syncd.daemon.watcher import SourceWatcher
from syncd.metrics import Metrics

log = structlog.get_logger("syncd.daemon")

SiteT = TypeVar("SiteT", bound=NamedSite)


class Daemon(Generic[SiteT]):
    """Runs the site loops of successive configurations until asked to stop.

    ``load`` builds a fresh ``DaemonSetup`` from the configuration file; it is called again
    on every reload and must raise ``ConfigError`` (or any ``SyncdError``) for an invalid
    file. ``stop``, ``reload`` and ``started`` are exposed for tests and embedding.
    """

    def __init__(
        self,
        load: Callable[[], DaemonSetup[SiteT]],
        *,
        metrics: Metrics,
        notifier: SystemdNotifier | None = None,
        env: Mapping[str, str] | None = None,
        http_routes: Callable[[web.Application], None] | None = None,
        ownership: Ownership | None = None,
    ) -> None:
        self._load = load
        self._ownership = ownership
        self._metrics = metrics
        self._notifier = notifier or SystemdNotifier(None)
        self._env = env if env is not None else os.environ
        self.stop = asyncio.Event()
        self.reload = asyncio.Event()
        self.started = asyncio.Event()
        self._force = asyncio.Event()
        self._statuses: dict[str, SiteStatus] = {}
        self._source_errors: dict[str, dict[str, str]] = {}
        """Site -> remote source -> why it is failing (shown by /readyz)."""
        self._locks: dict[Path, contextlib.ExitStack] = {}
        self._state_dir: Path | None = None
        self._view = HealthView(statuses=self._statuses.values,
                                ready_max_age_s=HttpSettings().ready_max_age_s,
                                started_at_s=time.time())
        self.http_address: ListenAddress | None = None
        self._http_routes = http_routes
        """Adds routes (the web console) to the HTTP endpoint before it starts."""
        self._loops: dict[str, SiteLoop[SiteT]] = {}
        """The site loops of the running configuration, by site (approvals, the console,
        SIGUSR1)."""

    # -- requests (signal handlers, tests) -------------------------------------------------

    def request_stop(self, reason: str = "request") -> None:
        """Stop after in-flight work; a second request skips the rest of the grace period."""
        if self.stop.is_set():
            log.warning("shutdown_forced", reason=reason)
            self._force.set()
            return
        log.info("shutdown_requested", reason=reason)
        self._notifier.stopping()
        self.stop.set()

    def take_approvals(self) -> None:
        """Run one forced cycle of every site an approval was requested for
        (``syncd.state.approve``)."""
        if self._state_dir is None:
            return
        for loop in self._loops.values():
            if take_approval(self._state_dir, loop.name):
                log.warning("forced_cycle_requested", site=loop.name)
                loop.request_forced_cycle("approved")

    def request_reload(self, reason: str = "request") -> None:
        """Re-read the configuration; the running one stays if the new one is invalid."""
        log.info("reload_requested", reason=reason)
        self.reload.set()

    def request_cycle(self, site: str, reason: str) -> bool:
        """Run a full cycle of ``site`` as soon as it is free; False for an unknown site."""
        loop = self._loops.get(site)
        if loop is None:
            return False
        log.info("cycle_requested", site=site, reason=reason)
        loop.request_full_cycle(reason)
        return True

    def request_resync(self, reason: str = "request") -> None:
        """Walk every site's whole store in its next cycle (SIGUSR1)."""
        log.info("resync_requested", reason=reason)
        for loop in self._loops.values():
            loop.request_full_cycle(reason)

    @property
    def statuses(self) -> Mapping[str, SiteStatus]:
        """The live status of every site, by name."""
        return self._statuses

    # -- the run ---------------------------------------------------------------------------

    async def run(self, setup: DaemonSetup[SiteT]) -> None:
        """Run until stopped; raises ``SiteLocked``/``ConfigError`` if start-up fails."""
        with structlog.contextvars.bound_contextvars(run=uuid.uuid4().hex[:12]):
            try:
                self._take_locks(setup.config)
                self._view.ready_max_age_s = setup.config.ready_max_age_s
                app = build_app(self._view, metrics=self._metrics)
                if self._http_routes is not None:
                    self._http_routes(app)
                server = HttpServer(app, setup.config.listen)
                self.http_address = await server.start()
                try:
                    with self._signal_handlers():
                        await self._run_generations(setup)
                finally:
                    await server.stop()
            finally:
                self._release_locks(keep=())
                self._notifier.close()
        log.info("shutdown_complete")

    async def _run_generations(self, setup: DaemonSetup[SiteT]) -> None:
        config = setup.config
        log.info("daemon_started", sites=[s.name for s in config.sites],
                 listen=str(self.http_address), schedule=config.schedule.describe(),
                 watch=[str(s.path) for s in setup.sources] if config.watch_source else [])
        self._notifier.ready(status=f"{len(config.sites)} site(s), first cycles starting")
        if self._ownership is None:  # every site is this process's from the start
            for site in config.sites:
                self._statuses.setdefault(site.name, SiteStatus(site.name))
        self.started.set()
        async with asyncio.TaskGroup() as tg:
            interval_s = watchdog_interval_s(self._env)
            watchdog = None
            if interval_s is not None and self._notifier.enabled:
                watchdog = tg.create_task(run_watchdog(self._notifier, interval_s=interval_s),
                                          name="systemd watchdog")
            if setup.config.keep_unchanged_on_reload or self._ownership is not None:
                await run_fleet(self, setup, tg)
            else:
                current: DaemonSetup[SiteT] | None = setup
                while current is not None:
                    current = await self._run_generation(current)
            if watchdog is not None:
                watchdog.cancel()

    async def _run_generation(self, setup: DaemonSetup[SiteT]) -> DaemonSetup[SiteT] | None:
        """Run one configuration; returns the next one after a reload, None after a stop."""
        config = setup.config
        self._adopt_statuses(config)
        self._source_errors.clear()  # this generation's pollers report afresh
        for status in self._statuses.values():
            status.source_error = None
        self._view.ready_max_age_s = config.ready_max_age_s
        generation_stop = asyncio.Event()
        async with setup.open_runner() as runner:
            loops: list[SiteLoop[SiteT]] = []
            watchers = await self._make_watchers(setup, loops)
            # A site gated by a watched file's settle wait; a polled feed (always settled)
            # never takes a file's place for a site that reads both.
            settled: dict[str, asyncio.Event] = {}
            for w, src in zip(watchers, setup.sources, strict=False):
                for site_name in src.sites:
                    if isinstance(w, SourceWatcher) or site_name not in settled:
                        settled[site_name] = w.settled
            self._state_dir = config.state_dir
            loops.extend(
                SiteLoop(site, runner=runner,
                         options=LoopOptions(schedule=config.schedule, jitter_s=config.jitter_s,
                                             fast_max_keys=config.fast_max_keys,
                                             full_every_s=config.full_every_s,
                                             incremental=config.incremental,
                                             resync_s=config.resync_s),
                         status=self._statuses[site.name], metrics=self._metrics,
                         backoff=Backoff(initial_s=config.backoff_initial_s,
                                         max_s=config.backoff_max_s),
                         source_settled=settled.get(site.name),
                         on_outcome=self._report)
                for site in config.sites
            )
            self._loops = {loop.name: loop for loop in loops}
            async with asyncio.TaskGroup() as tg:
                site_tasks = [tg.create_task(loop.run(generation_stop), name=f"site {loop.name}")
                              for loop in loops]
                watch_tasks = [tg.create_task(w.run(), name=f"watch {w.path}") for w in watchers]
                next_setup = await self._wait_for_stop_or_reload(config)
                generation_stop.set()
                await self._drain(site_tasks, grace_s=config.shutdown_grace_s)
                for task in watch_tasks:
                    task.cancel()
        # The runner is closed (session, journal): now the old sites' locks can go.
        if next_setup is not None:
            self._release_locks(keep=_lock_paths(next_setup.config))
        return next_setup

    async def _make_watchers(
        self, setup: DaemonSetup[SiteT], loops: Sequence[SiteLoop[SiteT]]
    ) -> list[SourceWatcher | Poller]:
        """One watcher per source file, telling its sites' ``loops`` (filled in later)."""
        if not setup.config.watch_source:
            return []
        return [await self._make_watcher(source, loops, settle_s=setup.config.settle_s)
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
            for name in sites:
                errors = self._source_errors.setdefault(name, {})
                if error is None:
                    errors.pop(str(source.path), None)
                else:
                    errors[str(source.path)] = error
                if name in self._statuses:
                    self._statuses[name].source_error = next(iter(errors.values()), None)

        poller = source.poller(on_settled, on_health) if source.poller is not None else None
        if poller is not None:
            await poller.prime()  # the first copy of the feed, before the tracker reads it
        if tracker is not None:
            await tracker.prime()
            tracker.subscribe(tell_loops)
        if poller is not None:
            return poller
        return SourceWatcher(Path(source.path), settle_s=settle_s, on_settled=on_settled)

    async def _wait_for_stop_or_reload(
        self, config: DaemonConfig[SiteT]
    ) -> DaemonSetup[SiteT] | None:
        while True:
            await wait_for_any(self.stop, self.reload, timeout_s=None)
            if self.stop.is_set():
                return None
            new = await self._reload(config)
            if new is not None or self.stop.is_set():
                return new

    async def _reload(self, config: DaemonConfig[SiteT]) -> DaemonSetup[SiteT] | None:
        """Load the configuration again; None when rejected (or stopped meanwhile)."""
        self.reload.clear()
        self._notifier.reloading()
        try:
            new = await asyncio.to_thread(self._load)
            self._take_locks(new.config)
        except Exception as e:  # any failure to load keeps the running configuration
            log.error("config_reload_rejected", error=f"{e}", error_type=type(e).__name__)
            self._notifier.ready(status=f"reload rejected, old configuration kept: {e}")
            return None
        if self.stop.is_set():
            return None  # stopped while the new file was read: no need to start it
        if new.config.listen != config.listen:
            log.warning("http_listen_change_needs_restart", listen=str(self.http_address),
                        configured=str(new.config.listen))
        log.info("config_reloaded", sites=[s.name for s in new.config.sites])
        self._notifier.ready(status="configuration reloaded")
        return new

    async def _drain(self, tasks: Sequence[asyncio.Task[None]], *, grace_s: float) -> None:
        """Let the site loops finish their cycles for up to ``grace_s``, then cancel them."""
        busy = [s.site for s in self._statuses.values() if s.in_cycle]
        if busy:
            log.info("waiting_for_cycles", sites=busy, grace_s=grace_s)
        all_done = asyncio.Event()

        def check(_: object) -> None:
            if all(t.done() for t in tasks):
                all_done.set()

        for task in tasks:
            task.add_done_callback(check)
        check(None)
        await wait_for_any(all_done, self._force, timeout_s=grace_s)
        late = [t for t in tasks if not t.done()]
        if late:
            log.warning("shutdown_grace_expired", cancelled=[t.get_name() for t in late],
                        grace_s=grace_s, forced=self._force.is_set())
            for task in late:
                task.cancel()

    # -- bookkeeping -----------------------------------------------------------------------

    def _adopt_statuses(self, config: DaemonConfig[SiteT]) -> None:
        self._adopt_names({site.name for site in config.sites})

    def _adopt_names(self, names: set[str]) -> None:
        for name in list(self._statuses):
            if name not in names:
                del self._statuses[name]
                self._metrics.forget_site(name)
        for name in sorted(names):
            self._statuses.setdefault(name, SiteStatus(name))

    def _report(self, outcome: CycleOutcome) -> None:
        summary = outcome.summary or (
            f"{outcome.kind} {outcome.result}: planned {outcome.planned}, "
            f"written {outcome.written}, failed {outcome.failed}")
        self._notifier.status(f"{outcome.site}: {summary} ({outcome.duration_s:.1f}s)")

    def _take_locks(self, config: DaemonConfig[SiteT]) -> None:
        """Hold the lock of every site of ``config``; on failure release what this call took.
        Replicas sharing the sites hold leases instead (the ``Ownership`` their backend
        gave, ``StateBackend.ownership``); without one, the sites are this process's and
        their locks are the local backend's lock files."""
        if self._ownership is not None:
            return
        backend = LocalBackend(config.state_dir)
        taken: list[Path] = []
        try:
            for site in config.sites:
                path = backend.lock_path(site.name)
                if path in self._locks:
                    continue
                stack = contextlib.ExitStack()
                stack.enter_context(backend.hold_site_lock(site.name))
                self._locks[path] = stack
                taken.append(path)
        except BaseException:
            for path in taken:
                self._locks.pop(path).close()
            raise

    def _release_locks(self, *, keep: Sequence[Path] | set[Path]) -> None:
        for path in list(self._locks):
            if path not in keep:
                self._locks.pop(path).close()

    @contextlib.contextmanager
    def _signal_handlers(self) -> Iterator[None]:
        loop = asyncio.get_running_loop()
        handlers = {
            signal.SIGTERM: lambda: self.request_stop("SIGTERM"),
            signal.SIGINT: lambda: self.request_stop("SIGINT"),
            signal.SIGHUP: lambda: self.request_reload("SIGHUP"),
            signal.SIGUSR1: lambda: self.request_resync("SIGUSR1"),
            APPROVE_SIGNAL: self.take_approvals,
        }
        for sig, handler in handlers.items():
            loop.add_signal_handler(sig, handler)
        try:
            yield
        finally:
            for sig in handlers:
                loop.remove_signal_handler(sig)


def _lock_paths(config: DaemonConfig[SiteT]) -> set[Path]:
    backend = LocalBackend(config.state_dir)
    return {backend.lock_path(site.name) for site in config.sites}
