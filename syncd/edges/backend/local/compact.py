"""Compaction of the local journal: closed segments past the retention are deleted.

Only closed segments are judged (``syncd.core.retention``), from their index lines: the
current segment is the one a run may be appending to, and is closed by the next run that
finds it due. Which writes are still unsettled is the index's open writes minus what the
later segments and the current one settled. Deleting a segment and rewriting the index
happen under ``index.lock``, so a rotation never loses its index line; a reader that finds
a segment gone skips it.
"""

from __future__ import annotations

import contextlib
import os
from datetime import datetime
from pathlib import Path

from syncd.base.private_files import fsync_dir
from syncd.core.journal import Outcome
from syncd.core.retention import Compaction, JournalPart, judge
from syncd.core.rollback import rollback_points
from syncd.edges.backend.local import segments


def compact(path: Path, *, site: str, now: datetime, retention_days: int,
            dry_run: bool) -> Compaction:
    """Drop (unless ``dry_run``) the closed segments of the journal at ``path`` that the
    retention rule lets go; the verdict on every closed segment."""
    segdir = segments.segment_dir(path)
    if not os.path.isdir(segdir):
        return Compaction(site, "segments", (), dry_run, retention_days)
    with segments.index_lock(segdir):
        index = segments.read_index(segdir)
        closed = [f for f in segments.segment_files(segdir) if f.name in index]
        infos = [index[f.name] for f in closed]
        # Where each unsettled write's pending line is, as of the end of the journal.
        open_in: dict[str, str] = {}
        rollback_run = None
        for info in infos:
            for write_id in info.settled:
                open_in.pop(write_id, None)
            for entry in info.opened:
                open_in[entry.write_id] = info.name
            rollback_run = info.rollback_run or rollback_run
        rest = [f for f in segments.files(path) if f.parent != segdir or f.name not in index]
        for file in rest:
            entries = segments.parse_lines(file)
            for entry in entries:
                if entry.outcome is not Outcome.PENDING:
                    open_in.pop(entry.write_id, None)
            points = rollback_points(entries)
            if points:
                rollback_run = next(iter(points.values())).run_id
        holds: dict[str, int] = {}
        for name in open_in.values():
            holds[name] = holds.get(name, 0) + 1
        parts = [JournalPart(i.name, i.last_time, i.lines, frozenset(i.runs),
                             holds.get(i.name, 0)) for i in infos]
        verdicts = judge(parts, now=now, retention_days=retention_days,
                         rollback_run=rollback_run)
        dropped = {v.part.name for v in verdicts if v.drop}
        if dropped and not dry_run:
            segments.write_index(segdir, [i for i in index.values() if i.name not in dropped])
            for name in sorted(dropped):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(segdir / name)
            fsync_dir(segdir)
    return Compaction(site, "segments", tuple(verdicts), dry_run, retention_days)
