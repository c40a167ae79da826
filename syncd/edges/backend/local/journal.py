"""The local journal: one JSON-lines file per site, ``<state_dir>/journal/<site>.jsonl``.

Each batch of lines is appended, flushed and fsynced before the writes it records are
sent, in a worker thread (``asyncio.to_thread``): fsync can take tens of milliseconds on a
busy disk and must not stall the event loop. A crash in the middle of an append leaves a
torn last line: ``read_journal`` skips it and reports it, and reopening the journal
terminates it so that the next entry starts on a line of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from syncd.base.private_files import fsync_dir, open_private
from syncd.core.journal import BadLine, Journal, JournalEntry, JournalTail, utc_now


def journal_path(state_dir: Path, site: str) -> Path:
    """Where the site's journal file lives."""
    return state_dir / "journal" / f"{site}.jsonl"


def file_journal(path: Path, *, site: str, run_id: str,
                 clock: Callable[[], datetime] = utc_now,
                 rollback_of: str | None = None) -> Journal:
    """One run's journal appending to the file at ``path``."""
    return Journal(FileJournal(path), site=site, run_id=run_id, clock=clock,
                   rollback_of=rollback_of)


class FileJournal:
    """A ``JournalStore`` on one JSON-lines file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: BinaryIO | None = None

    async def open(self) -> None:
        await asyncio.to_thread(self.open_sync)

    async def close(self) -> None:
        await asyncio.to_thread(self.close_sync)

    def open_sync(self) -> None:
        """Open for appending (creating the file and its directory, private to this user),
        terminating a torn last line left by a crash so that it cannot swallow the next
        entry."""
        if self._file is not None:
            return
        created = not os.path.lexists(self.path)
        fd = open_private(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT)
        f = os.fdopen(fd, "ab")
        try:
            if created:
                # The file's lines are fsynced, but its name lives in the directory:
                # without this a power cut after the first run could lose the journal.
                fsync_dir(self.path.parent)
            size = os.fstat(fd).st_size
            if size > 0 and os.pread(fd, 1, size - 1) != b"\n":
                f.write(b"\n")
                f.flush()
                os.fsync(fd)
        except BaseException:
            f.close()
            raise
        self._file = f

    def close_sync(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    async def append(self, entries: Sequence[JournalEntry]) -> None:
        await asyncio.to_thread(self.append_sync, entries)

    def append_sync(self, entries: Sequence[JournalEntry]) -> None:
        """Append ``entries`` as one block, flushed and fsynced before returning."""
        if not entries:
            return
        if self._file is None:
            raise RuntimeError("the journal is not open")
        block = "".join(entry.to_json() + "\n" for entry in entries).encode()
        self._file.write(block)
        self._file.flush()
        os.fsync(self._file.fileno())

    async def read_all(self, bad_lines: list[BadLine] | None = None) -> list[JournalEntry]:
        return await asyncio.to_thread(lambda: list(read_journal(self.path,
                                                                 bad_lines=bad_lines)))

    async def read_since(self, position: object | None) -> JournalTail:
        return await asyncio.to_thread(read_tail, self.path, position)


def read_journal(path: Path, *, bad_lines: list[BadLine] | None = None
                 ) -> Iterator[JournalEntry]:
    """Every readable entry, in file order; a missing file has none.

    Unreadable lines (a torn last line after a crash, or a line a repair left behind) are
    skipped and, when ``bad_lines`` is given, appended to it for the caller to report.
    """
    try:
        f = path.open("rb")
    except FileNotFoundError:
        return
    with f:
        for number, raw in enumerate(f, start=1):
            torn = not raw.endswith(b"\n")
            text = raw.strip()
            if not text:
                continue
            try:
                yield JournalEntry.from_json(text.decode("utf-8"))
            except (ValueError, KeyError, TypeError) as e:
                if bad_lines is not None:
                    reason = "torn last line (interrupted write)" if torn else f"unreadable: {e}"
                    bad_lines.append(BadLine(number, reason, torn))


def read_last(path: Path, limit: int) -> list[JournalEntry]:
    """The last ``limit`` readable entries, oldest first."""
    return list(deque(read_journal(path), maxlen=limit))


def read_tail(path: Path, position: object | None) -> JournalTail:
    """``JournalStore.read_since`` of the file: complete lines only (a line still being
    written is read next time), unreadable ones skipped (``read_journal`` reports them)."""
    try:
        f = path.open("rb")
    except FileNotFoundError:
        return JournalTail((), None, True)
    with f:
        stat = os.fstat(f.fileno())
        inode = stat.st_ino
        was_inode, offset = position if isinstance(position, tuple) else (None, -1)
        restarted = was_inode != inode or offset > stat.st_size
        offset = 0 if restarted else offset
        f.seek(offset)
        entries = []
        for raw in f:
            if not raw.endswith(b"\n"):
                break
            offset += len(raw)
            with contextlib.suppress(ValueError, KeyError, TypeError):
                if raw.strip():
                    entries.append(JournalEntry.from_json(raw.decode("utf-8")))
    return JournalTail(tuple(entries), (inode, offset), restarted)
