"""The local journal: JSON-lines files per site, ``<state_dir>/journal/<site>.jsonl`` (the
current segment, which runs append to) and the closed segments beside it
(``<site>.jsonl.d/``, ``syncd.edges.backend.local.segments``).

Each batch of lines is appended, flushed and fsynced before the writes it records are
sent, in a worker thread (``asyncio.to_thread``): fsync can take tens of milliseconds on a
busy disk and must not stall the event loop. A crash in the middle of an append leaves a
torn last line: ``read_journal`` skips it and reports it, and reopening the journal
terminates it so that the next entry starts on a line of its own.

Reads cost what they return: the newest lines are read backwards from the end of the
newest files (``read_last``), one run from the segments the index names for it
(``read_run``), the unsettled writes from the index and the current segment
(``read_open``); only ``read_all`` reads every segment.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from syncd.base.private_files import fsync_dir, open_private
from syncd.core.journal import (
    BadLine,
    Journal,
    JournalEntry,
    JournalTail,
    follow_open,
    utc_now,
)
from syncd.edges.backend.local import segments
from syncd.edges.backend.local.segments import SegmentPolicy


def journal_path(state_dir: Path, site: str) -> Path:
    """Where the site's journal file lives."""
    return state_dir / "journal" / f"{site}.jsonl"


def file_journal(path: Path, *, site: str, run_id: str,
                 clock: Callable[[], datetime] = utc_now,
                 rollback_of: str | None = None,
                 policy: SegmentPolicy | None = None) -> Journal:
    """One run's journal appending to the file at ``path``."""
    return Journal(FileJournal(path, policy=policy), site=site, run_id=run_id, clock=clock,
                   rollback_of=rollback_of)


class FileJournal:
    """A ``JournalStore`` on a site's segments; appends go to the current one."""

    def __init__(self, path: Path, *, policy: SegmentPolicy | None = None) -> None:
        self.path = path
        self.policy = policy or SegmentPolicy()
        self._file: BinaryIO | None = None

    async def open(self) -> None:
        """Nothing yet: the first append opens the file in its own worker-thread call. Most
        daemon cycles write nothing, and a hop to a thread and back costs more CPU than
        the work it carries (context switches, the GIL changing hands)."""

    async def close(self) -> None:
        if self._file is not None:
            await asyncio.to_thread(self.close_sync)

    def open_sync(self) -> None:
        """Open for appending (creating the file and its directory, private to this user),
        terminating a torn last line left by a crash so that it cannot swallow the next
        entry. The first ``append_sync`` of a run calls it."""
        if self._file is not None:
            return
        # Before the file is opened: a run appends to one file, from start to end.
        segments.rotate_if_due(self.path, self.policy, now=utc_now())
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
            self.open_sync()
            assert self._file is not None
        block = b"".join(entry.to_bytes() + b"\n" for entry in entries)
        self._file.write(block)
        self._file.flush()
        os.fsync(self._file.fileno())

    async def read_all(self, bad_lines: list[BadLine] | None = None) -> list[JournalEntry]:
        return await asyncio.to_thread(lambda: list(read_journal(self.path,
                                                                  bad_lines=bad_lines)))

    async def read_since(self, position: object | None) -> JournalTail:
        return await asyncio.to_thread(read_tail, self.path, position)

    async def read_open(self) -> list[JournalEntry]:
        return await asyncio.to_thread(read_open, self.path)


def read_file(path: Path, *, bad_lines: list[BadLine] | None = None
              ) -> Iterator[JournalEntry]:
    """Every readable entry of one journal file, in file order; a missing file has none.

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


def read_journal(path: Path, *, bad_lines: list[BadLine] | None = None
                 ) -> Iterator[JournalEntry]:
    """Every readable entry of the site's journal at ``path``, every segment's, oldest
    first (``read_file`` per file; a bad line of a closed segment is reported with the
    segment's name)."""
    for file in segments.files(path):
        found: list[BadLine] | None = [] if bad_lines is not None else None
        yield from read_file(file, bad_lines=found)
        if bad_lines is not None and found:
            prefix = "" if file == path else f"{file.name}: "
            bad_lines.extend(BadLine(b.line, prefix + b.reason, b.torn and file == path)
                             for b in found)


def read_last(path: Path, limit: int, bad_lines: list[BadLine] | None = None
              ) -> list[JournalEntry]:
    """The last ``limit`` readable entries, oldest first: read backwards from the end of
    the newest files, so the cost follows ``limit``, not the journal's length. Unreadable
    lines among them go to ``bad_lines`` (numbered when their file was read whole)."""
    found: list[JournalEntry] = []
    for file in reversed(segments.files(path)):
        seen: list[tuple[int, int, str, bool]] = []  # (nth from the end, offset, reason, torn)
        lines = 0
        whole = True
        for offset, raw in segments.lines_backwards(file):
            if len(found) >= limit:
                whole = False
                break
            lines += 1
            if not raw.strip():
                continue
            try:
                found.append(JournalEntry.from_json(raw.decode("utf-8")))
            except (ValueError, KeyError, TypeError) as e:
                torn = lines == 1 and file == path and _torn(file)
                seen.append((lines, offset, "torn last line (interrupted write)" if torn
                             else f"unreadable: {e}", torn))
        if bad_lines is not None and seen:
            prefix = "" if file == path else f"{file.name}: "
            for nth, offset, reason, torn in reversed(seen):
                number = lines - nth + 1 if whole else 0
                where = "" if whole else f"at byte {offset}: "
                bad_lines.append(BadLine(number, prefix + where + reason, torn))
        if len(found) >= limit:
            break
    found.reverse()
    return found


def read_last_about(path: Path, needles: Sequence[str], *, limit: int, window: int
                    ) -> list[JournalEntry]:
    """``StateBackend.read_recent_about`` of the segments: the last ``window`` lines read
    backwards, only those holding a needle parsed."""
    wanted = [n.encode() for n in needles]
    found: list[JournalEntry] = []
    seen = 0
    for file in reversed(segments.files(path)):
        for _, raw in segments.lines_backwards(file):
            seen += 1
            if seen > window or len(found) >= limit:
                break
            if any(n in raw for n in wanted):
                with contextlib.suppress(ValueError, KeyError, TypeError):
                    found.append(JournalEntry.from_json(raw.decode("utf-8")))
        if seen > window or len(found) >= limit:
            break
    found.reverse()
    return found


def _torn(file: Path) -> bool:
    with contextlib.suppress(OSError), file.open("rb") as f:
        size = f.seek(0, os.SEEK_END)
        if size:
            f.seek(size - 1)
            return f.read(1) != b"\n"
    return False


def read_run(path: Path, run_id: str) -> list[JournalEntry]:
    """Every line of ``run_id``, oldest first: only the segments whose index names the
    run (and those not indexed yet) are read."""
    index = segments.read_index(segments.segment_dir(path))
    needle = f'"run_id":{json.dumps(run_id)}'.encode()
    found = []
    for file in segments.files(path):
        info = index.get(file.name) if file.parent != path.parent else None
        if info is not None and not info.holds_run(run_id):
            continue
        with contextlib.suppress(FileNotFoundError), file.open("rb") as f:
            for raw in f:
                if needle in raw:
                    with contextlib.suppress(ValueError, KeyError, TypeError):
                        entry = JournalEntry.from_json(raw.decode("utf-8"))
                        if entry.run_id == run_id:
                            found.append(entry)
    return found


def read_open(path: Path) -> list[JournalEntry]:
    """The pending lines of every write no outcome settled, oldest first: from the index
    of the closed segments, then the segments not indexed yet and the current one."""
    segdir = segments.segment_dir(path)
    index = segments.read_index(segdir)
    open_writes: dict[str, JournalEntry] = {}
    for file in segments.files(path):
        info = index.get(file.name) if file.parent == segdir else None
        if info is None:
            follow_open(open_writes, segments.parse_lines(file))
            continue
        for write_id in info.settled:
            open_writes.pop(write_id, None)
        for entry in info.opened:
            open_writes[entry.write_id] = entry
    return list(open_writes.values())


_HEAD = 96
"""Bytes of a file's first line a reader's position keeps: its write id, unique to the
file. An inode number alone does not name a file for long: once a file is gone (a split
current segment, a compacted one) the next file created may get its number."""


def read_tail(path: Path, position: object | None) -> JournalTail:
    """``JournalStore.read_since`` of the segments: complete lines only (a line still
    being written is read next time), unreadable ones skipped (``read_journal`` reports
    them). A position names a file by its inode and the start of its first line, and is
    found again after a rotation (a rename keeps the inode; a split's pieces keep the
    lines and name the inode they came from); without a position, or when its file was
    dropped, the read starts again from the open writes of the older segments, then the
    newest closed one and the current one whole (what a cycle's checks need)."""
    all_files = segments.files(path)
    resume = _resume(path, all_files, position)
    entries: list[JournalEntry] = []
    restarted = resume is None
    if resume is None:
        older = all_files[:-2]
        keep = {f.name for f in older}
        index = segments.read_index(segments.segment_dir(path))
        shown = read_open(path) if any(n in index for n in keep) else []
        entries.extend(e for e in shown if _segment_of(e, index) in keep)
        resume = (max(0, len(all_files) - 2), 0)
    start, offset = resume
    position_out = position if not restarted else None
    for k in range(start, len(all_files)):
        read, where = _read_from(all_files[k], offset if k == start else 0)
        entries.extend(read)
        if where is not None:
            position_out = where
    return JournalTail(tuple(entries), position_out, restarted)


def _resume(path: Path, files: list[Path], position: object | None
            ) -> tuple[int, int] | None:
    """Where in ``files`` a read from ``position`` goes on (file number, offset); None
    when the position's file is gone."""
    if not (isinstance(position, tuple) and len(position) == 3):
        return None
    inode, offset, head = position
    for k in range(len(files) - 1, -1, -1):
        with contextlib.suppress(FileNotFoundError):
            found = os.stat(files[k])
            if found.st_ino == inode and offset <= found.st_size and _head_of(files[k]) == head:
                return k, offset
    # Split: its pieces, consecutive closed segments, hold its lines in order.
    segdir = segments.segment_dir(path)
    index = segments.read_index(segdir)
    pieces = [k for k, f in enumerate(files) if f.parent == segdir
              and (info := index.get(f.name)) is not None and info.source_inode == inode]
    if not pieces or _head_of(files[pieces[0]]) != head:
        return None
    for k in pieces:
        try:
            size = os.stat(files[k]).st_size
        except FileNotFoundError:
            return None
        if offset <= size:
            return k, offset
        offset -= size
    return None


def _head_of(file: Path) -> bytes:
    with file.open("rb") as f:
        return _head(f)


def _head(f: BinaryIO) -> bytes:
    """The first ``_HEAD`` bytes of the file's first line; empty while that line is
    shorter and not complete (it still grows)."""
    data = f.read(_HEAD)
    end = data.find(b"\n")
    if end >= 0:
        return data[:end + 1]
    return data if len(data) == _HEAD else b""


def _segment_of(entry: JournalEntry, index: dict[str, segments.SegmentInfo]) -> str | None:
    for name, info in index.items():
        if any(e.write_id == entry.write_id for e in info.opened):
            return name
    return None


def _read_from(file: Path, offset: int
               ) -> tuple[list[JournalEntry], tuple[int, int, bytes] | None]:
    """The complete lines of ``file`` after ``offset``, and the position after them (None
    for a file without a first line yet: a position names a file by it)."""
    try:
        f = file.open("rb")
    except FileNotFoundError:
        return [], None
    with f:
        inode = os.fstat(f.fileno()).st_ino
        head = _head(f)
        f.seek(offset)
        entries = []
        for raw in f:
            if not raw.endswith(b"\n"):
                break
            offset += len(raw)
            with contextlib.suppress(ValueError, KeyError, TypeError):
                if raw.strip():
                    entries.append(JournalEntry.from_json(raw.decode("utf-8")))
    return entries, ((inode, offset, head) if head else None)
