"""Reads of a site's journal that cost what they show: the newest runs, the run a plain
``syncd rollback`` undoes, read from the end of the journal through any ``StateBackend``.

The window read from the end grows (``FIRST_WINDOW`` lines, or ``LINES_PER_RUN`` per run
asked for, then four times as many each time) until it holds what was asked for; the
oldest run in a window may be cut short by it, so it is left out unless the window holds
the whole journal.
"""

from __future__ import annotations

from syncd.core.journal import BadLine, JournalEntry
from syncd.core.journal_view import RunView, runs
from syncd.core.rollback import RollbackPoint, VariantKey, rollback_points
from syncd.edges.backend.base import StateBackend

FIRST_WINDOW = 2_000
"""Lines of the first window: a few hundred runs of a store writing a little each cycle."""

LINES_PER_RUN = 12
"""What a window of runs starts from per run asked for (a few writes, two lines each)."""


async def _window(backend: StateBackend, site: str, limit: int,
                  bad_lines: list[BadLine] | None) -> tuple[list[JournalEntry], bool]:
    """The last ``limit`` lines without the (maybe cut) oldest run, and whether they are
    the whole journal."""
    found: list[BadLine] = []
    entries = await backend.read_recent(site, limit, found)
    whole = len(entries) < limit
    if bad_lines is not None:
        bad_lines[:] = found
    if whole or not entries:
        return entries, True
    oldest = entries[0].run_id
    return [e for e in entries if e.run_id != oldest], False


async def recent_runs(backend: StateBackend, site: str, count: int,
                      bad_lines: list[BadLine] | None = None) -> tuple[list[RunView], bool]:
    """The newest ``count`` runs of the site, oldest first, and whether they are all the
    runs its journal holds."""
    limit = max(FIRST_WINDOW, count * LINES_PER_RUN)
    while True:
        entries, whole = await _window(backend, site, limit, bad_lines)
        found = runs(entries)
        if whole or len(found) >= count:
            return found[-count:], whole and len(found) <= count
        limit *= 4


async def rollback_target(backend: StateBackend, site: str,
                          run_id: str | None) -> dict[VariantKey, RollbackPoint]:
    """``rollback_points`` of ``run_id``, or of the last sync run that may have written
    anything: that run's lines only are read, found from the end of the journal."""
    if run_id is None:
        limit = FIRST_WINDOW
        while True:
            entries, whole = await _window(backend, site, limit, None)
            points = rollback_points(entries)
            if points or whole:
                break
            limit *= 4
        if not points:
            return {}
        run_id = next(iter(points.values())).run_id
    return rollback_points(await backend.read_run(site, run_id), run_id=run_id)
