"""The write journal: pending before the write, outcome after, crash-tolerant reading."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from syncd.base.model import StoreVariant
from syncd.core.journal import (
    BadLine,
    Journal,
    Outcome,
    Settlement,
    StockState,
    new_run_id,
    settle_by_read,
)
from syncd.core.plan import ChangeReason, StockChange
from syncd.core.rollback import rollback_points
from syncd.edges.backend.local.journal import FileJournal, file_journal, journal_path, read_journal

T0 = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


def change(sku: str, before: int, after: int, *, variant: str | None = None,
           revision: str | None = None) -> StockChange:
    v = StoreVariant(product_id="P1", variant_id=variant or f"V-{sku}", inventory_item_id="I1",
                     sku=sku, tracked=True, quantity=before, in_stock=before > 0, hidden=False,
                     revision=revision)
    return StockChange(v, after, None, True, ChangeReason.QUANTITY, None)


def journal(tmp_path, run_id: str = "run-1") -> Journal:
    return file_journal(journal_path(tmp_path, "demo"), site="demo", run_id=run_id, clock=Clock())


async def test_pending_is_durable_before_the_write_and_applied_follows(tmp_path):
    async with journal(tmp_path) as j:
        entries = await j.write_pending([change("A", 5, 7), change("B", 1, 0)])
        # Written and fsynced before any request would be sent:
        on_disk = list(read_journal(journal_path(tmp_path, "demo")))
        assert [(e.sku, e.outcome) for e in on_disk] == [("A", Outcome.PENDING),
                                                        ("B", Outcome.PENDING)]
        await j.settle(entries, Outcome.APPLIED)
    lines = list(read_journal(journal_path(tmp_path, "demo")))
    assert [(e.sku, e.outcome) for e in lines] == [
        ("A", Outcome.PENDING), ("B", Outcome.PENDING),
        ("A", Outcome.APPLIED), ("B", Outcome.APPLIED)]
    a = lines[2]
    assert (a.write_id, a.run_id, a.site, a.product_id, a.inventory_item_id) == (
        "run-1/1", "run-1", "demo", "P1", "I1")
    assert a.before == StockState(quantity=5, in_stock=True, tracked=True)
    assert a.after == StockState(quantity=7, in_stock=None, tracked=True)
    assert a.time.tzinfo is not None and a.time > lines[0].time


async def test_lines_are_json_with_iso_utc_times(tmp_path):
    async with journal(tmp_path) as j:
        await j.write_pending([change("A", 5, 7)])
    record = json.loads(journal_path(tmp_path, "demo").read_text().splitlines()[0])
    assert record["time"] == "2025-03-01T12:00:01Z"
    assert record["outcome"] == "pending" and record["after"]["quantity"] == 7


async def test_per_write_outcomes_record_errors_and_new_revisions(tmp_path):
    async with journal(tmp_path) as j:
        a, b = await j.write_pending([change("A", 5, 7, revision="3"), change("B", 1, 0)])
        await j.settle_each([Settlement(a, Outcome.APPLIED, revision="4"),
                             Settlement(b, Outcome.CONFLICT, error="stale revision")])
    *_, applied, conflict = read_journal(journal_path(tmp_path, "demo"))
    assert (applied.outcome, applied.revision) == (Outcome.APPLIED, "4")
    assert (conflict.outcome, conflict.error) == (Outcome.CONFLICT, "stale revision")


async def test_torn_last_line_is_skipped_reported_and_repaired_on_reopen(tmp_path):
    async with journal(tmp_path) as j:
        await j.write_pending([change("A", 5, 7)])
    path = journal_path(tmp_path, "demo")
    with path.open("ab") as f:  # a crash in the middle of an append
        f.write(b'{"write_id": "run-1/2", "run_id": "ru')
    bad: list[BadLine] = []
    assert [e.sku for e in read_journal(path, bad_lines=bad)] == ["A"]
    assert bad == [BadLine(2, "torn last line (interrupted write)", torn=True)]

    async with journal(tmp_path, "run-2") as j:
        await j.write_pending([change("B", 1, 2)])
    bad = []
    assert [e.sku for e in read_journal(path, bad_lines=bad)] == ["A", "B"]
    assert [(b.line, b.torn) for b in bad] == [(2, False)]


def test_missing_journal_reads_as_empty(tmp_path):
    assert list(read_journal(tmp_path / "none.jsonl")) == []


def test_synchronous_append_works_without_an_event_loop(tmp_path):
    store = FileJournal(journal_path(tmp_path, "demo"))
    store.open_sync()
    try:
        store.append_sync(journal(tmp_path).make_pending([change("A", 5, 7)]))
    finally:
        store.close_sync()
    assert [e.sku for e in read_journal(journal_path(tmp_path, "demo"))] == ["A"]


async def test_rollback_view_gives_first_before_and_latest_applied_after(tmp_path):
    async with journal(tmp_path, "run-1") as j:
        [a] = await j.write_pending([change("A", 1, 2)])
        await j.settle([a], Outcome.APPLIED)
    async with journal(tmp_path, "run-2") as j:
        # First attempt conflicts (stock moved 5 -> 4); the retry is based on a fresh read.
        [stale] = await j.write_pending([change("A", 5, 9)])
        await j.settle([stale], Outcome.CONFLICT, error="stale")
        [retry, b] = await j.write_pending([change("A", 4, 9), change("B", 3, 0)])
        await j.settle([retry, b], Outcome.APPLIED)
        [again] = await j.write_pending([change("A", 9, 8)])
        await j.settle([again], Outcome.APPLIED)
        [lost] = await j.write_pending([change("C", 2, 0)])
        await j.settle([lost], Outcome.FAILED, error="500")

    entries = list(read_journal(journal_path(tmp_path, "demo")))
    points = rollback_points(entries)
    a_point = points[("P1", "V-A", "")]
    assert (a_point.run_id, a_point.before.quantity, a_point.after.quantity, a_point.writes) == (
        "run-2", 4, 8, 2)
    assert points[("P1", "V-B", "")].before.quantity == 3
    assert ("P1", "V-C", "") not in points  # never applied: nothing to roll back
    older = rollback_points(entries, run_id="run-1")
    assert older[("P1", "V-A", "")].before.quantity == 1


async def test_rollback_view_includes_writes_that_may_have_landed(tmp_path):
    """A write without a definite answer (unknown, or pending after a crash) may be in the
    store: a rollback must consider it; a failed or conflicting one was never applied."""
    async with journal(tmp_path, "run-1") as j:
        [timeout] = await j.write_pending([change("A", 1, 2)])
        await j.settle([timeout], Outcome.UNKNOWN, error="WixUnavailable: timeout")
        [failed, stale] = await j.write_pending([change("B", 3, 4), change("C", 5, 6)])
        await j.settle([failed], Outcome.FAILED, error="400")
        await j.settle([stale], Outcome.CONFLICT, error="stale")
        await j.write_pending([change("D", 7, 8)])  # then the process was killed

    points = rollback_points(read_journal(journal_path(tmp_path, "demo")))
    assert sorted((k[1], p.before.quantity, p.after.quantity) for k, p in points.items()) == [
        ("V-A", 1, 2), ("V-D", 7, 8)]


def test_run_ids_sort_by_time_and_are_unique():
    a, b = new_run_id(T0), new_run_id(T0)
    assert a.startswith("20250301T120000Z-") and a != b
    assert new_run_id(T0 + timedelta(seconds=1)) > max(a, b)


async def test_reading_since_a_position_returns_only_what_was_appended(tmp_path):
    async with journal(tmp_path, "run-1") as j:
        await j.write_pending([change("A", 5, 7), change("B", 1, 0)])
        first = await j.read_since(None)
        assert first.restarted and [e.sku for e in first.entries] == ["A", "B"]
        await j.write_pending([change("C", 2, 3)])
        second = await j.read_since(first.position)
        assert not second.restarted and [e.sku for e in second.entries] == ["C"]
        assert (await j.read_since(second.position)).entries == ()


async def test_a_line_still_being_written_is_read_once_it_is_complete(tmp_path):
    async with journal(tmp_path, "run-1") as j:
        await j.write_pending([change("A", 5, 7)])
        start = await j.read_since(None)
    path = journal_path(tmp_path, "demo")
    other = journal(tmp_path, "run-2").make_pending([change("B", 1, 0)])[0].to_json()
    with path.open("ab") as f:
        f.write(other[:20].encode())  # a writer in the middle of its append
    torn = await journal(tmp_path, "x").read_since(start.position)
    assert torn.entries == () and torn.position == start.position
    with path.open("ab") as f:
        f.write(other[20:].encode() + b"\n")
    done = await journal(tmp_path, "x").read_since(torn.position)
    assert [e.sku for e in done.entries] == ["B"]


async def test_a_replaced_journal_file_is_read_again_from_its_start(tmp_path):
    async with journal(tmp_path, "run-1") as j:
        await j.write_pending([change("A", 5, 7), change("B", 1, 0)])
        seen = await j.read_since(None)
    path = journal_path(tmp_path, "demo")
    copy = tmp_path / "copy.jsonl"
    copy.write_bytes(path.read_bytes().splitlines(keepends=True)[0])
    copy.replace(path)
    again = await journal(tmp_path, "x").read_since(seen.position)
    assert again.restarted and [e.sku for e in again.entries] == ["A"]


def test_a_later_read_settles_a_killed_runs_absolute_writes_and_leaves_the_rest_open():
    """``settle_by_read``: each absolute write of another run whose variant the read saw is
    settled with the value read; deltas, this run's own writes and unread variants stay."""
    nowhere = FileJournal(Path("/nonexistent"))  # pending entries are made, never kept
    killed = Journal(nowhere, site="demo", run_id="killed", clock=Clock())
    landed, missed, delta, unread = killed.make_pending(
        [change("A", 5, 7), change("B", 5, 7), change("C", 5, 7), change("D", 5, 7)])
    delta = replace(delta, delta=2)
    (mine,) = Journal(nowhere, site="demo", run_id="reader",
                      clock=Clock()).make_pending([change("E", 5, 7)])
    read = [change(sku, q, q).variant for sku, q in
            (("A", 7), ("B", 5), ("C", 5), ("E", 5))]

    settled = settle_by_read([landed, missed, delta, unread, mine], read, run_id="reader")

    assert [(s.entry.sku, s.outcome, s.error) for s in settled] == [
        ("A", Outcome.SETTLED, "run reader read 7, the value this write set, and planned "
                               "from it"),
        ("B", Outcome.SETTLED, "run reader read 5 and planned from it"),
    ]


def test_a_journal_line_is_written_as_before_whatever_its_text_holds():
    # Lines written by earlier versions and by this one must read alike (and diff alike).
    awkward = 'é"\\/\x00\x1f\x7f\u2028😀'
    never_written = None  # make_pending and settled do not write
    entry = Journal(never_written, site="s" + awkward, run_id="run-" + awkward,  # type: ignore[arg-type]
                    clock=lambda: T0, rollback_of="run-0").make_pending(
        [change("A" + awkward, 5, 7, revision="r" + awkward)], deltas=[2])[0]
    settled = entry.settled(Outcome.FAILED, at=T0 + timedelta(seconds=1), error="no " + awkward)
    assert (entry.write_id, entry.run_id, entry.site, entry.product_id, entry.variant_id,
            entry.sku, entry.inventory_item_id, entry.before, entry.after, entry.revision,
            entry.outcome, entry.time, entry.error, entry.location_id, entry.rollback_of,
            entry.delta) == (
        f"run-{awkward}/1", "run-" + awkward, "s" + awkward, "P1", f"V-A{awkward}",
        "A" + awkward, "I1", StockState(5, True, True), StockState(7, None, True),
        "r" + awkward, Outcome.PENDING, T0, None, None, "run-0", 2)
    for line in (entry, settled):
        data = {"write_id": line.write_id, "run_id": line.run_id, "site": line.site,
                "product_id": line.product_id, "variant_id": line.variant_id, "sku": line.sku,
                "inventory_item_id": line.inventory_item_id, "location_id": line.location_id,
                "before": line.before.to_dict(), "after": line.after.to_dict(),
                "revision": line.revision, "outcome": line.outcome.value,
                "time": line.time.isoformat().replace("+00:00", "Z")}
        data |= {k: v for k, v in (("error", line.error), ("rollback_of", line.rollback_of),
                                   ("delta", line.delta)) if v is not None}
        assert line.to_json() == json.dumps(data, separators=(",", ":"), ensure_ascii=False)
        assert line.to_bytes() == line.to_json().encode()
    assert settled.error == "no " + awkward and settled.delta == 2
    assert replace(entry, outcome=Outcome.FAILED, time=settled.time,
                   error=settled.error) == settled
