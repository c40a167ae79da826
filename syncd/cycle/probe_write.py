"""The probe's write test: a product written and put back, to see how the store answers.

``syncd probe --write-test PRODUCT_ID`` runs ``run_write_test`` on one product the user
names. A product that does not track quantities gets the test of ``untracked_increment``
only (``syncd.cycle.probe_untracked``); a Catalog V3 store the Bulk Update test of
``bulk_errors`` and ``bulk_results_order`` only (``syncd.cycle.probe_bulk``). A Catalog V1
product tracking quantities, in order:

1. read the product (its value before, per variant: quantity, tracking, inStock);
2. Update Inventory Variants, every variant one unit up (down at the maximum), then read
   until the reads show it: a variant a read never shows while the call answered ``{}``
   is an ignored write (``empty_answer_applied``);
3. the same call back to the values before, read until shown;
4. Increment of the first variant by one (a Decrement at the maximum), read until shown;
5. the opposite delta, read until shown.

Each read after a write is a sample of ``read_lag``: how long after the answer a read first
showed the write (the reads wait ``READ_WAITS_S`` between them). A delta answered with a
5xx or not answered at all is never sent again: it is settled by reading, and if the reads
do not show it, only once it can no longer land (``lost_settle_s``); seen applied after a
5xx, it makes ``write_answer_lost`` ``applied_then_5xx``.

Every write is journaled like a sync's (the same journal lines, the same ``pending`` before
sending) under a run id ending in ``-writetest`` (``syncd.cycle.write_test_runs``). At the
end, after a ``stop`` too, the product is read once more and every variant compared with its
value before; what differs and still holds the test's value is written back absolutely, and
read again. A test killed on the way is finished by the next ``syncd sync`` or write test.

The test sends at most ``WRITE_TEST_CALLS`` requests (retries of a failed read or absolute
write, which the client repeats as for any sync, come on top); putting back an earlier
killed test, before this one starts, is not counted.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import structlog

from syncd.apply.absolute import apply_plan
from syncd.apply.recent_writes import lost_settle_s, settlement_for
from syncd.base.errors import (
    SyncdError,
    WixAuthError,
    WixClientError,
    WixError,
    WixRateLimited,
    WixServerError,
)
from syncd.base.model import MAX_QUANTITY, Catalog, StoreSnapshot, StoreVariant
from syncd.base.pausing import wait_unless_stopped
from syncd.core.deltas import Verdict, verdict
from syncd.core.findings import UNDETERMINED, Finding
from syncd.core.journal import Journal, Outcome, Settlement, unsettled
from syncd.core.plan import ChangeReason, Plan, StockChange
from syncd.core.rollback import plan_rollback
from syncd.cycle.probe_bulk import check_unchanged, measure_bulk_errors
from syncd.cycle.probe_untracked import (
    ASK_FOR_UNTRACKED,
    changed_variants,
    measure_untracked_increment,
)
from syncd.cycle.sync import SiteSync
from syncd.cycle.write_test_runs import (
    is_write_test,
    net_points,
    write_test_lines,
    write_test_run_id,
)
from syncd.edges.wix import RequestEvent, StoreAdapter
from syncd.edges.wix.writes_delta import StockDelta, adjust_inventory

Log = structlog.typing.FilteringBoundLogger

READ_WAITS_S = (0.0, 0.5, 1.0, 2.0, 4.0)
"""Pauses before each read that looks for a write (7.5 s in all): a store whose reads lag
by more than that is reported as lagging by at least this long."""

STEPS = ("read_before", "update_up", "update_back", "increment", "decrement", "restore")
"""The steps of a write test, in order (``on_step`` is told each one it finished)."""

WRITE_TEST_CALLS = 1 + 4 * (1 + len(READ_WAITS_S)) + 2 + (2 + len(READ_WAITS_S))
"""Requests a write test sends at most (34): the first read; four writes, each with its
reads; one more read for each of the two deltas if their answer is lost; the final read,
a write putting back what differs, and its reads."""

_POINTS = ("read_lag", "empty_answer_applied", "write_answer_lost", "untracked_increment")


@dataclass(slots=True)
class WriteTestRecord:
    """What a write test did besides its findings, for the command to show."""

    run_id: str = ""
    calls: int = 0
    """Requests sent."""
    restored: bool = False
    """The final read showed every variant as it was before the test."""
    left: list[str] = field(default_factory=list)
    """Why the product may not be as it was (empty when ``restored``)."""


class _BudgetSpent(Exception):
    """The test's call budget would be exceeded: it stops writing and puts back."""


@dataclass(slots=True)
class _Test:
    sync: SiteSync
    store: StoreAdapter
    journal: Journal
    product_id: str
    stop: asyncio.Event | None
    log: Log
    read_waits_s: Sequence[float]
    start_calls: int
    on_step: Callable[[str], None] | None
    lags: list[float] = field(default_factory=list)
    statuses: list[tuple[str, int | None]] = field(default_factory=list)
    evidence: dict[str, str] = field(default_factory=dict)
    readings: dict[str, str] = field(default_factory=dict)
    open_delta: bool = False
    """A delta whose answer was lost may still land: nothing more may be written."""

    @property
    def calls(self) -> int:
        return self.sync.client.calls.total - self.start_calls

    def spend(self, n: int = 1, *, reserve: int = 0) -> None:
        if self.calls + n + reserve > WRITE_TEST_CALLS:
            raise _BudgetSpent(f"{self.calls} of {WRITE_TEST_CALLS} calls sent")

    def stopped(self) -> bool:
        return self.stop is not None and self.stop.is_set()

    def done(self, step: str) -> None:
        self.log.info("write_test_step_done", step=step, calls=self.calls)
        if self.on_step is not None:
            self.on_step(step)

    async def read(self, *, reserve: int = 0) -> dict[str, StoreVariant]:
        self.spend(reserve=reserve)
        snapshot = await self.store.refresh(product_ids=[self.product_id])
        return {v.variant_id: v for v in snapshot.variants if v.product_id == self.product_id}

    async def read_until(self, expected: dict[str, int], *, reserve: int,
                         stoppable: bool = True) -> tuple[dict[str, StoreVariant], set[str]]:
        """Read after a write answered just now until every variant of ``expected`` shows
        its quantity, or the reads run out (or, when ``stoppable``, a stop is requested);
        returns the last read and the variants it showed. Records the read lag of the write
        when some read showed it."""
        answered = time.monotonic()
        seen: set[str] = set()
        sampled = False
        current: dict[str, StoreVariant] = {}
        for index, wait_s in enumerate(self.read_waits_s):
            if index and not await wait_unless_stopped(wait_s,
                                                       self.stop if stoppable else None):
                break
            started = time.monotonic()
            current = await self.read(reserve=reserve)
            seen = {vid for vid, q in expected.items()
                    if (v := current.get(vid)) is not None and v.tracked and v.quantity == q}
            if seen:
                if not sampled:  # one call lands whole: its first showing is its lag
                    sampled = True
                    self.lags.append(0.0 if index == 0 else round(started - answered, 3))
                if seen == set(expected):
                    break
                # Some variants show the write: the others get the rest of the reads.
        return current, seen


def _undetermined(why: str) -> list[Finding]:
    return [Finding(point, UNDETERMINED, why) for point in _POINTS]


def _target(v: StoreVariant) -> int:
    """The quantity one unit away from ``v``'s, inside 0..MAX_QUANTITY."""
    assert v.quantity is not None
    return v.quantity + 1 if v.quantity < MAX_QUANTITY else v.quantity - 1


async def run_write_test(
    sync: SiteSync,
    product_id: str,
    *,
    stop: asyncio.Event | None = None,
    on_step: Callable[[str], None] | None = None,
    record: WriteTestRecord | None = None,
    read_waits_s: Sequence[float] = READ_WAITS_S,
) -> list[Finding]:
    """Write ``product_id`` and put it back (see the module's docstring); the findings of
    ``read_lag``, ``empty_answer_applied``, ``write_answer_lost`` and
    ``untracked_increment`` (V3: ``bulk_errors`` and ``bulk_results_order`` too).
    ``on_step`` is told each step of ``STEPS`` done; ``record`` receives the run id, the
    calls sent and whether the product was verified restored.
    Raises ``SyncdError`` when the product is not in the store.

    A stop ends the test after the step under way, then the product is put back: the
    caller must not halt the client on ``stop`` (``halt_on``), or nothing could be."""
    record = record if record is not None else WriteTestRecord()
    store = await sync.store()
    if store.catalog is not Catalog.V1:
        return await _v3_test(sync, store, product_id, record)
    # A write test killed earlier is put back first, as by a sync.
    if await sync.settle_write_tests(stop=stop):
        still_open = sorted({e.run_id for e in unsettled(
            await write_test_lines(sync.backend, sync.site.name))
            if is_write_test(e.run_id) or is_write_test(e.rollback_of or "")})
        if still_open:
            raise SyncdError(
                f"{sync.backend.where(sync.site.name)}: an earlier write test "
                f"({', '.join(still_open)}) has writes that may still land; nothing was "
                "written. Run the write test (or `syncd sync`) again in a few minutes")
    run_id = write_test_run_id(datetime.now(UTC))
    record.run_id = run_id
    log = sync.log.bind(run_id=run_id, write_test=product_id)
    async with sync.backend.journal(sync.site.name, run_id=run_id) as journal:
        test = _Test(sync=sync, store=store, journal=journal, product_id=product_id,
                     stop=stop, log=log, read_waits_s=read_waits_s,
                     start_calls=sync.client.calls.total, on_step=on_step)

        def observe(event: RequestEvent) -> None:
            test.statuses.append((event.endpoint, event.status))

        unsubscribe = sync.client.subscribe(observe)
        try:
            before = await test.read()
            if not before:
                raise SyncdError(f"product {product_id}: not in the store (a read by id found "
                                 "no variant); name a product id `syncd plan --output json` "
                                 "lists")
            test.done("read_before")
            if all(not v.tracked for v in before.values()):
                return await _untracked(test, before, record)
            untracked = [v for v in before.values() if not v.tracked or v.quantity is None]
            if untracked:
                record.restored = True
                return _undetermined(
                    f"product {product_id} does not show every variant's quantity: the test "
                    "writes only products that track them all; nothing was written")
            log.info("write_test_started", variants=len(before), budget=WRITE_TEST_CALLS)
            try:
                await _steps(test, before)
            except _BudgetSpent as exc:
                log.warning("write_test_budget_spent", detail=str(exc),
                            reason="no more writes: the product is put back")
            except WixAuthError:
                raise  # nothing more can be sent: the next sync puts the product back
            except WixError as exc:
                test.evidence.setdefault("delta", f"a call failed: {str(exc)[:200]}")
                log.warning("write_test_call_failed", error=str(exc)[:300],
                            reason="no more writes: the product is put back")
            await _restore(test, before, record)
        finally:
            unsubscribe()
            record.calls = test.calls
    return _findings(test)


async def _v3_test(sync: SiteSync, store: StoreAdapter, product_id: str,
                   record: WriteTestRecord) -> list[Finding]:
    """The test of a Catalog V3 store: one Bulk Update of a real item written its own value
    and a missing item (``syncd.cycle.probe_bulk``); the V1 points stay undetermined."""
    run_id = write_test_run_id(datetime.now(UTC))
    record.run_id = run_id
    log = sync.log.bind(run_id=run_id, write_test=product_id)
    start_calls = sync.client.calls.total

    def spend() -> None:
        if sync.client.calls.total - start_calls + 1 > WRITE_TEST_CALLS:
            raise SyncdError(f"the write test's {WRITE_TEST_CALLS} calls are spent")

    async def read() -> dict[str, StoreVariant]:
        spend()
        snapshot = await store.refresh(product_ids=[product_id])
        return {v.inventory_item_id: v for v in snapshot.variants
                if v.product_id == product_id}

    try:
        async with sync.backend.journal(sync.site.name, run_id=run_id) as journal:
            before = await read()
            if not before:
                raise SyncdError(f"product {product_id}: not in the store (a read by id "
                                 "found no inventory item); name a product id `syncd plan "
                                 "--output json` lists")
            log.info("write_test_started", items=len(before), budget=WRITE_TEST_CALLS)
            found = await measure_bulk_errors(store=store, journal=journal, before=before,
                                              spend=spend, log=log)
            differs = await check_unchanged(before, read)
    finally:
        record.calls = sync.client.calls.total - start_calls
    record.restored = not differs
    if differs:
        record.left.append(f"items {', '.join(differs)} differ from before the test (moved "
                           "by something else: the test's write changed no stock)")
        log.warning("write_test_not_restored", items=differs, reason=record.left[-1])
    else:
        log.info("write_test_restored", items=len(before),
                 reason="a final read shows every item as before the test")
    return found + _undetermined("a Catalog V3 store: the test's Catalog V1 writes were not "
                                 "made (only the Bulk Update of two items)")


async def _untracked(test: _Test, before: dict[str, StoreVariant],
                     record: WriteTestRecord) -> list[Finding]:
    """The test of an untracked product: ``untracked_increment`` only (the other points
    need quantities a read shows)."""
    if test.stopped():
        record.restored = True
        return _undetermined("stopped before anything was written")
    test.log.info("write_test_started", variants=len(before), budget=WRITE_TEST_CALLS,
                  untracked=True)
    outcome = await measure_untracked_increment(
        store=test.store, journal=test.journal, before=before,
        spend=lambda: test.spend(), read=test.read, read_waits_s=test.read_waits_s,
        log=test.log)
    test.done("restore")
    record.restored = outcome.restored
    record.left.extend(outcome.left)
    if outcome.restored:
        test.log.info("write_test_restored", variants=len(before),
                      reason="a final read shows the product as before the test")
    else:
        test.log.warning("write_test_not_restored", reason="; ".join(outcome.left))
    why = (f"product {test.product_id} does not track quantities: the test measured "
           "untracked_increment only (name a tracked product to measure this)")
    return [outcome.finding if f.point == "untracked_increment" else f
            for f in _undetermined(why)]


async def _steps(test: _Test, before: dict[str, StoreVariant]) -> None:
    up = {vid: _target(v) for vid, v in before.items()}
    back = {vid: v.quantity for vid, v in before.items() if v.quantity is not None}
    if test.stopped():
        return
    ignored, current = await _update(test, before, up)
    test.done("update_up")
    if test.stopped():
        return
    # Journaled from what the reads show now (the test's value), like any planned write.
    now = {vid: current.get(vid, v) for vid, v in before.items()}
    _, current = await _update(test, now, back, skip=ignored)
    test.done("update_back")
    first = next(iter(before.values()))
    variant = current.get(first.variant_id, first)
    assert variant.quantity is not None
    units = 1 if variant.quantity < MAX_QUANTITY else -1
    for step, delta in (("increment", units), ("decrement", -units)):
        if test.stopped() or test.open_delta:
            return
        if not variant.tracked or variant.quantity is None:
            test.evidence["delta"] = "the variant stopped tracking quantities: no delta sent"
            return
        landed = await _delta(test, variant, delta)
        test.done(step)
        if landed is None:
            return
        variant = landed


_RESTORE_RESERVE = 2 + len(READ_WAITS_S)
"""Calls kept for the end: the final read, a write putting back, its reads."""


async def _update(test: _Test, now: dict[str, StoreVariant], quantities: dict[str, int], *,
                  skip: frozenset[str] = frozenset()
                  ) -> tuple[frozenset[str], dict[str, StoreVariant]]:
    """One Update Inventory Variants call setting ``quantities``, journaled and read until
    shown; returns the variants it left as they were (none when it was refused) and the
    last read."""
    changes = tuple(StockChange(now[vid], q, None, True, ChangeReason.QUANTITY, None)
                    for vid, q in quantities.items() if vid not in skip)
    if not changes:
        return frozenset(), now
    test.spend(reserve=_RESTORE_RESERVE)
    plan = Plan(catalog=Catalog.V1, changes=changes, store_variants=len(now), source_rows=0,
                matched=len(changes), managed=len(changes))
    report = await apply_plan(plan, store=test.store, journal=test.journal, log=test.log)
    if report.written != len(changes):
        test.evidence["empty_answer_applied"] = (
            f"Update Inventory Variants on {test.product_id} was not accepted "
            f"({'; '.join(e for p in report.products for e in p.errors)[:300]})")
        return frozenset(), now
    expected = {c.variant.variant_id: c.quantity for c in changes if c.quantity is not None}
    current, seen = await test.read_until(expected, reserve=_RESTORE_RESERVE)
    missing = frozenset(expected) - seen
    request = (f"PATCH /stores/v2/inventoryItems/product/{test.product_id} "
               f"({len(expected)} variants) answered {{}}")
    if not seen:
        test.readings.setdefault("empty_answer_applied", UNDETERMINED)
        test.evidence.setdefault("empty_answer_applied",
                                 f"{request}; no read within {sum(test.read_waits_s):g} s "
                                 "showed it: reads lag longer, or it was ignored")
    elif missing:
        # As a sync marks them (``Outcome.IGNORED``): not sent again while nothing changes.
        own = await test.sync.backend.read_run(test.sync.site.name, test.journal.run_id)
        written = [e for e in own
                   if e.run_id == test.journal.run_id and e.outcome is Outcome.APPLIED
                   and e.variant_id in missing and e.delta is None]
        latest = {e.variant_id: e for e in written}
        await test.journal.settle_each(
            Settlement(e, Outcome.IGNORED, "answered {} but no read showed it")
            for e in latest.values())
        test.readings["empty_answer_applied"] = "ignored"
        test.evidence["empty_answer_applied"] = (
            f"{request}; reads showed it on {len(seen)} variants, never on "
            f"{', '.join(sorted(missing))} within {sum(test.read_waits_s):g} s")
    elif test.readings.get("empty_answer_applied") is None:
        test.readings["empty_answer_applied"] = "applied"
        test.evidence["empty_answer_applied"] = f"{request}; a read showed every variant"
    return missing, current


async def _delta(test: _Test, variant: StoreVariant, units: int) -> StoreVariant | None:
    """One Increment (``units`` > 0) or Decrement, journaled first, sent once, and settled
    by reading: never sent again, whatever its answer. Returns the variant as read once it
    showed the delta, None when it did not (or may still land)."""
    assert variant.quantity is not None
    test.spend(reserve=_RESTORE_RESERVE)
    change = StockChange(variant, variant.quantity + units, None, True, ChangeReason.QUANTITY,
                         None)
    (entry,) = await test.journal.write_pending([change], deltas=[units])
    name = "Increment" if units > 0 else "Decrement"
    status = "answered {}"
    lost = False
    try:
        await adjust_inventory(test.store.client,
                               [StockDelta(variant.product_id, variant.variant_id, units)])
    except WixAuthError:
        raise
    except (WixClientError, WixRateLimited) as exc:  # refused before any work
        await test.journal.settle([entry], Outcome.FAILED, error=f"refused: {exc}")
        test.evidence["delta"] = f"{name} refused ({exc.status}): {str(exc)[:200]}"
        return None
    except WixError as exc:  # a 5xx or no answer: it may have landed, or may still land
        lost = True
        status = (f"answered {exc.status}" if isinstance(exc, WixServerError)
                  else "got no answer")
        test.log.warning("write_test_delta_answer_lost", delta=units, error=str(exc)[:200])
    settle_at = test.journal.now() + timedelta(seconds=lost_settle_s(test.store))
    expected = {variant.variant_id: variant.quantity + units}
    current, _ = await test.read_until(expected, reserve=_RESTORE_RESERVE)
    found = verdict(variant.quantity, variant.quantity + units, current.get(variant.variant_id))
    if lost and found is not Verdict.CONFIRMED:
        # Not seen: it may land later still. Read again once it no longer can.
        wait_s = (settle_at - test.journal.now()).total_seconds()
        test.log.info("write_test_delta_waiting", seconds=round(max(wait_s, 0), 1),
                      reason="its answer was lost and the reads do not show it: it may "
                             "still land, and is never sent again")
        if not await wait_unless_stopped(max(wait_s, 0.0), test.stop):
            test.open_delta = True  # left pending: the next sync or write test settles it
            return None
        current = await test.read(reserve=_RESTORE_RESERVE)
        found = verdict(variant.quantity, variant.quantity + units,
                        current.get(variant.variant_id))
    await test.journal.settle_each([settlement_for(entry, found, current.get(
        variant.variant_id))])
    request = f"{name} of {variant.product_id}/{variant.variant_id} by {abs(units)} {status}"
    if lost and status.startswith("answered"):
        if found is Verdict.CONFIRMED:
            test.readings["write_answer_lost"] = "applied_then_5xx"
            test.evidence["write_answer_lost"] = f"{request}; a read showed it applied"
        else:
            test.evidence.setdefault("write_answer_lost",
                                     f"{request}; reads showed it not applied ({found})")
    return current.get(variant.variant_id) if found is Verdict.CONFIRMED else None


async def _restore(test: _Test, before: dict[str, StoreVariant],
                   record: WriteTestRecord) -> None:
    """Read the product, write back what differs from ``before`` and still holds the test's
    value, and read until it shows; says in ``record`` whether it is as it was."""
    if test.open_delta:
        record.left.append("a delta whose answer was lost may still land: the next "
                           "`syncd sync` or write test settles it and puts the product back")
        test.log.warning("write_test_not_restored", reason=record.left[-1])
        return
    current = await test.read()
    differs = changed_variants(before, current)
    if differs:
        entries = await test.sync.backend.read_run(test.sync.site.name,
                                                   test.journal.run_id)
        points = net_points(entries, test.journal.run_id)
        planned = plan_rollback(test.journal.run_id, points,
                                StoreSnapshot(Catalog.V1, tuple(current.values())))
        if planned.plan.changes:
            await apply_plan(planned.plan, store=test.store, journal=test.journal, log=test.log)
            expected = {c.variant.variant_id: c.quantity for c in planned.plan.changes
                        if c.quantity is not None}
            # Read until it shows, a stop notwithstanding: the test says whether it is back.
            current, _ = await test.read_until(expected, reserve=0, stoppable=False)
        differs = changed_variants(before, current)
    test.done("restore")
    if differs:
        record.left.append(f"variants {', '.join(differs)} differ from before the test "
                           "(moved by something else, or a write the reads do not show)")
        test.log.warning("write_test_not_restored", variants=differs, reason=record.left[-1])
        return
    record.restored = True
    test.log.info("write_test_restored", variants=len(before),
                  reason="a final read shows every variant as before the test")


def _findings(test: _Test) -> list[Finding]:
    findings: list[Finding] = []
    if test.lags:
        lagging = max(test.lags) > 0
        findings.append(Finding(
            "read_lag", "lag" if lagging else "none",
            f"{len(test.lags)} writes read back: "
            + ("the first read after each answer showed it" if not lagging else
               f"the slowest was first seen {max(test.lags):g} s after its answer"),
            {"seconds": max(test.lags), "samples": float(len(test.lags))}))
    else:
        findings.append(Finding("read_lag", UNDETERMINED,
                                "no read showed a write of the test"))
    reading = test.readings.get("empty_answer_applied", UNDETERMINED)
    findings.append(Finding("empty_answer_applied", reading,
                            test.evidence.get("empty_answer_applied",
                                              "no Update Inventory Variants was sent")))
    fives = [status for endpoint, status in test.statuses
             if endpoint.startswith("v2.inventory.") and status is not None and status >= 500]
    lost = test.readings.get("write_answer_lost")
    if lost is None:
        lost = "never_seen"
        test.evidence.setdefault(
            "write_answer_lost",
            f"{len(fives)} write answers were 5xx" + (", none of an Increment or Decrement "
                                                      "seen applied" if fives else "")
            + (f"; {test.evidence['delta']}" if "delta" in test.evidence else ""))
    findings.append(Finding("write_answer_lost", lost, test.evidence["write_answer_lost"]))
    findings.append(Finding("untracked_increment", UNDETERMINED,
                            f"product {test.product_id} tracks quantities (Catalog V1 tracks "
                            f"per product): {ASK_FOR_UNTRACKED}"))
    return findings
