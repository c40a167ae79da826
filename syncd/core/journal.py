"""The write journal: every stock write, recorded before it is sent and confirmed after.

A site's journal is an append-only sequence of lines (``JournalEntry``). Each write is
recorded with outcome ``pending`` *before* the request leaves, durably, and a second line
with the same ``write_id`` records ``applied``, ``failed`` or ``conflict`` once the answer
is known. After a crash the journal therefore says exactly which writes may have reached
Wix (a ``pending`` line with no outcome line), and it is what ``syncd rollback`` reads:
``rollback_points`` gives, per variant, the value before a run's first write and the latest
value it applied.

Catalog V1 increments and decrements are journaled the same way, with the units sent
(``delta``) beside the value read (``before``) and the value expected (``after``). They are
not idempotent, so their outcome line never comes from the call's answer alone: it is
written after a re-read of the product (``applied`` = confirmed, ``failed`` = not applied,
``unknown`` = moved by something else since), by the same run or, after a crash, by the
next one (``syncd.apply.applier``). Rollback reads them like any other write.

An absolute write left ``pending`` by a killed run is settled by the next sync that reads
its variant (``settle_by_read``): ``settled``, with the value that read found, since that
sync plans from what the store holds.

This module holds the lines and one run's ``Journal`` (its write ids, its clock, batches
that never interleave). Where the lines are kept is a ``JournalStore`` that a state backend
provides (``syncd.edges.backend``): a JSON-lines file per site, or rows in PostgreSQL. Writes are
batched: one durable append per batch of changes (a V1 product call or a V3 bulk call).
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from functools import lru_cache
from types import TracebackType
from typing import Any, Protocol

import msgspec

from syncd.base.model import StoreVariant
from syncd.core.plan import StockChange

_ERROR_MAX_CHARS = 500
_LINE_ENCODER = msgspec.json.Encoder()
"""Journal lines as ``json.dumps(separators=(",", ":"), ensure_ascii=False)`` writes them,
four times faster: a sync by deltas writes two lines for each of tens of thousands of
writes before and after its calls."""

class Outcome(StrEnum):
    PENDING = "pending"
    """Recorded, about to be sent: if nothing follows, the write may or may not have landed."""
    APPLIED = "applied"
    FAILED = "failed"
    CONFLICT = "conflict"
    """Stale revision (V3) or stock moved: nothing was written; re-read and re-plan."""
    UNKNOWN = "unknown"
    """Sent, but no answer said whether it landed (a timeout or 5xx after every retry, a
    cancelled shutdown, a batch cut short by another product's error): the store holds
    either the before- or the after-value."""
    NOT_SENT = "not_sent"
    """Never sent: a stop was requested while the write waited for the budget. The store
    still holds the before-value."""
    IGNORED = "ignored"
    """A later outcome line of an ``applied`` absolute write: Wix answered ``{}``, but a
    later read still held the before-value (Wix ignored the entry). While the source and
    the store keep those values, the write is not sent again (``syncd.apply.applier``)."""
    SETTLED = "settled"
    """A later outcome line of a ``pending`` absolute write that no answer settled (a
    killed run): a later sync read the variant and planned from what it holds, so whether
    this write landed no longer decides anything (the note says what the read found); or,
    in ``syncd journal``'s view, a later write of the variant was applied. Rollback counts
    it as possibly landed, like ``unknown``."""


@dataclass(frozen=True, slots=True)
class StockState:
    """A variant's stock as the journal records it (None where it does not apply)."""

    quantity: int | None
    in_stock: bool | None
    tracked: bool | None

    def to_dict(self) -> dict[str, Any]:
        return {"quantity": self.quantity, "in_stock": self.in_stock, "tracked": self.tracked}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StockState:
        return cls(quantity=data.get("quantity"), in_stock=data.get("in_stock"),
                   tracked=data.get("tracked"))


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """One line of the journal."""

    write_id: str
    """Shared by a write's ``pending`` line and its outcome line."""
    run_id: str
    site: str
    product_id: str
    variant_id: str
    sku: str
    inventory_item_id: str
    before: StockState
    after: StockState
    revision: str | None
    """V3: the item's revision the write was based on (pending), or the new one (applied)."""
    outcome: Outcome
    time: datetime
    error: str | None = None
    location_id: str | None = None
    rollback_of: str | None = None
    """For the writes of a rollback: the run it undid (a plain rollback never undoes a
    rollback, and ``rollback --list`` marks these runs)."""

    delta: int | None = None
    """Set for an Increment (> 0) or Decrement (< 0) write: the units sent, planned from
    ``before``, so that ``after`` is the value expected once it lands. Such a write is not
    idempotent: it is never sent again; its outcome comes from a re-read."""

    @classmethod
    def pending(cls, change: StockChange, *, write_id: str, run_id: str, site: str,
                at: datetime, rollback_of: str | None = None,
                delta: int | None = None) -> JournalEntry:
        """The ``pending`` entry for a planned change (``delta``: sent as increment or
        decrement of that many units)."""
        v = change.variant
        # Positional, in the fields' order: made for every write before the first is sent.
        return cls(write_id, run_id, site, v.product_id, v.variant_id, v.sku,
                   v.inventory_item_id, StockState(v.quantity, v.in_stock, v.tracked),
                   StockState(change.quantity, change.in_stock, change.track), v.revision,
                   Outcome.PENDING, at, None, v.location_id, rollback_of, delta)

    def settled(self, outcome: Outcome, *, at: datetime, error: str | None = None,
                revision: str | None = None) -> JournalEntry:
        """The outcome line for this pending entry."""
        # Built field by field rather than by dataclasses.replace, which costs twice as
        # much: a sync by deltas settles every one of its tens of thousands of writes.
        return JournalEntry(
            self.write_id, self.run_id, self.site, self.product_id, self.variant_id, self.sku,
            self.inventory_item_id, self.before, self.after,
            revision if revision is not None else self.revision, outcome, at,
            error[:_ERROR_MAX_CHARS] if error else None, self.location_id, self.rollback_of,
            self.delta)

    def to_json(self) -> str:
        return self.to_bytes().decode()

    def to_bytes(self) -> bytes:
        """``to_json()`` encoded as UTF-8, without the round trip through ``str``."""
        data: dict[str, Any] = {
            "write_id": self.write_id, "run_id": self.run_id, "site": self.site,
            "product_id": self.product_id, "variant_id": self.variant_id, "sku": self.sku,
            "inventory_item_id": self.inventory_item_id, "location_id": self.location_id,
            "before": self.before.to_dict(), "after": self.after.to_dict(),
            "revision": self.revision, "outcome": self.outcome.value,
            "time": _iso_time(self.time),
        }
        if self.error is not None:
            data["error"] = self.error
        if self.rollback_of is not None:
            data["rollback_of"] = self.rollback_of
        if self.delta is not None:
            data["delta"] = self.delta
        return _LINE_ENCODER.encode(data)

    @classmethod
    def from_json(cls, text: str) -> JournalEntry:
        """Parse one line; ValueError (or KeyError/TypeError) when it is not an entry."""
        d = json.loads(text)
        b, a = d["before"], d["after"]
        delta = d.get("delta")
        # Positional arguments, in field order: a long journal's reads parse thousands of
        # lines per view, and keywords cost a third of the time here.
        return cls(
            str(d["write_id"]), str(d["run_id"]), str(d["site"]), str(d["product_id"]),
            str(d["variant_id"]), str(d["sku"]), str(d["inventory_item_id"]),
            StockState(b.get("quantity"), b.get("in_stock"), b.get("tracked")),
            StockState(a.get("quantity"), a.get("in_stock"), a.get("tracked")),
            d.get("revision"), Outcome(d["outcome"]),
            datetime.fromisoformat(str(d["time"])),  # "Z" is read as UTC since 3.11
            d.get("error"), d.get("location_id"), d.get("rollback_of"),
            int(delta) if delta is not None else None)


@dataclass(frozen=True, slots=True)
class Settlement:
    """The outcome of one pending write, for ``Journal.settle_each``."""

    entry: JournalEntry
    outcome: Outcome
    error: str | None = None
    revision: str | None = None


@lru_cache(maxsize=16)
def _iso_time(at: datetime) -> str:
    """``at`` as the journal writes it (cached: a batch of thousands shares one time)."""
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")




WRITE_TEST_SUFFIX = "-writetest"
"""Ends the run id of a probe's write test (``syncd probe --write-test``): a run that puts
back what it wrote, which a plain rollback never picks as "the last run"."""


def new_run_id(now: datetime) -> str:
    """A sortable, unique run id such as ``20250101T120000Z-3fa2c1``."""
    return f"{now.astimezone(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def utc_now() -> datetime:
    """Now, aware, in UTC: a journal's default clock."""
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class BadLine:
    """A journal line that could not be read."""

    line: int
    """The line number in a file, the row id in a table."""
    reason: str
    torn: bool
    """True for a last line without its newline: a crash in the middle of an append."""


@dataclass(frozen=True, slots=True)
class JournalTail:
    """What was appended to a site's journal since an earlier read."""

    entries: tuple[JournalEntry, ...]
    position: object | None
    """Where the next read starts (a file's inode and offset, a row id)."""
    restarted: bool
    """Read from the beginning (a first read, or a journal file replaced or truncated
    since): whatever an earlier read found no longer holds."""


class JournalStore(Protocol):
    """Where one site's journal lines are kept (a file, a table): what a ``Journal`` needs
    of its backend."""

    async def open(self) -> None:
        """Get ready to append (once per run, before the first append)."""

    async def close(self) -> None:
        """Let go of what ``open`` took."""

    async def append(self, entries: Sequence[JournalEntry]) -> None:
        """Keep ``entries`` as one block, durably, before returning (the caller sends the
        writes they record only then). May raise ``LeaseLost`` (a fenced replica)."""

    async def read_all(self, bad_lines: list[BadLine] | None = None) -> list[JournalEntry]:
        """Every entry of the site, every run's, oldest first; unreadable lines are skipped
        and, when ``bad_lines`` is given, reported in it."""

    async def read_since(self, position: object | None) -> JournalTail:
        """The site's entries kept after ``position`` (a ``JournalTail.position``), by any
        run or process. None: from the beginning of what a cycle needs, which is the
        pending line of every unsettled write however old, and the newest lines (the
        store may leave out older history: ``restarted`` is then True)."""

    async def read_open(self) -> list[JournalEntry]:
        """The pending line of every write of the site no outcome settled, oldest first,
        without reading the whole history."""


class Journal:
    """The append side of one site's journal, for one run; use as an async context manager.

    ``write_pending`` and ``settle`` are what the applier calls; the lines go to ``store``
    one batch at a time (an ``asyncio.Lock`` keeps batches from interleaving).
    """

    def __init__(self, store: JournalStore, *, site: str, run_id: str,
                 clock: Callable[[], datetime] = utc_now,
                 rollback_of: str | None = None) -> None:
        self.store = store
        self.site = site
        self.run_id = run_id
        self.rollback_of = rollback_of
        self._clock = clock
        self._count = 0
        self._lock: asyncio.Lock | None = None

    def now(self) -> datetime:
        """The time this journal stamps on its lines (its clock: tests may set one)."""
        return self._clock()

    async def __aenter__(self) -> Journal:
        await self.store.open()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.store.close()

    def make_pending(self, changes: Sequence[StockChange], *,
                     deltas: Sequence[int] | None = None) -> list[JournalEntry]:
        """``pending`` entries for ``changes`` (not yet written); ``deltas``, when given,
        marks each as an increment/decrement of that many units."""
        at = self._clock()
        entries = []
        for index, change in enumerate(changes):
            self._count += 1
            entries.append(JournalEntry.pending(
                change, write_id=f"{self.run_id}/{self._count}", run_id=self.run_id,
                site=self.site, at=at, rollback_of=self.rollback_of,
                delta=deltas[index] if deltas is not None else None))
        return entries

    async def write_pending(self, changes: Sequence[StockChange], *,
                            deltas: Sequence[int] | None = None) -> list[JournalEntry]:
        """Record ``changes`` as pending, durably; send them only after this returns."""
        entries = self.make_pending(changes, deltas=deltas)
        await self.append(entries)
        return entries

    async def settle(self, entries: Sequence[JournalEntry], outcome: Outcome, *,
                     error: str | None = None) -> list[JournalEntry]:
        """Record one outcome for a whole batch (a V1 product call succeeds or fails whole)."""
        return await self.settle_each(Settlement(e, outcome, error) for e in entries)

    async def settle_each(self, settlements: Iterable[Settlement]) -> list[JournalEntry]:
        """Record per-write outcomes (V3 bulk results), with new revisions where known."""
        at = self._clock()
        lines = [s.entry.settled(s.outcome, at=at, error=s.error, revision=s.revision)
                 for s in settlements]
        await self.append(lines)
        return lines

    async def append(self, entries: Sequence[JournalEntry]) -> None:
        """Keep ``entries`` as one block, after any batch already being kept."""
        if not entries:
            return
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            await self.store.append(entries)

    async def read_site(self, bad_lines: list[BadLine] | None = None) -> list[JournalEntry]:
        """Every entry of the site's journal, every run's, oldest first: what an earlier
        run left open is read where this run writes (the file, or the database)."""
        return await self.store.read_all(bad_lines)

    async def read_since(self, position: object | None) -> JournalTail:
        """The site's entries appended after ``position`` (a ``JournalTail.position``;
        None: from the beginning), by any run or process."""
        return await self.store.read_since(position)

    async def read_open(self) -> list[JournalEntry]:
        """Every write of the site no outcome settled (its pending line), oldest first."""
        return await self.store.read_open()


def settle_by_read(open_writes: Iterable[JournalEntry], variants: Iterable[StoreVariant], *,
                   run_id: str) -> list[Settlement]:
    """The outcome lines for the absolute writes an earlier run left ``pending`` (a kill),
    given the variants a later read of the store found (``run_id``: the run that read).

    Pure. Each is ``settled``, with what the read found: the reading run plans from what
    the store holds, so the earlier write no longer decides anything. Not ``applied`` even
    where the store holds its after-value: a later write, or someone else, may have put it
    there. Deltas are left alone (``syncd.apply.recent_writes.settle_open_deltas``
    re-reads them once they can no longer land), and so are writes of variants the read
    did not cover.
    """
    settling = [e for e in open_writes if e.delta is None and e.run_id != run_id]
    if not settling:  # the common case: no run was killed; no map of the whole read
        return []
    found = {(v.product_id, v.variant_id, v.location_id or ""): v for v in variants}
    settlements = []
    for entry in settling:
        now = found.get((entry.product_id, entry.variant_id, entry.location_id or ""))
        if now is None:
            continue
        held = StockState(quantity=now.quantity if now.tracked else None,
                          in_stock=now.in_stock, tracked=now.tracked)
        value = _state_note(held)
        if _holds(held, entry.after):
            value += ", the value this write set,"
        settlements.append(Settlement(entry, Outcome.SETTLED,
                                      f"run {run_id} read {value} and planned from it"))
    return settlements


def _holds(held: StockState, after: StockState) -> bool:
    """True when a read value ``held`` shows the written value ``after`` (the fields the
    write set; None: left as it was)."""
    if after.tracked is not None and held.tracked != after.tracked:
        return False
    if after.quantity is not None:
        return held.quantity == after.quantity
    return after.in_stock is None or held.in_stock == after.in_stock


def _state_note(state: StockState) -> str:
    if state.quantity is not None:
        return str(state.quantity)
    return "in stock" if state.in_stock else "out of stock"


def unsettled(entries: Iterable[JournalEntry]) -> list[JournalEntry]:
    """Pending writes with no outcome line: after a crash, those may or may not have landed
    (the delta path settles them by re-reading before it plans anything new)."""
    open_writes: dict[str, JournalEntry] = {}
    follow_open(open_writes, entries)
    return list(open_writes.values())


def follow_open(open_writes: dict[str, JournalEntry], entries: Iterable[JournalEntry]) -> None:
    """Bring ``open_writes`` (write id -> its pending entry) up to date with ``entries``,
    read in journal order: a pending line opens a write, any outcome line settles it."""
    for entry in entries:
        if entry.outcome is Outcome.PENDING:
            open_writes[entry.write_id] = entry
        else:
            open_writes.pop(entry.write_id, None)
