"""The journal as an operator reads it: runs with their counts, a run's writes, the writes
never settled. Pure: entries in (``StateBackend.read_journal``), values out; the
``journal`` and ``rollback --list`` commands print them as text or JSON.

A write is a ``pending`` line and the outcome lines that share its ``write_id``; its
outcome is the last of those (``pending`` while there is none: after a crash it may or may
not have landed). Outcome lines keep the run id of their pending line, also when a later
run settled them (a delta re-read after a crash), so every write counts for the run that
sent it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from syncd.core.journal import JournalEntry, Outcome, StockState


@dataclass(frozen=True, slots=True)
class WriteView:
    """One write of a run, with its latest outcome."""

    pending: JournalEntry
    """The line recorded before the write was sent (before, after, delta)."""
    outcome: Outcome
    """The latest outcome line's, or ``PENDING`` when none was recorded."""
    settled_at: datetime | None
    """When that outcome was recorded (None while pending)."""
    note: str | None
    """The outcome line's error or remark (e.g. "confirmed by re-read")."""

    def to_dict(self) -> dict[str, Any]:
        e = self.pending
        return {
            "write_id": e.write_id, "run_id": e.run_id, "sku": e.sku,
            "product_id": e.product_id, "variant_id": e.variant_id,
            "location_id": e.location_id, "before": e.before.to_dict(),
            "after": e.after.to_dict(), "delta": e.delta, "outcome": self.outcome.value,
            "recorded_at": _iso(e.time),
            "settled_at": _iso(self.settled_at) if self.settled_at else None,
            "note": self.note,
        }


@dataclass(frozen=True, slots=True)
class RunView:
    """One run of a site, as its journal lines tell it."""

    run_id: str
    started_at: datetime
    """The time of the run's first journal line."""
    rollback_of: str | None
    """The run this one undid (a rollback), or None."""
    outcomes: dict[Outcome, int] = field(default_factory=dict)
    """Writes per latest outcome (``PENDING``: never settled)."""

    @property
    def writes(self) -> int:
        return sum(self.outcomes.values())

    def count(self, outcome: Outcome) -> int:
        return self.outcomes.get(outcome, 0)

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "started_at": _iso(self.started_at),
                "rollback_of": self.rollback_of, "writes": self.writes,
                **{o.value: self.count(o) for o in Outcome}}


def writes(entries: list[JournalEntry]) -> list[WriteView]:
    """Every write in journal order (of its pending line), with its latest outcome.

    A write with no outcome line that a later write of the same variant replaced, once
    that one was applied, is shown ``settled`` (by that write): whatever it did, the store
    holds what the later write put there. Journals written before syncs settled the
    writes a killed run left open (``settle_by_read``) are read right this way too."""
    firsts: dict[str, JournalEntry] = {}
    last: dict[str, JournalEntry] = {}
    for e in entries:
        if e.outcome is Outcome.PENDING:
            firsts.setdefault(e.write_id, e)
        else:
            # A tail of the journal (the console's) may begin after a write's pending
            # line: its outcome line, which repeats before and after, stands in for it.
            firsts.setdefault(e.write_id, e)
            last[e.write_id] = e
    views: list[WriteView] = []
    open_by_variant: dict[tuple[str, str, str], list[int]] = {}
    for write_id, first in firsts.items():
        done = last.get(write_id)
        key = (first.product_id, first.variant_id, first.location_id or "")
        if done is None:
            open_by_variant.setdefault(key, []).append(len(views))
        elif done.outcome is Outcome.APPLIED:
            for index in open_by_variant.pop(key, []):
                views[index] = WriteView(views[index].pending, Outcome.SETTLED, done.time,
                                         f"replaced by write {write_id}, applied")
        views.append(WriteView(first, done.outcome if done else Outcome.PENDING,
                               done.time if done else None, done.error if done else None))
    return views


def runs(entries: list[JournalEntry]) -> list[RunView]:
    """Every run in the order it first wrote to the journal, with its writes counted."""
    started: dict[str, datetime] = {}
    undoes: dict[str, str] = {}
    for e in entries:
        started.setdefault(e.run_id, e.time)
        if e.rollback_of is not None:
            undoes[e.run_id] = e.rollback_of
    counts: dict[str, dict[Outcome, int]] = {run_id: {} for run_id in started}
    for w in writes(entries):
        book = counts[w.pending.run_id]
        book[w.outcome] = book.get(w.outcome, 0) + 1
    return [RunView(run_id, at, undoes.get(run_id), counts[run_id])
            for run_id, at in started.items()]


def latest_first(entries: list[JournalEntry]) -> list[WriteView]:
    """One view per write of ``entries`` (oldest first; a tail of the journal will do),
    the most recently recorded or settled first: a write and its outcome on one line."""
    views = writes(entries)
    views.sort(key=lambda w: w.settled_at or w.pending.time, reverse=True)
    return views


def run_writes(entries: list[JournalEntry], run_id: str) -> list[WriteView] | None:
    """The writes of ``run_id`` (None when the journal has no line of that run)."""
    if not any(e.run_id == run_id for e in entries):
        return None
    return [w for w in writes(entries) if w.pending.run_id == run_id]


def open_writes(entries: list[JournalEntry]) -> list[WriteView]:
    """Writes still open: no outcome line, and no later applied write of the same variant.
    Each may or may not have reached the store; the next sync settles them (a delta by a
    re-read, an absolute write by the read it plans from)."""
    return [w for w in writes(entries) if w.outcome is Outcome.PENDING]


def state_text(state: StockState) -> str:
    """A stock value in a table cell: the quantity, else in/out of stock."""
    if state.quantity is not None:
        return str(state.quantity)
    if state.in_stock is None:
        return "-"
    return "in stock" if state.in_stock else "out of stock"


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")
