"""The daemon's check of a remote feed: a conditional fetch every ``poll_s`` seconds.

An unchanged feed (HTTP 304, same SFTP stamp, same S3 ETag, or the same bytes) ends the
check there: nothing is parsed, no cycle runs, Wix is not called. A changed one has been
stored whole in the feed's local copy by the time ``on_changed`` re-reads it. A failing
one is logged, counted in ``syncd_feed_fetches_total{result=<kind>}`` and reported through
``on_health`` (``/readyz`` shows it); the previous copy stays, and no cycle is started.
"""

from __future__ import annotations

import asyncio

import structlog

from syncd.cycle.metrics import Metrics
from syncd.edges.feeds.copy import FeedCopy, FetchResult
from syncd.edges.feeds.feed_errors import FeedError
from syncd.frontends.daemon.polling import OnChanged, OnHealth

log = structlog.get_logger("syncd.edges.feeds")


class FeedPoller:
    """Polls one feed for the daemon (``syncd.frontends.daemon.polling.Poller``)."""

    def __init__(self, copy: FeedCopy, *, on_changed: OnChanged, on_health: OnHealth,
                 metrics: Metrics | None = None) -> None:
        self.copy = copy
        self._on_changed = on_changed
        self._on_health = on_health
        self._metrics = metrics
        self._settled = asyncio.Event()
        self._settled.set()

    @property
    def path(self) -> str:
        return self.copy.feed.display

    @property
    def settled(self) -> asyncio.Event:
        return self._settled

    async def prime(self) -> None:
        await self.check(notify=False)

    async def run(self) -> None:
        feed = self.copy.feed
        log.info("feed_poll_started", feed=feed.display, poll_s=feed.poll_s)
        while True:
            await asyncio.sleep(feed.poll_s)
            await self.check(notify=True)

    async def check(self, *, notify: bool) -> FetchResult | None:
        """One conditional fetch; None when it failed."""
        feed = self.copy.feed
        try:
            result = await self.copy.refresh()
        except FeedError as e:
            log.error("feed_failed", feed=feed.display, kind=e.kind, error=str(e), **e.details)
            self._observe(e.kind)
            self._on_health(str(e))
            return None
        except Exception as e:
            log.exception("feed_check_crashed", feed=feed.display)
            self._observe("error")
            self._on_health(f"{feed.display}: feed check failed: {type(e).__name__}")
            return None
        self._observe(result.value)
        self._on_health(None)
        if result is FetchResult.CHANGED:
            log.info("feed_changed", feed=feed.display)
            if notify:
                await self._on_changed()
        else:
            log.debug("feed_not_modified", feed=feed.display)
        return result

    def _observe(self, result: str) -> None:
        if self._metrics is not None:
            self._metrics.observe_feed(self.copy.feed.display, result)
