"""The runs of a probe's write test in the journal, and the settling of one left unfinished.

A write test (``syncd.cycle.probe_write``) writes a product and puts it back. Its writes are
journaled like a sync's, under a run id ending in ``WRITE_TEST_SUFFIX``; the writes that
put the product back when the test itself could not are journaled as a run of their own
whose ``rollback_of`` names the test's run. Taken together (``net_points``), the lines of a
finished test cancel out: every variant's latest value that may have landed is its value
before the test, and no write is left without an outcome.

A test killed (``kill -9``, a crash, a lost machine) leaves its run unfinished.
``settle_write_tests`` is what the next ``syncd sync`` (and the next write test) does first:
it settles the increments left open by a re-read made once they can no longer land (never
sending one again), re-reads the product and writes back, absolutely, the value each
variant had before the test, wherever the store still holds what the test wrote. Only then
does the sync read the store and plan; the product ends as it was before the test, not as
the source says (a source that names it is applied afterwards, as by any sync).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import structlog

from syncd.apply.absolute import apply_plan
from syncd.apply.recent_writes import lost_settle_s, settle_open_deltas, settlement_for
from syncd.base.errors import WixAuthError, WixError
from syncd.base.model import Catalog
from syncd.base.pausing import wait_unless_stopped
from syncd.core.deltas import verdict
from syncd.core.journal import (
    WRITE_TEST_SUFFIX,
    JournalEntry,
    StockState,
    new_run_id,
    unsettled,
)
from syncd.core.rollback import RollbackPoint, VariantKey, plan_rollback, rollback_points
from syncd.cycle.write_test_untracked import RESTORE_SUFFIX, settle_untracked, untracked_ledger
from syncd.edges.backend import StateBackend
from syncd.edges.wix import StoreAdapter

Log = structlog.typing.FilteringBoundLogger

READ_SETTLE_S = 8.0
"""Seconds after a write test's last journal line before a read of its product is trusted
to show that write. Wix does not say how far ``stores-reader`` lags writes ("seconds" is
what is seen); a read made sooner might show the value from before the last write and
leave it in place."""


WRITE_TEST_WINDOW = 200_000
"""Journal lines, counted from the end, searched for write tests. A test left unfinished
is always near the end: every sync, daemon cycle and write test puts it back before it
writes anything else, so only a long rollback could push it further."""


async def write_test_lines(backend: StateBackend, site: str) -> list[JournalEntry]:
    """The journal lines ``unfinished_write_tests`` and ``net_points`` need, oldest first:
    every line of each write test named among the last ``WRITE_TEST_WINDOW`` lines and of
    the runs that put one back, each run read whole (``read_run``), never the rest of the
    history."""
    found = await backend.read_recent_about(site, [WRITE_TEST_SUFFIX],
                                            limit=WRITE_TEST_WINDOW, window=WRITE_TEST_WINDOW)
    runs = {e.run_id for e in found
            if is_write_test(e.run_id) or is_write_test(e.rollback_of or "")}
    lines: list[JournalEntry] = []
    for run_id in sorted(runs):
        lines.extend(await backend.read_run(site, run_id))
    lines.sort(key=lambda e: e.time)  # stable: a run's own order is kept
    return lines


def write_test_run_id(now: datetime) -> str:
    """A new write test's run id: a sortable run id, marked as a write test's."""
    return new_run_id(now) + WRITE_TEST_SUFFIX


def is_write_test(run_id: str) -> bool:
    return run_id.endswith(WRITE_TEST_SUFFIX)


def _same(a: StockState, b: StockState) -> bool:
    if a.tracked != b.tracked:
        return False
    return a.quantity == b.quantity if a.tracked else a.in_stock == b.in_stock


def _belongs(entry: JournalEntry, run_id: str) -> bool:
    return entry.run_id == run_id or entry.rollback_of == run_id


def net_points(entries: Iterable[JournalEntry], run_id: str) -> dict[VariantKey, RollbackPoint]:
    """Per variant, its value before the write test ``run_id`` and the latest value that
    may have landed from the test or from the writes that put it back."""
    mine = [replace(e, run_id=run_id) for e in entries if _belongs(e, run_id)]
    return rollback_points(mine, run_id=run_id)


def unfinished_write_tests(entries: Sequence[JournalEntry]) -> list[str]:
    """The write tests of the journal whose lines do not cancel out: a write without an
    outcome, a variant whose latest value that may have landed is not its value before
    the test, or (a test on an untracked variant, whose values a read of the product does
    not show) deltas undecided or landed that do not sum to zero. Oldest first."""
    runs = sorted({e.run_id for e in entries if is_write_test(e.run_id)})
    open_ids = {e.run_id if is_write_test(e.run_id) else e.rollback_of
                for e in unsettled(entries)}
    found = []
    for run_id in runs:
        points = net_points(entries, run_id)
        if run_id in open_ids or any(not _same(p.before, p.after) for p in points.values()):
            found.append(run_id)
        elif (ledger := untracked_ledger(entries, run_id)) is not None and not ledger.finished:
            found.append(run_id)
    return found


async def settle_write_tests(
    *,
    store: StoreAdapter,
    backend: StateBackend,
    site: str,
    log: Log,
    stop: asyncio.Event | None = None,
    entries: Sequence[JournalEntry] | None = None,
    read_settle_s: float = READ_SETTLE_S,
) -> list[str]:
    """Put back every product an unfinished write test left changed (see the module's
    docstring); returns the test runs it found unfinished. ``entries``: the site's journal,
    when the caller has read it already. Writes nothing when ``stop`` is set."""
    if store.catalog is not Catalog.V1:
        return []
    if entries is None:
        entries = await write_test_lines(backend, site)
    runs = unfinished_write_tests(entries)
    if not runs:
        return []
    for run_id in runs:
        # Deltas on an untracked variant: decided by reading its item (Inventory V2), which
        # shows the quantity a read of the product does not; put back the same way.
        if (ledger := untracked_ledger(entries, run_id)) is not None and not ledger.finished:
            if stop is not None and stop.is_set():
                return runs
            await settle_untracked(run_id, ledger, store=store, backend=backend, site=site,
                                   log=log, stop=stop, read_settle_s=read_settle_s)
    restore_id = new_run_id(datetime.now(UTC)) + RESTORE_SUFFIX
    async with backend.journal(site, run_id=restore_id) as settling:
        # Increments left open first: re-read once they can no longer land, never re-sent.
        await settle_open_deltas(store=store, journal=settling, log=log, stop=stop)
    entries = await write_test_lines(backend, site)
    for run_id in runs:
        if stop is not None and stop.is_set():
            break
        await _put_back(run_id, entries, store=store, backend=backend, site=site, log=log,
                        stop=stop, read_settle_s=read_settle_s)
    return runs


async def _put_back(run_id: str, entries: Sequence[JournalEntry], *, store: StoreAdapter,
                    backend: StateBackend, site: str, log: Log, stop: asyncio.Event | None,
                    read_settle_s: float) -> None:
    points = net_points(entries, run_id)
    if not points:
        return
    ledger = untracked_ledger(entries, run_id)
    if ledger is not None and (not ledger.finished
                               or not any(p.after.tracked for p in points.values())):
        # Its deltas are put back by ``settle_untracked``; what is left here is tracking
        # the test's own reads saw switched on, and its writes turning it off again.
        return
    open_writes = [e for e in unsettled(entries) if _belongs(e, run_id)]
    if any(e.delta is not None for e in open_writes):
        log.info("write_test_left_pending", write_test=run_id,
                 reason="an increment of the test is still unsettled (it may land yet): "
                        "the next sync or write test puts the product back")
        return
    last = max(e.time for e in entries if _belongs(e, run_id))
    # A write sent without an answer may land a while later still: none follows it before.
    settle_s = max(read_settle_s, lost_settle_s(store) if open_writes else 0.0)
    wait_s = (last + timedelta(seconds=settle_s) - datetime.now(UTC)).total_seconds()
    if wait_s > 0:
        log.info("write_test_restore_waiting", write_test=run_id, seconds=round(wait_s, 1),
                 reason="its last write is recent: a read may not show it yet, or a write "
                        "without an answer may land yet")
        if not await wait_unless_stopped(wait_s, stop):
            return
    try:
        snapshot = await store.refresh(product_ids=sorted({p.product_id
                                                           for p in points.values()}))
    except WixAuthError:
        raise
    except WixError as exc:
        log.warning("write_test_restore_unreadable", write_test=run_id, error=str(exc)[:300],
                    reason="the next sync or write test tries again")
        return
    current = {(v.product_id, v.variant_id): v for v in snapshot.variants}
    restore_id = new_run_id(datetime.now(UTC)) + RESTORE_SUFFIX
    async with backend.journal(site, run_id=restore_id, rollback_of=run_id) as journal:
        # Writes the kill left without an outcome are settled by the read (its value
        # before: not applied; the test's: applied), so the run is finished once put back.
        settled = [settlement_for(e, verdict(e.before.quantity, e.after.quantity,
                                             current.get((e.product_id, e.variant_id))),
                                  current.get((e.product_id, e.variant_id)))
                   for e in open_writes]
        await journal.settle_each(settled)
        points = net_points(await write_test_lines(backend, site), run_id)
        planned = plan_rollback(run_id, points, snapshot)
        report = None
        if planned.plan.changes:
            report = await apply_plan(planned.plan, store=store, journal=journal, stop=stop,
                                      log=log.bind(run_id=restore_id, rollback_of=run_id))
    for drifted in planned.drifted:
        log.warning("write_test_variant_moved", write_test=run_id,
                    product_id=drifted.point.product_id, variant_id=drifted.point.variant_id,
                    before=drifted.point.before.to_dict(),
                    reason="it holds neither its value before the test nor the test's: "
                           "something else wrote it since, so it is left as it is")
    if report is not None:
        log.info("write_test_restored", write_test=run_id, variants=report.written,
                 failed=report.failed, not_sent=report.not_attempted,
                 reason="a write test ended before it could put its product back")
    else:
        log.info("write_test_found_restored", write_test=run_id,
                 variants=planned.already_restored)
