"""The daemon's view of a remote source: polled on its own interval, read from its copy.

A local file is watched (``syncd.frontends.daemon.watcher``); a feed gets a ``WatchedSource`` with a
poller (``syncd.frontends.daemon.feedpoller``) and a fast-lane tracker reading the same local copy.
"""

from __future__ import annotations

from syncd.base.errors import SourceError
from syncd.cycle.metrics import Metrics
from syncd.edges.config import SourceSettings
from syncd.edges.feeds.copy import FeedCopies
from syncd.edges.sources import DesiredSource, changed_keys, load_desired
from syncd.frontends.daemon.config import WatchedSource
from syncd.frontends.daemon.feedpoller import FeedPoller
from syncd.frontends.daemon.polling import OnChanged, OnHealth, Poller
from syncd.frontends.daemon.source_changes import SourceTracker


def feed_source(source: SourceSettings, sites: tuple[str, ...], *, copies: FeedCopies,
                metrics: Metrics | None) -> WatchedSource:
    """The daemon's view of a remote source: polled, and read from its local copy."""
    assert source.feed is not None
    copy = copies.get(source.feed)

    def make_poller(on_changed: OnChanged, on_health: OnHealth) -> Poller:
        return FeedPoller(copy, on_changed=on_changed, on_health=on_health, metrics=metrics)

    def load() -> DesiredSource:
        if not copy.body.exists():
            raise SourceError(f"{source.name}: no complete copy of the feed yet")
        return load_desired(source, file=copy.body)

    return WatchedSource(
        path=source.name,
        sites=sites,
        tracker=SourceTracker(load=load, diff=changed_keys, name=source.name),
        poller=make_poller,
    )
