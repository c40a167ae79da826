"""The daemon's daily journal compaction: an owned task that drops history past the
retention (``journal_retention_days``) for every configured site, a while after start-up
and then once a day, until the daemon stops.

What is dropped is the backend's rule (``StateBackend.compact``, ``syncd.core.retention``):
never an unsettled write, never the run ``syncd rollback`` undoes. On the local backend it
touches closed segments only, beside the cycles appending to the current ones; on
PostgreSQL it deletes in bounded batches, so replicas that each compact every site only
repeat each other's work.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog

from syncd.base.errors import SyncdError
from syncd.core.retention import Compaction
from syncd.edges.backend import backend_for
from syncd.edges.config import Settings

log = structlog.get_logger("syncd.journal")

FIRST_DELAY_S = 300.0
"""After start-up, the first compaction waits this long: the first cycles come first, and
a daemon restarted in a loop does not compact on every start."""

INTERVAL_S = 86_400.0
"""Then one compaction a day."""


def log_compaction(logger: Any, done: Compaction, *, by: str) -> None:
    """The ``journal_compacted`` event of one site's compaction (``by``: daemon, command)."""
    logger.info("journal_compacted", site=done.site, by=by, unit=done.unit,
                dry_run=done.dry_run, retention_days=done.retention_days,
                dropped=len(done.dropped), kept=len(done.kept),
                dropped_lines=done.dropped_lines, kept_lines=done.kept_lines,
                kept_unsettled=done.kept_unsettled)


async def compact_sites(settings: Settings) -> list[Compaction]:
    """Compact the journal of every site of ``settings``; a site whose journal cannot be
    compacted is logged (``journal_compaction_failed``) and the others still are."""
    done = []
    async with backend_for(settings) as backend:
        for site in settings.sites:
            try:
                result = await backend.compact(
                    site.name, retention_days=settings.fleet.journal_retention_days,
                    now=datetime.now(UTC))
            except (SyncdError, OSError) as e:
                log.warning("journal_compaction_failed", site=site.name, error=str(e),
                            where=backend.where(site.name))
                continue
            log_compaction(log, result, by="daemon")
            done.append(result)
    return done


@dataclass(frozen=True, slots=True)
class JournalCompaction:
    """How the daemon compacts: ``compact`` each time, first after ``first_delay_s``, then
    every ``interval_s``."""

    compact: Callable[[], Awaitable[object]]
    first_delay_s: float = FIRST_DELAY_S
    interval_s: float = INTERVAL_S

    async def run(self, stop: asyncio.Event) -> None:
        """Compact on schedule until ``stop`` is set (a stop also cuts a wait short); a
        failed compaction is logged and tried again at the next turn."""
        delay = self.first_delay_s
        while True:
            try:
                await asyncio.wait_for(stop.wait(), timeout=delay)
                return
            except TimeoutError:
                pass
            try:
                await self.compact()
            except (SyncdError, OSError) as e:
                log.warning("journal_compaction_failed", error=str(e))
            delay = self.interval_s
