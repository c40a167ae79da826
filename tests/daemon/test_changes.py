"""The source tracker behind the fast lane: changed keys after a settled change."""

from __future__ import annotations

from syncd.base.errors import SourceError
from syncd.frontends.daemon.source_changes import SourceTracker


def diff(old: dict[str, int], new: dict[str, int]) -> set[str]:
    return {k for k in old.keys() | new.keys() if old.get(k) != new.get(k)}


class Source:
    """A source whose next reading the test sets."""

    def __init__(self, rows: dict[str, int] | None) -> None:
        self.rows = rows

    def load(self) -> dict[str, int]:
        if self.rows is None:
            raise SourceError("stock.csv:3: quantity: not a number")
        return dict(self.rows)


async def test_listeners_get_the_keys_that_changed():
    source = Source({"A": 1, "B": 2, "C": 3})
    tracker = SourceTracker(load=source.load, diff=diff)
    seen: list[frozenset[str] | None] = []
    tracker.subscribe(seen.append)
    await tracker.prime()
    source.rows = {"A": 1, "B": 5, "D": 4}
    await tracker.on_source_settled()
    assert seen == [frozenset({"B", "C", "D"})]


async def test_a_rewrite_with_identical_rows_triggers_nothing():
    source = Source({"A": 1})
    tracker = SourceTracker(load=source.load, diff=diff)
    seen: list[frozenset[str] | None] = []
    tracker.subscribe(seen.append)
    await tracker.prime()
    await tracker.on_source_settled()
    assert seen == []


async def test_an_invalid_source_triggers_nothing_and_the_next_good_one_a_full_cycle():
    source = Source({"A": 1, "B": 2})
    tracker = SourceTracker(load=source.load, diff=diff)
    seen: list[frozenset[str] | None] = []
    tracker.subscribe(seen.append)
    await tracker.prime()
    source.rows = None
    await tracker.on_source_settled()
    assert seen == []
    source.rows = {"A": 1, "B": 3}
    await tracker.on_source_settled()
    assert seen == [None]  # valid again: the whole source, not a diff
    source.rows = {"A": 2, "B": 3}
    await tracker.on_source_settled()
    assert seen == [None, frozenset({"A"})]  # compared with the last good reading


async def test_every_reading_reports_whether_the_source_can_be_used():
    source = Source({"A": 1})
    tracker = SourceTracker(load=source.load, diff=diff)
    health: list[str | None] = []
    tracker.subscribe_health(health.append)
    await tracker.prime()
    source.rows = None
    await tracker.on_source_settled()
    source.rows = {"A": 1}
    await tracker.on_source_settled()
    assert health[0] is None and health[1] is not None and health[2] is None, health


async def test_without_a_baseline_the_change_is_unknown():
    source = Source(None)
    tracker = SourceTracker(load=source.load, diff=diff)
    seen: list[frozenset[str] | None] = []
    tracker.subscribe(seen.append)
    await tracker.prime()
    source.rows = {"A": 1}
    await tracker.on_source_settled()
    assert seen == [None]
