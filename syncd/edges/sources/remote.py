"""Reading a site's sources, local or remote: what a cycle and ``syncd validate`` call.

``read_source``: a local file is read as before; a feed is first renewed (a conditional
fetch, skipped when the daemon's poller checked it within the last ``max_age_s``) and then
its complete local copy is read. ``read_site_source`` reads every source of a site, matches
and merges them. The daemon's poller of a feed is ``syncd.frontends.daemon.feedsource``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from syncd.edges.config import SiteSettings, SourceSettings
from syncd.edges.feeds.copy import FeedCopies
from syncd.edges.sources import DesiredSource, load_desired
from syncd.edges.sources.cache import SourceCache
from syncd.edges.sources.matching import match_source
from syncd.edges.sources.merge import merge_sources


def feed_directory(state_dir: Path) -> Path:
    """Where the local copies of remote feeds are kept."""
    return state_dir / "feeds"


async def read_source(source: SourceSettings, feeds: FeedCopies, *,
                      max_age_s: float = 0.0, cache: SourceCache | None = None
                      ) -> DesiredSource:
    """The source's rows; raises ``SourceError`` (``FeedError`` for a failing feed).
    With a ``cache``, a file whose bytes did not change since its last read is not parsed
    again."""
    file: Path | None = None
    if source.feed is not None:
        copy = feeds.get(source.feed)
        await copy.ensure(max_age_s=max_age_s)
        file = copy.body
    if cache is None:
        return await asyncio.to_thread(load_desired, source, file=file)
    return await cache.read(source, file)


async def read_site_source(site: SiteSettings, feeds: FeedCopies, *,
                           polled: bool = False, cache: SourceCache | None = None
                           ) -> DesiredSource:
    """Every source of ``site`` read (at once), matched by ``site.match`` and merged by
    ``site.merge``. ``polled``: a daemon's pollers keep the feeds fresh, so a feed checked
    within its poll interval is not fetched again. ``cache``: see ``read_source``."""
    # Every read has its own deadline, so waiting for all of them is bounded; the first
    # failure (in the configured order) is the one reported.
    results = await asyncio.gather(*(read_source(
        s, feeds, max_age_s=s.feed.poll_s if s.feed is not None and polled else 0.0,
        cache=cache) for s in site.sources), return_exceptions=True)
    loaded: list[DesiredSource] = []
    for source, result in zip(site.sources, results, strict=True):
        if isinstance(result, BaseException):
            raise result
        # Match keys first, so that sources writing one SKU differently still merge.
        loaded.append(match_source(result, site.match, source.on_invalid_row))
    return merge_sources(loaded, site.merge, site.source.on_invalid_row)


def fetch_copy(source: SourceSettings, state_dir: Path) -> Path | None:
    """For synchronous commands (``syncd validate``): the complete local copy of a remote
    source, fetched now (None for a local file). Raises ``FeedError``."""
    if source.feed is None:
        return None
    copy = FeedCopies(feed_directory(state_dir)).get(source.feed)
    asyncio.run(copy.refresh())
    return copy.body
