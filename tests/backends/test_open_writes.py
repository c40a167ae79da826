"""A site's unsettled writes are followed by reading only what the journal gained since the
last cycle, on either backend, and agree with a read of the whole journal."""

from __future__ import annotations

from test_journal import change

from syncd.apply.recent_writes import OpenWrites
from syncd.core.journal import Outcome, unsettled
from syncd.edges.backend import StateBackend

SITE = "shop"


async def _whole(backend: StateBackend) -> set[str]:
    return {e.write_id for e in unsettled(await backend.read_journal(SITE))}


async def test_open_writes_follow_the_journal_as_runs_append_and_settle(
    state_backend: StateBackend
):
    tracker = OpenWrites()
    first = state_backend.journal(SITE, run_id="run-1")
    async with first:
        assert await tracker.read(first) == []
        entries = await first.write_pending([change("A", 5, 7), change("B", 1, 0),
                                             change("C", 2, 3)])
        assert {e.write_id for e in await tracker.read(first)} == await _whole(state_backend)
        await first.settle(entries[:2], Outcome.APPLIED)

    # A later run (another process, a one-shot sync between two daemon cycles) appends.
    second = state_backend.journal(SITE, run_id="run-2")
    async with second:
        more = await second.write_pending([change("D", 0, 4)])
        open_now = {e.write_id for e in await tracker.read(second)}
        assert open_now == {entries[2].write_id, more[0].write_id}
        assert open_now == await _whole(state_backend)
        await second.settle([entries[2], more[0]], Outcome.FAILED)
        assert await tracker.read(second) == []
        assert await tracker.read(second) == [], "nothing appended: still nothing open"
