"""Wiring the daemon to the rest of syncd: a settings file in, a ``DaemonSetup`` out.

This module and ``syncd.frontends.daemon.runner`` are the only daemon modules that know
``syncd.edges.config``, ``syncd.edges.sources`` and ``syncd.cycle.sync``; everything else in the
package works against the small seams of ``syncd.frontends.daemon.config`` and
``syncd.frontends.daemon.cycle``, which is what lets the loops be tested with a fake cycle runner.
``build_setup`` is what the daemon calls at start-up and again on every SIGHUP.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from dataclasses import replace

from syncd.cycle.metrics import Metrics
from syncd.edges.config import Settings, SiteSettings, SourceSettings
from syncd.edges.feeds.copy import FeedCopies
from syncd.edges.sources import changed_keys, load_desired
from syncd.edges.sources.remote import feed_directory
from syncd.edges.wix import LimiterPool
from syncd.frontends.daemon.config import DaemonConfig, DaemonSetup, WatchedSource
from syncd.frontends.daemon.feedsource import feed_source
from syncd.frontends.daemon.runner import open_cycle_runner
from syncd.frontends.daemon.site_board import Board
from syncd.frontends.daemon.source_changes import SourceTracker


def daemon_config(settings: Settings) -> DaemonConfig[SiteSettings]:
    """The daemon's view of ``settings``; ConfigError when the values cannot be used."""
    return DaemonConfig(
        sites=settings.sites,
        state_dir=settings.state_dir,
        schedule=settings.schedule,
        http=settings.http,
        shutdown_grace_s=settings.shutdown_grace_s,
        max_concurrent_cycles=settings.fleet.max_concurrent_cycles,
        spread_first_round_above=settings.fleet.spread_first_round_above,
        bad_site_files=tuple((bad.name, bad.error) for bad in settings.disabled_sites),
    )


def keep_previous_sites(fresh: Settings, previous: Settings) -> Settings:
    """``fresh`` with the previous settings of each site whose file just turned bad.

    A store that was running keeps running as it was, rather than stopping because of a
    typo made while editing its file: the previous settings were valid and are what the
    store has been synced with. Its file stays reported as invalid until it is fixed.
    """
    running = {site.name: site for site in previous.sites}
    held = dict((path, name) for name, path in previous.site_files)
    names = {site.name for site in fresh.sites}
    kept: list[SiteSettings] = []
    bad_files = []
    for bad in fresh.disabled_sites:
        # A file whose name cannot be read any more (broken YAML) is known by its path.
        name = bad.name if bad.name in running else held.get(bad.path, bad.name)
        site = running.get(name)
        if site is not None and name not in names:
            kept.append(site)
            names.add(name)
            bad = replace(bad, name=name, running_previous=True)
        bad_files.append(bad)
    if not kept:
        return fresh
    return replace(fresh, sites=fresh.sites + tuple(kept), disabled_sites=tuple(bad_files),
                   site_files=fresh.site_files + tuple(
                       (bad.name, bad.path) for bad in bad_files if bad.running_previous))


def watched_sources(settings: Settings, *, metrics: Metrics | None = None,
                    feeds: FeedCopies | None = None) -> tuple[WatchedSource, ...]:
    """One watched file (or polled feed) per distinct source, with the sites reading it and
    a fast-lane reader.

    Sites are grouped by their whole ``SourceSettings`` (not only the path): two sites
    reading one file with different columns see different rows.
    """
    feeds = feeds or FeedCopies(feed_directory(settings.state_dir))
    groups: dict[SourceSettings, list[str]] = defaultdict(list)
    for site in settings.sites:
        for source in site.sources:
            groups[source].append(site.name)
    return tuple(
        feed_source(source, tuple(names), copies=feeds, metrics=metrics)
        if source.feed is not None else WatchedSource(
            path=source.path,
            sites=tuple(names),
            tracker=SourceTracker(load=functools.partial(load_desired, source),
                                  diff=changed_keys, name=source.name),
        )
        for source, names in groups.items()
    )


def build_setup(settings: Settings, *, metrics: Metrics, limiters: LimiterPool | None = None,
                board: Board | None = None) -> DaemonSetup[SiteSettings]:
    """Everything the daemon runs for ``settings``; pass the same ``limiters`` to every
    generation so that a reload keeps each store's request budget."""
    feeds = FeedCopies(feed_directory(settings.state_dir))
    return DaemonSetup(
        config=daemon_config(settings),
        open_runner=functools.partial(open_cycle_runner, settings, metrics=metrics,
                                      limiters=limiters, feeds=feeds, board=board),
        sources=watched_sources(settings, metrics=metrics, feeds=feeds),
    )
