"""Where source files are parsed: in a thread of this process, or in worker processes.

Parsing a source is pure Python, about a microsecond a row. In a thread it still holds the
interpreter lock that the event loop needs, so a daemon's loop pays for every parse: a
fleet of thousands of stores parses one source per store in its first round (and again
whenever a file changes), about 2-3 ms of the loop's core a store. ``SourceParsers`` with
``processes`` > 0 parses in a pool of that many worker processes instead, on the
machine's other cores. The loop then only unpickles the result, packed by the worker
(``DesiredRows.compact``) and with its digest already made.

The result is the same either way (``ParsedFile``): the file's fingerprint (its size,
inode, modification time and SHA-256, ``fingerprint``) before it was read, the source,
and whether the file still had that fingerprint after parsing (only then may
``SourceCache`` keep the result). Errors come back as the same ``SourceError``, with every
bad row. A worker that dies (killed, out of memory) is replaced and the source is parsed
in a thread this time, logged as ``source_worker_lost``; it costs the loop's CPU, never
the cycle.
"""

from __future__ import annotations

import asyncio
import hashlib
import multiprocessing
import os
import select
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace
from pathlib import Path
from types import TracebackType

import structlog

from syncd.edges.config.source import SourceSettings
from syncd.edges.sources import load_desired
from syncd.edges.sources.rows import DesiredSource

log = structlog.get_logger("syncd.edges.sources.parsers")

_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """What identifies one version of a file."""

    size: int
    inode: int
    mtime_ns: int
    sha256: str


def fingerprint(path: Path) -> Fingerprint | None:
    """The file's fingerprint, or None when it cannot be read (the reader then reports)."""
    digest = hashlib.sha256()
    try:
        with path.open("rb") as file:
            stat = os.fstat(file.fileno())
            while chunk := file.read(_CHUNK):
                digest.update(chunk)
    except OSError:
        return None
    return Fingerprint(stat.st_size, stat.st_ino, stat.st_mtime_ns, digest.hexdigest())


@dataclass(frozen=True, slots=True)
class ParsedFile:
    """One read of a source file."""

    before: Fingerprint | None
    """The file's fingerprint before it was read (None: it could not be read)."""
    source: DesiredSource
    unchanged: bool
    """The file had the same fingerprint after parsing: the result is that of those bytes."""


def parse_file(source: SourceSettings, file: Path | None = None) -> ParsedFile:
    """Fingerprint, parse (``load_desired``) and fingerprint again ``file`` (a feed's local
    copy) or ``source.path``. Blocking; raises ``SourceError``."""
    path = file or source.path
    before = fingerprint(path)
    result = load_desired(source, file=file)
    return ParsedFile(before, result, before is not None and fingerprint(path) == before)



def parse_in_worker(source: SourceSettings, file: Path | None) -> ParsedFile:
    """``parse_file`` in a worker process, with the result made cheap to send back and
    to keep: digested first (from the row list), then packed."""
    parsed = parse_file(source, file)
    parsed.source.rows.digest()
    parsed.source.rows.compact()
    return parsed


def watch_owner(owner: int) -> None:
    """A worker's initializer: exit as soon as ``owner``, the process that started the
    pool, is gone. An owner killed with SIGKILL cannot stop its workers, and a worker
    waiting for work would otherwise wait forever (and keep its server process alive)."""

    def watch() -> None:
        try:
            handle = os.pidfd_open(owner)
        except OSError:  # no pidfd (old kernel), or the owner is gone already
            while True:
                try:
                    os.kill(owner, 0)
                except ProcessLookupError:
                    break
                except PermissionError:
                    pass
                time.sleep(1.0)
        else:
            select.select([handle], [], [])  # readable once the owner has exited
        os._exit(0)

    threading.Thread(target=watch, name="syncd-owner-watch", daemon=True).start()


def without_secret(source: SourceSettings) -> SourceSettings:
    """``source`` without its feed's credential (which is never pickled): the worker reads
    the feed's local copy, and names the source by its URL, which holds no secret."""
    feed = source.feed
    if feed is None or feed.secret is None:
        return source
    return replace(source, feed=replace(feed, secret=None))


class SourceParsers:
    """Parses source files for every site of a process (see the module docstring).

    ``processes``: 0 parses in a thread; more starts that many worker processes (forked
    from a clean server process, not from this threaded one) at the first parse. Use as an
    async context manager, or call ``close``: the workers are stopped there.
    """

    def __init__(self, processes: int = 0) -> None:
        if processes < 0:
            raise ValueError(f"processes must be 0 or more, not {processes}")
        self.processes = processes
        self._pool: ProcessPoolExecutor | None = None
        self.lost = 0
        """Workers found dead (each time the pool was replaced)."""

    async def parse(self, source: SourceSettings, file: Path | None = None) -> ParsedFile:
        """The parse of ``file`` (a feed's copy) or ``source.path``; raises ``SourceError``."""
        if not self.processes:
            return await asyncio.to_thread(parse_file, source, file)
        pool = self._pool
        if pool is None:
            pool = self._pool = ProcessPoolExecutor(
                self.processes, mp_context=multiprocessing.get_context("forkserver"),
                initializer=watch_owner, initargs=(os.getpid(),))
        try:
            return await asyncio.wrap_future(
                pool.submit(parse_in_worker, without_secret(source), file))
        except BrokenProcessPool:  # at submit when the pool already knows, else while waiting
            if self._pool is pool:  # (the first parse to find it broken replaces it)
                self.lost += 1
                log.warning("source_worker_lost", source=source.name,
                            processes=self.processes,
                            action="the workers are started again at the next parse; this "
                                   "source is parsed in a thread")
                self._pool = None
                pool.shutdown(wait=False, cancel_futures=True)
            return await asyncio.to_thread(parse_file, source, file)

    def worker_pids(self) -> list[int]:
        """The worker processes running now (for tests and benchmarks)."""
        pool = self._pool
        processes = getattr(pool, "_processes", None) or {}
        return [p.pid for p in processes.values() if p.pid is not None]

    async def close(self) -> None:
        """Stop the worker processes (a parse in progress ends first; queued ones do not
        start)."""
        pool, self._pool = self._pool, None
        if pool is not None:
            await asyncio.to_thread(pool.shutdown, wait=True, cancel_futures=True)

    async def __aenter__(self) -> SourceParsers:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.close()
