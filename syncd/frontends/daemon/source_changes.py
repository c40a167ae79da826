"""Which source rows changed since the last reading: the input of the fast lane.

When an operator edits a few rows, the daemon should not walk a whole store of thousands of
variants to apply them. After each settled change of the source file, ``SourceTracker``
reads it again, asks the sources module which keys (``DesiredStock.key``) were added,
removed or changed, and tells every site loop, which then runs a FAST cycle for just those
rows. An unreadable or invalid new source is reported and ignored: no cycle is triggered,
and the baseline stays the last good reading, i.e. what the store was last synced against.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Set
from typing import Generic, TypeVar

import structlog

from syncd.base.errors import SourceError

log = structlog.get_logger("syncd.frontends.daemon.source_changes")

S = TypeVar("S")

ChangeListener = Callable[[frozenset[str] | None], None]
"""Told the changed keys after each settled change; None means "unknown: do a full cycle"."""


class SourceTracker(Generic[S]):
    """Keeps the last valid reading of the source and tells listeners what changed.

    ``load`` reads and validates the whole source (blocking, so it runs in a worker thread)
    and raises ``SourceError`` when the source must not be used; ``diff`` returns the keys
    that differ between two readings (``syncd.edges.sources.changed_keys``).
    """

    def __init__(
        self,
        *,
        load: Callable[[], S],
        diff: Callable[[S, S], Set[str]],
        name: str = "source",
    ) -> None:
        self.name = name
        self._load = load
        self._diff = diff
        self._last: S | None = None
        self._listeners: list[ChangeListener] = []

    def subscribe(self, listener: ChangeListener) -> None:
        """Call ``listener`` after every change of the source that alters at least one row."""
        self._listeners.append(listener)

    async def prime(self) -> None:
        """Read the baseline at start-up; an invalid source leaves none (next change: full)."""
        try:
            self._last = await asyncio.to_thread(self._load)
        except SourceError as e:
            log.warning("source_invalid", source=self.name, error=str(e))
            self._last = None
        except Exception:
            # A reader bug must not stop the daemon from starting (and, under systemd,
            # restart it in a loop): no baseline means the next change runs a full cycle.
            log.exception("source_read_failed", source=self.name)
            self._last = None

    async def on_source_settled(self) -> None:
        """Re-read the source after a settled change and notify listeners of changed keys."""
        try:
            new = await asyncio.to_thread(self._load)
        except SourceError as e:
            # Reported and skipped: a source that cannot be used triggers no cycle.
            log.error("source_invalid", source=self.name, error=str(e))
            return
        except Exception:
            log.exception("source_read_failed", source=self.name)
            return
        keys = None if self._last is None else frozenset(self._diff(self._last, new))
        self._last = new
        if keys is not None and not keys:
            log.info("source_unchanged", source=self.name)
            return
        log.info("source_rows_changed", source=self.name,
                 changed=None if keys is None else len(keys))
        for listener in self._listeners:
            listener(keys)
