"""Compaction of the PostgreSQL journal: the rows of runs past the retention are deleted.

A run is the part judged (``syncd.core.retention``): its rows go together once its newest
row (the entry's own time, column ``at``) is older than the retention, unless one of its
writes is unsettled or it is the last sync run (what ``syncd rollback`` undoes). Rows are
deleted in batches of ``BATCH_ROWS`` per statement, each its own short transaction, so a
first compaction of a year of history never holds locks for long or bloats one
transaction; the journal's appends go on meanwhile.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from syncd.core.retention import Compaction, JournalPart, judge

BATCH_ROWS = 5_000
"""Rows one DELETE statement removes at most."""

_RUNS_PER_BATCH = 500

OPEN_SQL = (
    "SELECT p.id, p.entry, p.run_id FROM syncd_journal_open o "
    "JOIN syncd_journal p ON p.id = o.id WHERE o.site = $1")
"""The pending rows of a site with no outcome row: ``syncd_journal_open`` names them (kept
by every append, in its transaction), so none of the history is scanned."""


_ROLLBACK_RUN_SQL = (
    "SELECT p.run_id FROM syncd_journal p WHERE p.site = $1 AND p.outcome = 'pending' "
    "AND strpos(p.entry, '\"rollback_of\":') = 0 AND coalesce((SELECT s.outcome "
    "FROM syncd_journal s WHERE s.site = p.site AND s.write_id = p.write_id "
    "AND s.outcome <> 'pending' ORDER BY s.id DESC LIMIT 1), 'pending') "
    "IN ('applied', 'unknown', 'pending') ORDER BY p.id DESC LIMIT 1")
"""The run a plain ``syncd rollback`` undoes: the last sync run with a write that may have
landed (``syncd.core.rollback.rollback_points``)."""


async def compact_rows(pool: Any, site: str, *, retention_days: int, now: datetime,
                       dry_run: bool) -> Compaction:
    """Delete (unless ``dry_run``) the rows of ``site``'s runs that the retention rule
    lets go; the verdict on each run older than the retention, and on the rest as one."""
    cutoff = now - timedelta(days=retention_days)
    old = await pool.fetch(
        "SELECT run_id, max(at) AS last, count(*) AS lines FROM syncd_journal "
        "WHERE site = $1 GROUP BY run_id HAVING max(at) < $2 ORDER BY min(id)", site, cutoff)
    recent = await pool.fetchval(
        "SELECT count(*) FROM syncd_journal WHERE site = $1 AND (at IS NULL OR at >= $2 "
        "OR run_id IN (SELECT run_id FROM syncd_journal WHERE site = $1 AND at >= $2))",
        site, cutoff)
    open_runs: dict[str, int] = {}
    for row in await pool.fetch(OPEN_SQL, site):
        open_runs[row["run_id"]] = open_runs.get(row["run_id"], 0) + 1
    rollback_run = await pool.fetchval(_ROLLBACK_RUN_SQL, site)
    parts = [JournalPart(r["run_id"], r["last"], int(r["lines"]), frozenset([r["run_id"]]),
                         open_runs.get(r["run_id"], 0)) for r in old]
    verdicts = judge(parts, now=now, retention_days=retention_days,
                     rollback_run=rollback_run)
    if recent:
        within = JournalPart("runs within the retention", now, int(recent), frozenset(), 0)
        verdicts.extend(judge([within], now=now, retention_days=retention_days,
                              rollback_run=None))
    dropped = [v.part.name for v in verdicts if v.drop]
    if not dry_run:
        for i in range(0, len(dropped), _RUNS_PER_BATCH):
            await _delete_runs(pool, site, dropped[i:i + _RUNS_PER_BATCH])
    return Compaction(site, "runs", tuple(verdicts), dry_run, retention_days)


async def _delete_runs(pool: Any, site: str, runs: list[str]) -> None:
    while True:
        status = await pool.execute(
            "DELETE FROM syncd_journal WHERE ctid = ANY(ARRAY(SELECT ctid FROM syncd_journal "
            "WHERE site = $1 AND run_id = ANY($2::text[]) LIMIT $3))", site, runs, BATCH_ROWS)
        if int(str(status).rsplit(" ", 1)[-1]) < BATCH_ROWS:
            return
