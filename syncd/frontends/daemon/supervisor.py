"""The daemon as a whole: start-up, the site loops, reloads, and a clean shutdown.

``Daemon.run`` takes the site locks, starts the HTTP endpoint, tells systemd it is ready and
then runs ``FleetRun`` (``syncd.frontends.daemon.fleet_loop``): one named task per site (and one per
watched source) owned by a ``TaskGroup``, until SIGTERM/SIGINT. SIGHUP reloads the
configuration and SIGUSR1 asks every site for a full walk in its next cycle:

- The signal handlers only set events. The site loops see the stop event at once: no new
  cycle starts, and a cycle in flight sees the same event and stops between products.
- In-flight cycles get ``shutdown_grace_s`` to finish their current writes; then whatever is
  still running is cancelled. A second SIGTERM/SIGINT skips the rest of the grace period.
- Every cycle runner's context is then exited (it closes its session and flushes the
  journal), the endpoint stops and ``run`` returns: the process exits 0.

A reload reads the configuration again (in a thread, it touches files); an invalid one is
logged with its error and the running one simply continues. A bad file of ``sites_dir`` is
not an invalid configuration: it disables its store alone, or leaves a running store on its
previous settings (``syncd.frontends.daemon.wiring.keep_previous_sites``), and the
configuration's other changes apply. A valid one starts and stops
only the sites it adds, removes or changes (a changed site starts again with a full cycle);
the others' loops run on undisturbed. Site statuses (and so readiness) survive a reload.
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

from syncd.cycle.metrics import Metrics
from syncd.edges.backend.local import LocalBackend
from syncd.edges.backend.local.approve import APPROVE_SIGNAL, approval_waits
from syncd.edges.config import HttpSettings, ListenAddress
from syncd.frontends.daemon.compaction import JournalCompaction
from syncd.frontends.daemon.config import DaemonConfig, DaemonSetup
from syncd.frontends.daemon.cycle import CycleOutcome, NamedSite
from syncd.frontends.daemon.fleet_loop import FleetRun
from syncd.frontends.daemon.health import SiteStatus, SiteStatuses
from syncd.frontends.daemon.health_endpoint import HealthView, HttpServer, build_app
from syncd.frontends.daemon.http_guard import HostCheck
from syncd.frontends.daemon.notify import SystemdNotifier, run_watchdog, watchdog_interval_s
from syncd.frontends.daemon.ownership import Ownership

log = structlog.get_logger("syncd.frontends.daemon")

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
        allowed_hosts: Sequence[str] = (),
        on_listening: Callable[[ListenAddress], None] | None = None,
        compaction: JournalCompaction | None = None,
    ) -> None:
        self._load = load
        self._compaction = compaction
        """The daily journal compaction (None: none, e.g. in tests)."""
        self._ownership = ownership
        self._metrics = metrics
        self._notifier = notifier or SystemdNotifier(None)
        self._env = env if env is not None else os.environ
        self.stop = asyncio.Event()
        self.reload = asyncio.Event()
        self.started = asyncio.Event()
        self._force = asyncio.Event()
        self._sites = SiteStatuses()
        self._locks: dict[Path, contextlib.ExitStack] = {}
        self._view = HealthView(statuses=self._sites.statuses.values,
                                ready_max_age_s=HttpSettings().ready_max_age_s,
                                started_at_s=time.time(),
                                config_errors=lambda: self._sites.config_errors)
        self.http_address: ListenAddress | None = None
        self._http_routes = http_routes
        """Adds routes (the web console) to the HTTP endpoint before it starts."""
        self._allowed_hosts = tuple(allowed_hosts)
        """``Host`` names the endpoint answers to besides its listen address."""
        self._on_listening = on_listening
        """Told the bound address once the endpoint listens (the console's notices)."""
        self._fleet: FleetRun[SiteT] = FleetRun(
            statuses=self._sites, metrics=metrics, stop=self.stop, reload=self.reload,
            force=self._force, load_next=self._reload,
            release_locks=lambda config: self._release_locks(keep=_lock_paths(config)),
            on_outcome=self._report, ownership=ownership)
        """The site loops, from the first configuration to the stop."""

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
        """Run one full cycle of every site an approval was requested for
        (``syncd.edges.backend.local.approve``): the cycle takes the approval, and applies
        the plan with the guards overridden if it is the approved one."""
        config = self._fleet.config
        if config is None:
            return
        for loop in self._fleet.loops.values():
            if approval_waits(config.state_dir, loop.name):
                log.warning("forced_cycle_requested", site=loop.name)
                loop.request_full_cycle("approved")

    def request_reload(self, reason: str = "request") -> None:
        """Re-read the configuration; the running one stays if the new one is invalid."""
        log.info("reload_requested", reason=reason)
        self.reload.set()

    def request_cycle(self, site: str, reason: str) -> bool:
        """Run a full cycle of ``site`` as soon as it is free; False for an unknown site."""
        loop = self._fleet.loops.get(site)
        if loop is None:
            return False
        log.info("cycle_requested", site=site, reason=reason)
        loop.request_full_cycle(reason)
        return True

    def request_resync(self, reason: str = "request") -> None:
        """Walk every site's whole store in its next cycle (SIGUSR1)."""
        log.info("resync_requested", reason=reason)
        for loop in self._fleet.loops.values():
            loop.request_full_cycle(reason)

    @property
    def statuses(self) -> Mapping[str, SiteStatus]:
        """The live status of every site, by name."""
        return self._sites.statuses

    @property
    def config_errors(self) -> Mapping[str, str]:
        """The sites whose file is invalid, and why (disabled unless in ``statuses``)."""
        return self._sites.config_errors

    # -- the run ---------------------------------------------------------------------------

    async def run(self, setup: DaemonSetup[SiteT]) -> None:
        """Run until stopped; raises ``SiteLocked``/``ConfigError`` if start-up fails."""
        with structlog.contextvars.bound_contextvars(run=uuid.uuid4().hex[:12]):
            try:
                self._take_locks(setup.config)
                self._view.ready_max_age_s = setup.config.http.ready_max_age_s
                self._view.unready_share = setup.config.http.unready_share
                hosts = HostCheck(setup.config.http.listen.host, self._allowed_hosts)
                app = build_app(self._view, metrics=self._metrics, hosts=hosts)
                if self._http_routes is not None:
                    self._http_routes(app)
                server = HttpServer(app, setup.config.http.listen)
                self.http_address = await server.start()
                if self._on_listening is not None:
                    self._on_listening(self.http_address)
                try:
                    with self._signal_handlers():
                        await self._run_fleet(setup)
                finally:
                    await server.stop()
            finally:
                self._release_locks(keep=())
                self._notifier.close()
        log.info("shutdown_complete")

    async def _run_fleet(self, setup: DaemonSetup[SiteT]) -> None:
        config = setup.config
        log.info("daemon_started", sites=[s.name for s in config.sites],
                 listen=str(self.http_address), schedule=config.timetable.describe(),
                 watch=[str(s.path) for s in setup.sources]
                 if config.schedule.watch_source else [])
        self._notifier.ready(status=f"{len(config.sites)} site(s), first cycles starting")
        if self._ownership is None:  # every site is this process's from the start
            self._sites.add(site.name for site in config.sites)
        self.started.set()
        async with asyncio.TaskGroup() as tg:
            interval_s = watchdog_interval_s(self._env)
            watchdog = None
            if interval_s is not None and self._notifier.enabled:
                watchdog = tg.create_task(run_watchdog(self._notifier, interval_s=interval_s),
                                          name="systemd watchdog")
            compaction = None
            if self._compaction is not None:
                compaction = tg.create_task(self._compaction.run(self.stop),
                                            name="journal compaction")
            await self._fleet.run(setup, tg)
            if watchdog is not None:
                watchdog.cancel()
            if compaction is not None:
                compaction.cancel()

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
        if new.config.http.listen != config.http.listen:
            log.warning("http_listen_change_needs_restart", listen=str(self.http_address),
                        configured=str(new.config.http.listen))
        self._view.ready_max_age_s = new.config.http.ready_max_age_s
        self._view.unready_share = new.config.http.unready_share
        log.info("config_reloaded", sites=[s.name for s in new.config.sites])
        self._notifier.ready(status="configuration reloaded")
        return new

    # -- bookkeeping -----------------------------------------------------------------------

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
