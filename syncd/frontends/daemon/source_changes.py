"""Which source rows changed since the last reading: the input of the fast lane.

When an operator edits a few rows, the daemon should not walk a whole store of thousands of
variants to apply them. After each settled change of the source file, ``SourceTracker``
reads it again, asks the sources module which keys (``DesiredStock.key``) were added,
removed or changed, and tells every site loop, which then runs a FAST cycle for just those
rows. An unreadable or invalid new source is reported and ignored: no cycle is triggered,
and the baseline stays the last good reading, i.e. what the store was last synced against.

Every reading is also told to the health listeners (the error, or None when the source
can be used), so that ``/readyz``, the console and ``syncd_source_ok`` show a bad edit at
once rather than at the next full cycle. The first good reading after a bad one asks for
a full cycle: rows may have been written meanwhile that no diff against the last good
reading would show as the operator meant them.
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

HealthListener = Callable[[str | None], None]
"""Told the outcome of every reading: why the source cannot be used, or None when it can."""


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
        self._health: list[HealthListener] = []
        self._failing = False
        """The last reading failed: the next good one runs a full cycle."""

    def subscribe(self, listener: ChangeListener) -> None:
        """Call ``listener`` after every change of the source that alters at least one row."""
        self._listeners.append(listener)

    def subscribe_health(self, listener: HealthListener) -> None:
        """Call ``listener`` after every reading with its error, or None when it was good."""
        self._health.append(listener)

    async def prime(self) -> None:
        """Read the baseline at start-up; an invalid source leaves none (next change: full)."""
        try:
            self._last = await asyncio.to_thread(self._load)
        except SourceError as e:
            log.warning("source_invalid", source=self.name, error=str(e))
            self._last = None
            self._report(str(e))
        except Exception as e:
            # A reader bug must not stop the daemon from starting (and, under systemd,
            # restart it in a loop): no baseline means the next change runs a full cycle.
            log.exception("source_read_failed", source=self.name)
            self._last = None
            self._report(f"{self.name}: cannot be read: {type(e).__name__}: {e}")
        else:
            self._report(None)

    async def on_source_settled(self) -> None:
        """Re-read the source after a settled change and notify listeners of changed keys."""
        try:
            new = await asyncio.to_thread(self._load)
        except SourceError as e:
            # Reported and skipped: a source that cannot be used triggers no cycle.
            log.error("source_invalid", source=self.name, error=str(e))
            self._report(str(e))
            return
        except Exception as e:
            log.exception("source_read_failed", source=self.name)
            self._report(f"{self.name}: cannot be read: {type(e).__name__}: {e}")
            return
        recovered = self._failing
        self._report(None)
        keys = None if self._last is None or recovered \
            else frozenset(self._diff(self._last, new))
        self._last = new
        if recovered:
            log.info("source_valid_again", source=self.name)
        if keys is not None and not keys:
            log.info("source_unchanged", source=self.name)
            return
        log.info("source_rows_changed", source=self.name,
                 changed=None if keys is None else len(keys))
        for listener in self._listeners:
            listener(keys)

    def _report(self, error: str | None) -> None:
        self._failing = error is not None
        for listener in self._health:
            listener(error)
