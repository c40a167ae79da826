"""The daemon's view of a remote source: polled on its own interval, read from its copy.

A local file is watched (``syncd.daemon.watcher``); a feed gets a ``WatchedSource`` with a
poller (``syncd.daemon.feedpoller``) and a fast-lane tracker reading the same local copy.
"""

from __future__ import annotations

from syncd.config import SourceSettings
from syncd.daemon.changes import SourceTracker
from syncd.daemon.config import WatchedSource
from syncd.daemon.feedpoller import FeedPoller
from syncd.daemon.polling import OnChanged, OnHealth, Poller
from syncd.errors import SourceError
from syncd.feeds.copy import FeedCopies
from syncd.metrics import Metrics
from syncd.sources import DesiredSource, changed_keys, load_desired


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
