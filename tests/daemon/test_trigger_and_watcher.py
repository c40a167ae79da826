"""The coalescing trigger and the settling file watcher."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from syncd.frontends.daemon.aio import wait_for_any
from syncd.frontends.daemon.trigger import Trigger
from syncd.frontends.daemon.watcher import FileStamp, SettleTracker, SourceWatcher, read_stamp

A = FileStamp(size=10, mtime_ns=1, ctime_ns=1, inode=7, device=1)
B = FileStamp(size=20, mtime_ns=2, ctime_ns=2, inode=7, device=1)
C = FileStamp(size=20, mtime_ns=3, ctime_ns=3, inode=7, device=1)


class TestTrigger:
    async def test_many_pulls_before_a_take_coalesce_into_one(self):
        trigger = Trigger()
        for i in range(5):
            trigger.pull(f"reason-{i % 2}")
        assert trigger.pending
        assert trigger.take() == {"reason-0", "reason-1"}
        assert not trigger.pending
        assert trigger.take() == frozenset()

    async def test_event_wakes_a_waiter(self):
        trigger = Trigger()
        asyncio.get_running_loop().call_later(0.01, trigger.pull, "file")
        assert await wait_for_any(trigger.event, timeout_s=5)


class TestWaitForAny:
    async def test_times_out_when_nothing_is_set(self):
        assert not await wait_for_any(asyncio.Event(), timeout_s=0.01)

    async def test_returns_at_once_when_an_event_is_already_set(self):
        event = asyncio.Event()
        event.set()
        assert await wait_for_any(asyncio.Event(), event, timeout_s=None)

    async def test_leaves_no_helper_task_behind(self):
        before = asyncio.all_tasks()
        await wait_for_any(asyncio.Event(), asyncio.Event(), timeout_s=0.01)
        assert asyncio.all_tasks() == before


class TestSettleTracker:
    def test_a_change_is_reported_only_after_it_stayed_unchanged_for_settle_time(self):
        tracker = SettleTracker(A, settle_s=1.0)
        assert not tracker.observe(B, now_s=10.0)
        assert tracker.settling
        assert not tracker.observe(B, now_s=10.5)
        assert tracker.observe(B, now_s=11.0)
        assert not tracker.settling

    def test_a_file_that_keeps_changing_is_never_reported(self):
        tracker = SettleTracker(A, settle_s=1.0)
        stamps = [B, C] * 10
        reports = [tracker.observe(s, now_s=10.0 + 0.6 * i) for i, s in enumerate(stamps)]
        assert not any(reports)
        assert tracker.settling

    def test_a_settled_change_is_reported_once(self):
        tracker = SettleTracker(A, settle_s=0.5)
        tracker.observe(B, now_s=0.0)
        reports = [tracker.observe(B, now_s=t) for t in (0.5, 1.0, 5.0)]
        assert reports == [True, False, False]

    def test_a_change_reverted_before_settling_is_not_reported(self):
        tracker = SettleTracker(A, settle_s=1.0)
        tracker.observe(B, now_s=0.0)
        assert not tracker.observe(A, now_s=0.3)
        assert not tracker.observe(A, now_s=5.0)
        assert not tracker.settling

    def test_a_deleted_file_counts_as_a_change(self):
        tracker = SettleTracker(A, settle_s=0.2)
        tracker.observe(None, now_s=0.0)
        assert tracker.observe(None, now_s=0.2)


def test_read_stamp_sees_size_and_inode_and_none_for_a_missing_file(tmp_path: Path):
    path = tmp_path / "stock.csv"
    assert read_stamp(path) is None
    path.write_text("sku,quantity\n")
    stamp = read_stamp(path)
    assert stamp is not None
    assert stamp.size == len("sku,quantity\n")
    assert stamp.inode == os.stat(path).st_ino
    replacement = tmp_path / "new.csv"
    replacement.write_text("sku,quantity\n")
    os.replace(replacement, path)  # same size, new inode: still a change
    assert read_stamp(path) != stamp


class TestSourceWatcher:
    async def test_a_file_still_being_written_is_not_read_until_it_settles(self, tmp_path):
        path = tmp_path / "stock.csv"
        path.write_text("sku,quantity\n")
        seen: list[str] = []
        settled = asyncio.Event()

        async def on_settled():
            seen.append(path.read_text())
            settled.set()

        watcher = SourceWatcher(path, settle_s=0.2, poll_s=0.02, on_settled=on_settled)
        task = asyncio.create_task(watcher.run(), name="watcher under test")
        try:
            await asyncio.sleep(0.05)  # the baseline is taken
            # An upload arriving in pieces, each well within the settle time.
            for i in range(8):
                with path.open("a") as f:
                    f.write(f"SKU-{i},{i}\n")
                await asyncio.sleep(0.05)
                assert not seen, "read while the file was still changing"
            assert not watcher.settled.is_set()
            await asyncio.wait_for(settled.wait(), timeout=5)
        finally:
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        assert len(seen) == 1
        assert seen[0].count("\n") == 9  # the whole file, header + 8 rows
        assert watcher.settled.is_set()

    async def test_an_untouched_file_is_never_reported(self, tmp_path):
        path = tmp_path / "stock.csv"
        path.write_text("sku,quantity\n")
        calls = 0

        async def on_settled():
            nonlocal calls
            calls += 1

        watcher = SourceWatcher(path, settle_s=0.05, poll_s=0.01, on_settled=on_settled)
        task = asyncio.create_task(watcher.run(), name="watcher under test")
        await asyncio.sleep(0.3)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert calls == 0
