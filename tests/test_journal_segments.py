"""The local journal in segments: a journal of an earlier version (one file) is read and
split at run boundaries, a reader's position survives a rotation, an interrupted split is
finished, and the reads that show a little never open the old segments."""

from __future__ import annotations

import itertools
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from syncd.base.model import StoreVariant
from syncd.core.journal import Journal, JournalEntry, Outcome
from syncd.core.plan import ChangeReason, StockChange
from syncd.edges.backend.local import LocalBackend, segments
from syncd.edges.backend.local.journal import (
    FileJournal,
    journal_path,
    read_journal,
    read_last,
    read_open,
    read_run,
    read_tail,
)
from syncd.edges.backend.local.segments import (
    ROTATING,
    SegmentPolicy,
    read_index,
    segment_dir,
    segment_files,
)

SITE = "demo"
NOW = datetime.now(UTC)
SMALL = SegmentPolicy(max_bytes=4_000, min_bytes=0, max_age_s=10 * 86_400)


def _change(sku: str, before: int, after: int) -> StockChange:
    v = StoreVariant(product_id=f"P-{sku}", variant_id=f"V-{sku}", inventory_item_id="I",
                     sku=sku, tracked=True, quantity=before, in_stock=True, hidden=False)
    return StockChange(v, after, None, True, ChangeReason.QUANTITY, None)


def _lines(run_id: str, at: datetime, *, skus: int = 3, settle: bool = True) -> list[str]:
    j = Journal(FileJournal(Path("/nonexistent")), site=SITE, run_id=run_id,
                clock=lambda: at)
    pending = j.make_pending([_change(f"{run_id}-{i}", i, i + 1) for i in range(skus)])
    done = [e.settled(Outcome.APPLIED, at=at) for e in pending] if settle else []
    return [e.to_json() for e in [*pending, *done]]


def _legacy_journal(state: Path) -> list[str]:
    """A journal written by a version without segments: 60 daily runs, one in the middle
    left a write unsettled."""
    lines: list[str] = []
    for day in range(60, 0, -1):
        lines += _lines(f"run-{day:03d}", NOW - timedelta(days=day), settle=day != 45)
    path = journal_path(state, SITE)
    path.parent.mkdir(parents=True)
    path.write_text("".join(line + "\n" for line in lines))
    return lines


async def _one_run(backend: LocalBackend, run_id: str, at: datetime) -> list[JournalEntry]:
    store = backend.journal(SITE, run_id=run_id).store
    async with Journal(store, site=SITE, run_id=run_id, clock=lambda: at) as j:
        entries = await j.write_pending([_change(f"{run_id}-X", 0, 1)])
        return [*entries, *await j.settle(entries, Outcome.APPLIED)]


async def test_a_single_file_journal_of_an_earlier_version_is_read_split_and_compacted(
    tmp_path
):
    state = tmp_path / "state"
    lines = _legacy_journal(state)
    path = journal_path(state, SITE)
    assert [e.to_json() for e in read_journal(path)] == lines
    assert [e.sku for e in read_open(path)] == ["run-045-0", "run-045-1", "run-045-2"]

    backend = LocalBackend(state, segments=SMALL)
    await _one_run(backend, "run-now", NOW)  # opening it closes the old file, split
    closed = segment_files(segment_dir(path))
    assert len(closed) > 3
    runs_per_file = [{e.run_id for e in read_journal(f)} for f in closed]
    for a, b in itertools.pairwise(runs_per_file):
        assert not a & b  # a run never straddles two segments
    assert [e.to_json() for e in read_journal(path)][:len(lines)] == lines
    assert not (segment_dir(path) / ROTATING).exists()

    done = await backend.compact(SITE, retention_days=10, now=NOW)
    assert done.dropped and done.kept_unsettled == 1
    left = {e.run_id for e in read_journal(path)}
    assert "run-045" in left and "run-now" in left and "run-060" not in left
    # Past the retention, only the segment holding the unsettled write is left (whole
    # segments go: it may hold a neighbouring run, and so may the newest one dropped).
    cutoff = NOW - timedelta(days=10)
    old = [i for i in read_index(segment_dir(path)).values()
           if i.last_time is not None and i.last_time < cutoff]
    assert len(old) == 1 and "run-045" in old[0].runs
    assert {r for r in left if int(r[4:] if r[4:].isdigit() else 0) > 11} == set(old[0].runs)
    assert [e.sku for e in read_open(path)] == ["run-045-0", "run-045-1", "run-045-2"]
    assert set(read_index(segment_dir(path))) == {f.name for f in
                                                  segment_files(segment_dir(path))}


async def test_an_interrupted_split_is_finished_without_losing_or_doubling_a_line(tmp_path):
    state = tmp_path / "state"
    lines = _legacy_journal(state)
    path = journal_path(state, SITE)
    segdir = segment_dir(path)
    segdir.mkdir()
    # The crash: the file was moved aside, one piece of it written, nothing indexed.
    os.rename(path, segdir / ROTATING)
    (segdir / "000001.jsonl").write_text("".join(line + "\n" for line in lines[:7]))
    await _one_run(LocalBackend(state, segments=SMALL), "run-now", NOW)
    assert [e.to_json() for e in read_journal(path)][:len(lines)] == lines
    assert len(list(read_journal(path))) == len(lines) + 2


async def test_a_readers_position_survives_the_rotation_of_its_file(tmp_path):
    backend = LocalBackend(tmp_path, segments=SegmentPolicy(max_bytes=1 << 30, min_bytes=0,
                                                            max_age_s=0))
    path = journal_path(tmp_path, SITE)
    await _one_run(backend, "run-1", NOW - timedelta(days=2))
    first = read_tail(path, None)
    assert first.restarted and len(first.entries) == 2
    new = await _one_run(backend, "run-2", NOW)  # closes run-1's file first
    assert len(segment_files(segment_dir(path))) == 1
    tail = read_tail(path, first.position)
    assert not tail.restarted
    assert list(tail.entries) == new
    assert read_tail(path, tail.position).entries == ()


async def _big_run(backend: LocalBackend, run_id: str, at: datetime, skus: int
                   ) -> list[JournalEntry]:
    store = backend.journal(SITE, run_id=run_id).store
    async with Journal(store, site=SITE, run_id=run_id, clock=lambda: at) as j:
        entries = await j.write_pending([_change(f"{run_id}-{i}", i, i + 1)
                                         for i in range(skus)])
        return [*entries, *await j.settle(entries, Outcome.APPLIED)]


async def test_a_position_taken_at_an_empty_journal_misses_no_line_of_a_split_run(tmp_path):
    # A first cycle reads an empty journal, then writes a run too large to be renamed
    # whole: the next run's opening splits the file and unlinks it, and the new current
    # file may be given the split file's inode number.
    backend = LocalBackend(tmp_path, segments=SMALL)
    path = journal_path(tmp_path, SITE)
    async with backend.journal(SITE, run_id="run-0"):
        pass
    empty = read_tail(path, None)
    assert empty.entries == ()
    first = await _big_run(backend, "run-1", NOW, skus=20)
    assert path.stat().st_size > 2 * SMALL.max_bytes
    second = await _one_run(backend, "run-2", NOW)
    assert segment_files(segment_dir(path))
    position = empty.position
    if isinstance(position, tuple):  # as when the number is reused
        position = (path.stat().st_ino, *position[1:])
    tail = read_tail(path, position)
    assert [e.to_json() for e in tail.entries] == [e.to_json() for e in first + second]


async def test_a_position_in_a_split_file_goes_on_in_its_pieces(tmp_path):
    backend = LocalBackend(tmp_path, segments=SMALL)
    path = journal_path(tmp_path, SITE)
    await _one_run(backend, "run-1", NOW)
    seen = read_tail(path, None)
    unseen = await _big_run(backend, "run-2", NOW, skus=20)
    assert path.stat().st_size > 2 * SMALL.max_bytes
    unseen += await _one_run(backend, "run-3", NOW)  # opening it split runs 1 and 2
    assert [i.source_inode for i in read_index(segment_dir(path)).values()] == [
        seen.position[0] if isinstance(seen.position, tuple) else None]
    tail = read_tail(path, seen.position)
    assert not tail.restarted
    assert [e.to_json() for e in tail.entries] == [e.to_json() for e in unseen]
    assert read_tail(path, tail.position).entries == ()


async def test_a_position_whose_inode_now_names_another_file_is_not_trusted(tmp_path):
    backend = LocalBackend(tmp_path, segments=SMALL)
    path = journal_path(tmp_path, SITE)
    other = journal_path(tmp_path, "other")
    lines = await _one_run(backend, "run-1", NOW)
    seen = read_tail(path, None)
    other.write_bytes(path.read_bytes() * 3)  # same size class, other lines first
    other.write_bytes(b"{}\n" + other.read_bytes())
    assert isinstance(seen.position, tuple)
    forged = (other.stat().st_ino, *seen.position[1:])
    os.rename(other, path)
    tail = read_tail(path, forged)
    assert tail.restarted
    assert len(tail.entries) == 3 * len(lines)


async def test_reads_that_show_a_little_never_open_the_old_segments(tmp_path):
    state = tmp_path / "state"
    _legacy_journal(state)
    path = journal_path(state, SITE)
    backend = LocalBackend(state, segments=SMALL)
    mine = await _one_run(backend, "run-now", NOW)
    oldest = segment_files(segment_dir(path))[0]
    oldest.write_text("not a journal line\n" * 50)  # would show as unreadable if read
    bad: list = []
    assert read_last(path, 2, bad) == mine and bad == []
    assert read_run(path, "run-now") == mine
    assert [e.run_id for e in read_run(path, "run-030")] == ["run-030"] * 6
    assert {e.sku for e in read_open(path)} == {"run-045-0", "run-045-1", "run-045-2"}
    everything: list = []
    list(read_journal(path, bad_lines=everything))
    assert len(everything) == 50 and everything[0].reason.startswith(oldest.name)


async def test_an_append_is_one_fsynced_write_to_the_current_file_whatever_the_history(
    tmp_path, monkeypatch
):
    state = tmp_path / "state"
    _legacy_journal(state)
    backend = LocalBackend(state, segments=SMALL)
    store = backend.journal(SITE, run_id="run-now").store
    async with Journal(store, site=SITE, run_id="run-now", clock=lambda: NOW) as j:
        # The run's first append opens the file: the history is closed into segments.
        # Appending never looks at them again.
        first = await j.write_pending([_change("OPEN", 0, 1)])
        await j.settle(first, Outcome.APPLIED)

        def untouchable(*args: object, **kwargs: object) -> None:
            raise AssertionError("an append read the closed segments")

        for name in ("files", "read_index", "segment_files", "rotate_if_due"):
            monkeypatch.setattr(segments, name, untouchable)
        synced: list[int] = []
        real_fsync = os.fsync
        monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd)))
        for n in range(3):
            done = await j.write_pending([_change(f"NOW-{n}", 0, 1)])
            await j.settle(done, Outcome.APPLIED)
        assert len(synced) == 6  # one per batch, before each returned
    monkeypatch.undo()
    assert [e.sku for e in read_journal(journal_path(state, SITE))][-6:] == [
        "NOW-0", "NOW-0", "NOW-1", "NOW-1", "NOW-2", "NOW-2"]
    assert journal_path(state, SITE).stat().st_size < SMALL.max_bytes
