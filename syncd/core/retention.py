"""How long a journal keeps its history: which parts compaction may drop.

A journal grows by a few lines per write for as long as syncd runs. Compaction drops
whole parts of it (a closed segment of the local journal, a run's rows in PostgreSQL)
once their newest line is older than the retention, except a part that

- holds the pending line of a write no outcome has settled yet: that line is what tells
  the next run the write may have landed (a delta is settled by re-reading it, never
  sent again), so it is never dropped, however old;
- holds the last sync run that wrote anything: ``syncd rollback`` without ``--run``
  undoes that run, and keeps working however long the store stayed quiet.

Pure: the parts' summaries in, the verdict out. Reading the parts and deleting them is
the backend's (``syncd.edges.backend``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

DEFAULT_RETENTION_DAYS = 90


@dataclass(frozen=True, slots=True)
class JournalPart:
    """One part compaction drops or keeps whole: a segment, or one run's rows."""

    name: str
    """A segment's file name, or a run id."""
    last_time: datetime | None
    """The time of its newest line (None: none could be read, which keeps it)."""
    lines: int
    runs: frozenset[str]
    """The runs that have a line in it."""
    open_writes: int
    """Pending lines in it of writes that are still unsettled."""


@dataclass(frozen=True, slots=True)
class Verdict:
    """What compaction does with one part, and why."""

    part: JournalPart
    drop: bool
    why: str


def judge(parts: Iterable[JournalPart], *, now: datetime, retention_days: int,
          rollback_run: str | None) -> list[Verdict]:
    """The verdict on each part: dropped when its newest line is older than
    ``retention_days`` and it holds no unsettled write and not ``rollback_run`` (the run
    a plain ``syncd rollback`` would undo)."""
    cutoff = now - timedelta(days=retention_days)
    verdicts = []
    for part in parts:
        if part.last_time is None:
            verdicts.append(Verdict(part, False, "no readable line tells its age"))
        elif part.last_time >= cutoff:
            verdicts.append(Verdict(part, False, "within the retention"))
        elif part.open_writes:
            verdicts.append(Verdict(part, False, f"holds {part.open_writes} unsettled "
                                                 "write(s)"))
        elif rollback_run is not None and rollback_run in part.runs:
            verdicts.append(Verdict(part, False, f"holds run {rollback_run}, the one "
                                                 "`syncd rollback` undoes"))
        else:
            verdicts.append(Verdict(part, True, f"older than {retention_days} days"))
    return verdicts


@dataclass(frozen=True, slots=True)
class Compaction:
    """What one compaction of a site's journal dropped (or, dry, would drop) and kept."""

    site: str
    unit: str
    """``segments`` (local journal files) or ``runs`` (PostgreSQL rows by run)."""
    verdicts: tuple[Verdict, ...]
    dry_run: bool
    retention_days: int

    @property
    def dropped(self) -> tuple[Verdict, ...]:
        return tuple(v for v in self.verdicts if v.drop)

    @property
    def kept(self) -> tuple[Verdict, ...]:
        return tuple(v for v in self.verdicts if not v.drop)

    @property
    def dropped_lines(self) -> int:
        return sum(v.part.lines for v in self.dropped)

    @property
    def kept_lines(self) -> int:
        return sum(v.part.lines for v in self.kept)

    @property
    def kept_unsettled(self) -> int:
        """Parts older than the retention, kept for an unsettled write."""
        return sum(1 for v in self.kept if v.part.open_writes and "unsettled" in v.why)

    def to_dict(self) -> dict[str, Any]:
        return {"unit": self.unit, "dry_run": self.dry_run,
                "retention_days": self.retention_days,
                "dropped": len(self.dropped), "kept": len(self.kept),
                "dropped_lines": self.dropped_lines, "kept_lines": self.kept_lines,
                "kept_unsettled": self.kept_unsettled,
                "parts": [{"name": v.part.name, "drop": v.drop, "why": v.why,
                           "lines": v.part.lines,
                           "last_time": v.part.last_time.isoformat()
                           if v.part.last_time else None} for v in self.verdicts]}
