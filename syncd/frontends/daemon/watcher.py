"""Watching the source file, and telling a finished upload from one still being written.

A file that is being uploaded, copied or rewritten in place can be read half-way and look
like a valid but truncated source: a disaster for a stock sync. So a change is reported
only once the file's stamp (size, mtime, ctime, inode, device) has stayed identical for
``settle_s`` seconds; every further change restarts that wait (debounce). The inode catches
"write a temp file, then rename over", ctime catches copies that preserve mtime.

Polling a ``stat`` a few times per second is deliberate: it is portable (Linux, macOS,
container bind mounts and network filesystems, where inotify events are unreliable or
absent), needs no dependency, and a ``stat`` is far cheaper than anything a cycle does. The
``stat`` runs in a worker thread so a slow mount never blocks the event loop.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import structlog

log = structlog.get_logger("syncd.frontends.daemon.watcher")


@dataclass(frozen=True, slots=True)
class FileStamp:
    """What ``stat`` says about a file; two equal stamps mean "not changed in between"."""

    size: int
    mtime_ns: int
    ctime_ns: int
    inode: int
    device: int


def read_stamp(path: Path) -> FileStamp | None:
    """The file's current stamp, or None when it does not exist (or cannot be stat'ed)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return FileStamp(st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev)


class SettleTracker:
    """Pure debounce state: feed stamps with the time they were seen, learn when to report.

    ``observe`` returns True exactly once per settled change: when the stamp differs from the
    last reported one and has not changed for ``settle_s`` seconds.
    """

    def __init__(self, baseline: FileStamp | None, *, settle_s: float) -> None:
        self.settle_s = settle_s
        self._reported = baseline
        self._candidate = baseline
        self._since_s = 0.0

    @property
    def settling(self) -> bool:
        """True while a change has been seen but not yet reported."""
        return self._candidate != self._reported

    def observe(self, stamp: FileStamp | None, *, now_s: float) -> bool:
        """Record ``stamp`` seen at ``now_s`` (monotonic); True when a settled change is due."""
        if stamp != self._candidate:
            self._candidate = stamp
            self._since_s = now_s
            return False
        if stamp == self._reported:
            return False
        if now_s - self._since_s >= self.settle_s:
            self._reported = stamp
            return True
        return False


def default_poll_s(settle_s: float) -> float:
    """A poll interval that sees a change well within ``settle_s`` but never spins."""
    return min(0.5, max(0.05, settle_s / 4))


class SourceWatcher:
    """Polls one file and awaits ``on_settled`` after each settled change.

    ``settled`` is set whenever no change is pending, so a loop can hold a cycle back while
    the file is being written (a scheduled cycle would otherwise read it half-way too).
    ``run`` loops until cancelled by its owner.
    """

    def __init__(
        self,
        path: Path,
        *,
        settle_s: float,
        on_settled: Callable[[], Awaitable[None]],
        poll_s: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = path
        self.settle_s = settle_s
        self.poll_s = poll_s if poll_s is not None else default_poll_s(settle_s)
        self._on_settled = on_settled
        self._clock = clock
        self.settled = asyncio.Event()
        self.settled.set()

    async def run(self) -> None:
        """Poll forever; reports changes made after the first poll (the baseline)."""
        tracker = SettleTracker(await self._stamp(), settle_s=self.settle_s)
        log.info("source_watch_started", path=str(self.path), settle_s=self.settle_s,
                 poll_s=self.poll_s)
        while True:
            await asyncio.sleep(self.poll_s)
            due = tracker.observe(await self._stamp(), now_s=self._clock())
            if tracker.settling:
                self.settled.clear()
            else:
                self.settled.set()
            if due:
                log.info("source_changed", path=str(self.path))
                await self._on_settled()

    async def _stamp(self) -> FileStamp | None:
        return await asyncio.to_thread(read_stamp, self.path)
