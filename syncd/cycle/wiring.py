"""Opening the sync of every configured site at once: one HTTP session, one state backend.

The one-shot commands and the daemon's cycle runner both start here; ``SiteSync``
(``syncd.cycle.sync``) is one site's cycle.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from datetime import timedelta

import aiohttp
import structlog

from syncd.cycle.metrics import Metrics
from syncd.cycle.sync import SiteSync
from syncd.edges.backend import backend_for
from syncd.edges.config import Settings
from syncd.edges.config.fleet import FleetSettings
from syncd.edges.feeds.copy import FeedCopies
from syncd.edges.sources.parsers import SourceParsers
from syncd.edges.sources.remote import feed_directory
from syncd.edges.wix import LimiterPool

REPLICA_HEADER = "x-syncd-replica"

log = structlog.get_logger("syncd.cycle.wiring")


def source_processes(fleet: FleetSettings, sites: int) -> int:
    """Worker processes that parse sources (``source_processes``): as configured, or with
    ``auto`` one for a fleet large enough to spread its first round (more sites than
    ``spread_first_round_above``) on a machine with another core; else none (a thread)."""
    if fleet.source_processes is not None:
        return fleet.source_processes
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return 1 if sites > fleet.spread_first_round_above and (cores or 1) > 1 else 0


@asynccontextmanager
async def open_site_syncs(
    settings: Settings, *, metrics: Metrics | None = None, site_names: Iterable[str] = (),
    limiters: LimiterPool | None = None, feeds: FeedCopies | None = None,
    incremental: bool = False,
) -> AsyncIterator[dict[str, SiteSync]]:
    """A ``SiteSync`` per configured site (or per named one), sharing one HTTP session, and
    the stores' budgets from ``limiters`` when given (a daemon keeps them across reloads);
    ``feeds`` are the feed copies a daemon's pollers keep fresh; ``incremental`` gives each
    an informer, for ``CycleKind.INCREMENTAL`` cycles."""
    wanted = set(site_names)
    limiters = limiters or LimiterPool()  # sites sharing an API key may share a budget
    polled = feeds is not None
    feeds = feeds or FeedCopies(feed_directory(settings.state_dir))
    # Every request names the replica that sent it: an emulator (or a proxy) can then show
    # that no store was ever written by two replicas at once.
    headers = {REPLICA_HEADER: settings.fleet.replica_id} if settings.fleet.replica_id else None
    # No pool-wide cap on connections: each site's client already bounds its own requests
    # in flight, and a shared cap would let one slow store's requests queue up the others.
    connector = aiohttp.TCPConnector(limit=0)
    processes = source_processes(settings.fleet, len(settings.sites))
    async with backend_for(settings) as backend, SourceParsers(processes) as parsers, \
            aiohttp.ClientSession(headers=headers, connector=connector) as session:
        if processes:
            log.info("source_processes", processes=processes, sites=len(settings.sites),
                     why="sources are parsed in worker processes, on other cores than "
                         "the event loop's")
        syncs = {s.name: SiteSync(s, state_dir=settings.state_dir, session=session,
                                  metrics=metrics, limiters=limiters, feeds=feeds,
                                  polled_feeds=polled, incremental=incremental,
                                  backend=backend,
                                  probe_max_age=timedelta(days=settings.probe.max_age_days),
                                  parsers=parsers)
                 for s in settings.sites if not wanted or s.name in wanted}
        yield syncs
