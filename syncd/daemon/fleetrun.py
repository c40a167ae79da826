"""The daemon's generations when loops outlive reloads (``keep_unchanged_on_reload``) or
when the sites are shared among replicas (an ``Ownership``).

Each accepted reload opens the new configuration's runner and source watchers, then
``Fleet.apply`` starts and stops only the sites that differ; an ownership change (a
replica joined or left) does the same within one configuration. The statuses, metrics and
readiness follow the sites this process actually runs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Hashable, Sequence
from typing import TYPE_CHECKING, TypeVar

from syncd.backend.fence import SiteLease
from syncd.backend.local.lock import lock_path
from syncd.daemon.aio import wait_for_any
from syncd.daemon.backoff import Backoff
from syncd.daemon.config import DaemonConfig, DaemonSetup
from syncd.daemon.cycle import CycleRunner, NamedSite
from syncd.daemon.fleet import Fleet
from syncd.daemon.health import SiteStatus
from syncd.daemon.polling import Poller
from syncd.daemon.siteloop import LoopOptions, SiteLoop
from syncd.daemon.watcher import SourceWatcher

if TYPE_CHECKING:
    from syncd.daemon.supervisor import Daemon

SiteT = TypeVar("SiteT", bound=NamedSite)

OWNERSHIP_EXIT_S = 10.0
"""How long the ownership task may take to leave the live set and disconnect on shutdown
(5 s each at most); past that it is cancelled (a connection attempt to a database that
does not answer)."""


def _loop_key(config: DaemonConfig[SiteT]) -> Hashable:
    """What besides the site's own settings makes a loop run differently."""
    return (config.schedule.describe(), config.jitter_s, config.full_every_s,
            config.fast_max_keys, config.backoff_initial_s, config.backoff_max_s,
            config.incremental, config.resync_s)


def _term(lease: SiteLease | None) -> Hashable:
    return None if lease is None else (lease.replica, lease.epoch)


async def run_fleet(daemon: Daemon[SiteT], setup: DaemonSetup[SiteT],
                    tg: asyncio.TaskGroup) -> None:
    """Run configurations one after the other until the daemon is stopped."""
    limit = setup.config.max_concurrent_cycles
    slots = asyncio.Semaphore(limit) if limit else None
    fleet: Fleet[SiteT] = Fleet(
        tg, drain=lambda tasks, grace_s: daemon._drain(tasks, grace_s=grace_s))
    own = daemon._ownership
    # The leases outlive the daemon's stop until the cycles in flight have drained: they
    # keep being renewed, so that those cycles may finish their writes, fenced.
    own_stop = asyncio.Event()
    own_task = tg.create_task(own.run(own_stop), name="site ownership") if own else None
    current: DaemonSetup[SiteT] | None = setup
    grace_s = setup.config.shutdown_grace_s
    try:
        while current is not None:
            config = current.config
            grace_s = config.shutdown_grace_s
            daemon._view.ready_max_age_s = config.ready_max_age_s
            await fleet.open_generation(current)
            if own is not None:
                own.set_sites([site.name for site in config.sites])
            watchers: list[SourceWatcher | Poller] = await daemon._make_watchers(
                current, fleet.loops)
            settled = {site: w.settled for w, src in zip(watchers, current.sources, strict=False)
                       for site in src.sites}
            watch_tasks = [tg.create_task(w.run(), name=f"watch {w.path}") for w in watchers]
            try:
                await _apply(daemon, fleet, config, settled, slots)
                current = await _wait(daemon, fleet, config, settled, slots)
            finally:
                for task in watch_tasks:
                    task.cancel()
    finally:
        if own is not None:
            own.set_sites(())  # take no new site while draining
        await fleet.close(grace_s=grace_s)
        if own is not None:
            await own.stopped(frozenset())
        own_stop.set()
        if own_task is not None:
            await asyncio.wait({own_task}, timeout=OWNERSHIP_EXIT_S)
            own_task.cancel()


async def _wait(daemon: Daemon[SiteT], fleet: Fleet[SiteT], config: DaemonConfig[SiteT],
                settled: dict[str, asyncio.Event],
                slots: asyncio.Semaphore | None) -> DaemonSetup[SiteT] | None:
    """Follow ownership changes until a stop (None) or an accepted reload (the new setup)."""
    own = daemon._ownership
    while True:
        events = (daemon.stop, daemon.reload) + ((own.changed,) if own else ())
        await wait_for_any(*events, timeout_s=None)
        if daemon.stop.is_set():
            return None
        if own is not None and own.changed.is_set():
            own.changed.clear()
            await _apply(daemon, fleet, config, settled, slots)
        if daemon.reload.is_set():
            new = await daemon._reload(config)
            if new is not None:
                return new
            if daemon.stop.is_set():
                return None


async def _apply(daemon: Daemon[SiteT], fleet: Fleet[SiteT], config: DaemonConfig[SiteT],
                 settled: dict[str, asyncio.Event], slots: asyncio.Semaphore | None) -> None:
    own = daemon._ownership
    allowed = own.runnable() if own is not None else None
    sites: Sequence[SiteT] = [s for s in config.sites if allowed is None or s.name in allowed]
    key = _loop_key(config)
    leases = {site.name: own.lease(site.name) for site in sites} if own is not None else {}
    # A loop runs within one ownership term: a site lost and taken back meanwhile (a new
    # epoch) gets a new loop, fenced by the new lease.
    wanted = [(site, (site, key, _term(leases.get(site.name)))) for site in sites]
    names = {site.name for site in sites}
    for name in names:
        daemon._statuses.setdefault(name, SiteStatus(name))

    def make_loop(site: SiteT, runner: CycleRunner[SiteT]) -> SiteLoop[SiteT]:
        return SiteLoop(
            site, runner=runner,
            options=LoopOptions(schedule=config.schedule, jitter_s=config.jitter_s,
                                fast_max_keys=config.fast_max_keys,
                                full_every_s=config.full_every_s,
                                incremental=config.incremental, resync_s=config.resync_s),
            status=daemon._statuses[site.name], metrics=daemon._metrics,
            backoff=Backoff(initial_s=config.backoff_initial_s, max_s=config.backoff_max_s),
            source_settled=settled.get(site.name), on_outcome=daemon._report, slots=slots,
            lease=leases.get(site.name))

    await fleet.apply(wanted, grace_s=config.shutdown_grace_s, make_loop=make_loop)
    for loop in fleet.loops:
        loop.use_source_gate(settled.get(loop.name))
    daemon._adopt_names(set(fleet.names))
    daemon._loops = {loop.name: loop for loop in fleet.loops}  # console, signals
    daemon._state_dir = config.state_dir  # approval requests
    if own is not None:
        await own.stopped(fleet.names)
    else:
        daemon._release_locks(
            keep={lock_path(config.state_dir, site.name) for site in config.sites})
