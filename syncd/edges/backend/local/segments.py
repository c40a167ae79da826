"""The local journal's segments: a bounded current file, closed files, and their index.

A site's journal is ``journal/<site>.jsonl``, the *current segment*, which every run
appends to, plus the closed segments ``journal/<site>.jsonl.d/NNNNNN.jsonl``. When a run
opens the journal (under the site lock) and the current segment is due (``SegmentPolicy``:
large enough, or old enough), it is renamed into the next closed segment: a rename, so
appends stay one fsynced write to one file, and a reader holding the file's inode finds
it again under its new name. A journal file of a version without segments is simply the
current segment; when it is far over the size, its rotation splits it into segments at run
boundaries (through ``rotating.jsonl``, resumed after a crash).

``index.jsonl`` beside the closed segments holds one summary per segment (its runs, first
and last time, the writes it left open, the writes of earlier segments it settled, the
run ``syncd rollback`` would undo), written once when the segment is closed. It is a cache:
a segment without a line is summarised again at the next rotation. Reads use it to open
only the segments they need; compaction uses it to judge segments without reading them.
Changes to the index take ``index.lock`` (a rotation by a run, a compaction by hand).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from syncd.base.private_files import fsync_dir, make_private_dir, open_private
from syncd.core.journal import JournalEntry, Outcome
from syncd.core.rollback import rollback_points

INDEX = "index.jsonl"
ROTATING = "rotating.jsonl"
_LOCK = "index.lock"
_BLOCK = 1 << 16


@dataclass(frozen=True, slots=True)
class SegmentPolicy:
    """When the current segment is closed (checked when a run opens the journal)."""

    max_bytes: int = 1 << 20
    """Closed once this large (1 MiB, about 2,000 lines): a read of the newest lines, or
    of one run, never parses more than a few segments of this size."""
    min_bytes: int = 64 << 10
    """Closed by age only once this large: a quiet store does not make a file a day."""
    max_age_s: float = 86_400.0
    """Closed once its first line is this old (a day), so retention drops days, not
    months, of a store writing little."""


def segment_dir(path: Path) -> Path:
    """The directory of the closed segments of the journal whose current file is ``path``."""
    return path.with_name(path.name + ".d")


@dataclass(frozen=True, slots=True)
class SegmentInfo:
    """One closed segment's line in ``index.jsonl``."""

    name: str
    inode: int
    source_inode: int | None
    """The inode of the oversized file it was split from (None: renamed whole)."""
    first_time: datetime | None
    last_time: datetime | None
    lines: int
    run_ids: str
    """The runs with a line in it, in order, separated by newlines: one string reads far
    faster than a list of hundreds (every read of the index parses all of it)."""
    opened: tuple[JournalEntry, ...]
    """Pending lines of this segment with no outcome line in it."""
    settled: tuple[str, ...]
    """Write ids whose outcome line is here but whose pending line is not."""
    rollback_run: str | None
    """The run a plain ``syncd rollback`` over this segment alone would undo."""

    @property
    def runs(self) -> tuple[str, ...]:
        return tuple(self.run_ids.split("\n")) if self.run_ids else ()

    def holds_run(self, run_id: str) -> bool:
        """True when run ``run_id`` has a line in this segment."""
        return f"\n{run_id}\n" in f"\n{self.run_ids}\n"

    def to_json(self) -> str:
        return json.dumps({
            "segment": self.name, "inode": self.inode, "source_inode": self.source_inode,
            "first_time": _iso(self.first_time), "last_time": _iso(self.last_time),
            "lines": self.lines, "runs": self.run_ids,
            "opened": [e.to_json() for e in self.opened], "settled": list(self.settled),
            "rollback_run": self.rollback_run}, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> SegmentInfo:
        d = json.loads(text)
        return cls(name=str(d["segment"]), inode=int(d["inode"]),
                   source_inode=d.get("source_inode"),
                   first_time=_time(d.get("first_time")), last_time=_time(d.get("last_time")),
                   lines=int(d["lines"]), run_ids=_run_ids(d["runs"]),
                   opened=tuple(JournalEntry.from_json(e) for e in d["opened"]),
                   settled=tuple(d["settled"]), rollback_run=d.get("rollback_run"))


def _run_ids(runs: Any) -> str:
    if isinstance(runs, list):  # a list of ids: read as well
        return "\n".join(str(r) for r in runs)
    return str(runs)


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


def _time(text: Any) -> datetime | None:
    return datetime.fromisoformat(text) if isinstance(text, str) else None


def parse_lines(path: Path) -> list[JournalEntry]:
    """Every readable entry of one file (missing: none)."""
    entries = []
    with contextlib.suppress(FileNotFoundError), path.open("rb") as f:
        for raw in f:
            with contextlib.suppress(ValueError, KeyError, TypeError):
                if raw.strip():
                    entries.append(JournalEntry.from_json(raw.decode("utf-8")))
    return entries


def summarize(path: Path, *, source_inode: int | None = None) -> SegmentInfo:
    """The index line of the closed segment at ``path``."""
    entries = parse_lines(path)
    pending: dict[str, JournalEntry] = {}
    settled: list[str] = []
    runs: dict[str, None] = {}
    for e in entries:
        runs.setdefault(e.run_id)
        if e.outcome is Outcome.PENDING:
            pending[e.write_id] = e
        elif pending.pop(e.write_id, None) is None:
            settled.append(e.write_id)
    points = rollback_points(entries)
    return SegmentInfo(
        name=path.name, inode=os.stat(path).st_ino, source_inode=source_inode,
        first_time=min((e.time for e in entries), default=None),
        last_time=max((e.time for e in entries), default=None), lines=len(entries),
        run_ids="\n".join(runs), opened=tuple(pending.values()), settled=tuple(settled),
        rollback_run=next(iter(points.values())).run_id if points else None)


def read_index(segdir: Path) -> dict[str, SegmentInfo]:
    """The index lines by segment name (unreadable lines are ignored: their segments are
    summarised again by the next rotation)."""
    infos: dict[str, SegmentInfo] = {}
    with contextlib.suppress(FileNotFoundError), (segdir / INDEX).open("rb") as f:
        for raw in f:
            with contextlib.suppress(ValueError, KeyError, TypeError):
                info = SegmentInfo.from_json(raw.decode("utf-8"))
                infos[info.name] = info
    return infos


def segment_files(segdir: Path) -> list[Path]:
    """The closed segments, oldest first."""
    try:
        names = os.listdir(segdir)
    except FileNotFoundError:
        return []
    return [segdir / n for n in sorted(n for n in names
                                       if n.endswith(".jsonl") and n[:-6].isdigit())]


def files(path: Path) -> list[Path]:
    """Every file of the journal, oldest first: closed segments, a split in progress, and
    the current segment (missing files are the reader's to skip)."""
    segdir = segment_dir(path)
    found = segment_files(segdir)
    rotating = segdir / ROTATING
    if os.path.lexists(rotating):
        found.append(rotating)
    found.append(path)
    return found


@contextlib.contextmanager
def index_lock(segdir: Path) -> Iterator[None]:
    """Hold ``index.lock`` (a rotation and a compaction never rewrite the index at once)."""
    make_private_dir(segdir)
    fd = open_private(segdir / _LOCK, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _append_index(segdir: Path, infos: list[SegmentInfo]) -> None:
    if not infos:
        return
    created = not os.path.lexists(segdir / INDEX)
    fd = open_private(segdir / INDEX, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    try:
        os.write(fd, "".join(i.to_json() + "\n" for i in infos).encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    if created:
        fsync_dir(segdir)


def write_index(segdir: Path, infos: list[SegmentInfo]) -> None:
    """Replace the index (after a compaction), atomically."""
    part = segdir / f".{INDEX}.part"
    with contextlib.suppress(FileNotFoundError):
        os.unlink(part)
    fd = open_private(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    try:
        os.write(fd, "".join(i.to_json() + "\n" for i in infos).encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(part, segdir / INDEX)
    fsync_dir(segdir)


def _next_name(segdir: Path) -> str:
    last = segment_files(segdir)
    return f"{int(last[-1].name[:-6]) + 1 if last else 1:06d}.jsonl"


def _first_time(path: Path) -> datetime | None:
    with contextlib.suppress(FileNotFoundError), path.open("rb") as f:
        for raw in f:
            with contextlib.suppress(ValueError, KeyError, TypeError):
                return JournalEntry.from_json(raw.decode("utf-8")).time
    return None


def rotate_if_due(path: Path, policy: SegmentPolicy, *, now: datetime) -> bool:
    """Close the current segment when ``policy`` says it is due (the caller holds the site
    lock, and has not opened the file yet); finish a rotation a crash interrupted and
    index any closed segment without an index line. True when it rotated."""
    segdir = segment_dir(path)
    if os.path.isdir(segdir):
        with index_lock(segdir):
            _recover(segdir, policy)
    try:
        size = os.stat(path).st_size
    except FileNotFoundError:
        return False
    first = _first_time(path) if size >= policy.min_bytes else None
    if size < policy.max_bytes and (
            first is None or now - first < timedelta(seconds=policy.max_age_s)):
        return False
    with index_lock(segdir):
        if size <= 2 * policy.max_bytes:
            dest = segdir / _next_name(segdir)
            os.rename(path, dest)
            fsync_dir(segdir)
            fsync_dir(path.parent)
            _append_index(segdir, [summarize(dest)])
        else:
            rotating = segdir / ROTATING
            os.rename(path, rotating)
            fsync_dir(segdir)
            fsync_dir(path.parent)
            _split(rotating, segdir, policy)
    return True


def _recover(segdir: Path, policy: SegmentPolicy) -> None:
    infos = read_index(segdir)
    rotating = segdir / ROTATING
    if os.path.lexists(rotating):
        inode = os.stat(rotating).st_ino
        if not any(i.source_inode == inode for i in infos.values()):
            for seg in segment_files(segdir):
                if seg.name not in infos:
                    os.unlink(seg)  # a piece of the interrupted split: made again below
            _split(rotating, segdir, policy)
            return
        os.unlink(rotating)
        fsync_dir(segdir)
    _append_index(segdir, [summarize(s) for s in segment_files(segdir)
                           if s.name not in infos])


def _split(rotating: Path, segdir: Path, policy: SegmentPolicy) -> None:
    """Cut an oversized journal file into segments of about ``max_bytes``, each ending
    where a run ends; index them all, then remove the file."""
    inode = os.stat(rotating).st_ino
    made: list[Path] = []
    piece: list[bytes] = []
    size = 0
    run: str | None = None

    def flush() -> None:
        nonlocal piece, size
        dest = segdir / _next_name(segdir)
        part = dest.with_name(dest.name + ".part")
        with contextlib.suppress(FileNotFoundError):
            os.unlink(part)
        fd = open_private(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
        try:
            os.write(fd, b"".join(piece))
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(part, dest)
        made.append(dest)
        piece, size = [], 0

    with rotating.open("rb") as f:
        for raw in f:
            line_run = None
            with contextlib.suppress(ValueError, KeyError, TypeError):
                line_run = json.loads(raw)["run_id"]
            if size >= policy.max_bytes and line_run is not None and line_run != run:
                flush()
            if line_run is not None:
                run = line_run
            piece.append(raw if raw.endswith(b"\n") else raw + b"\n")
            size += len(raw)
    if piece:
        flush()
    fsync_dir(segdir)
    _append_index(segdir, [summarize(p, source_inode=inode) for p in made])
    os.unlink(rotating)
    fsync_dir(segdir)


def lines_backwards(path: Path) -> Iterator[tuple[int, bytes]]:
    """The lines of a file (blank ones too) with the byte offset each starts at, last
    first, read in blocks from its end."""
    try:
        f = path.open("rb")
    except FileNotFoundError:
        return
    with f:
        pos = f.seek(0, os.SEEK_END)
        rest = b""
        first = True
        while pos > 0:
            step = min(_BLOCK, pos)
            pos -= step
            f.seek(pos)
            lines = (f.read(step) + rest).split(b"\n")
            rest = lines[0]
            end = pos + len(lines[0]) + 1
            starts = []
            for line in lines[1:]:
                starts.append(end)
                end += len(line) + 1
            tail = list(zip(starts, lines[1:], strict=True))
            if first and tail and tail[-1][1] == b"":
                tail.pop()  # after the last newline: not a line
            first = False
            yield from reversed(tail)
        if rest or not first:
            yield 0, rest
