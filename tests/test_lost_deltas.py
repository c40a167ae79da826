"""A delta whose call got no answer may land later (queued behind a gateway): nothing is
written to its variant before ``lost_settle_s`` after it was sent, in the run that sent it
or in the next one after a kill; a stop request ends the wait and leaves it pending."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest.mock import patch

import structlog
from structlog.testing import capture_logs

import syncd.apply.applier as apply_deltas
import syncd.apply.recent_writes as recent_writes
from support.memory_journal import memory_journal
from syncd.apply.applier import apply_changes
from syncd.apply.recent_writes import LOST_SETTLE_TIMEOUTS
from syncd.base.errors import WixUnavailable
from syncd.base.model import Catalog, StoreSnapshot, StoreVariant
from syncd.core.journal import Journal, JournalEntry, Outcome, unsettled
from syncd.core.plan import ChangeReason, Plan, StockChange
from syncd.core.policy import WriteMode
from syncd.edges.config.client import WixSettings
from syncd.edges.wix import StockWrite, WriteOutcome

KEY = ("p0", "v0")
START = datetime(2026, 1, 1, tzinfo=UTC)
SETTLE_S = LOST_SETTLE_TIMEOUTS * WixSettings().timeout_s


class Store:
    """One variant on a model clock; its delta calls get no answer and land after
    ``land_after`` seconds (never when None)."""

    def __init__(self, quantity: int, *, land_after: float | None = None,
                 stop_in_pause: asyncio.Event | None = None) -> None:
        self.now = START
        self.quantity = quantity
        self.land_after = land_after
        self.late: list[tuple[datetime, int]] = []
        self.writes: list[tuple[datetime, int]] = []
        self.pauses: list[float] = []
        self.stop_in_pause = stop_in_pause
        self.settings = WixSettings()
        self.client = self
        self.catalog = Catalog.V1

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
        for _at, units in [x for x in self.late if x[0] <= self.now]:
            self.quantity += units
        self.late = [x for x in self.late if x[0] > self.now]

    async def pause(self, seconds: float, stop: asyncio.Event | None) -> bool:
        self.pauses.append(seconds)
        if self.stop_in_pause is not None:
            self.stop_in_pause.set()
            return False
        self.advance(seconds)
        return True

    async def request(self, method: str, path: str, *, body: Any, idempotent: bool,
                      **_kw: Any) -> dict[str, Any]:
        entries = body.get("incrementData") or body.get("decrementData")
        sign = 1 if "incrementData" in body else -1
        units = sign * (entries[0].get("incrementBy") or entries[0].get("decrementBy"))
        if self.land_after is not None:
            self.late.append((self.now + timedelta(seconds=self.land_after), units))
        raise WixUnavailable("timed out")

    def variant(self) -> StoreVariant:
        return StoreVariant(product_id=KEY[0], variant_id=KEY[1], inventory_item_id="i",
                            sku="S", tracked=True, quantity=self.quantity,
                            in_stock=self.quantity > 0, hidden=False)

    async def refresh(self, *, product_ids: Sequence[str] = (), **_kw: Any) -> StoreSnapshot:
        self.advance(0.1)
        return StoreSnapshot(Catalog.V1, (self.variant(),), api_calls=1)

    async def write(self, writes: Sequence[StockWrite]) -> list[WriteOutcome]:
        for w in writes:
            assert w.quantity is not None
            self.quantity = w.quantity
            self.writes.append((self.now, w.quantity))
        return [WriteOutcome(w, success=True) for w in writes]

    def plan(self, to: int) -> Plan:
        change = StockChange(self.variant(), to, None, True, ChangeReason.QUANTITY, None)
        return Plan(catalog=Catalog.V1, changes=(change,), store_variants=1, source_rows=1,
                    matched=1, managed=1)

    def journal(self, lines: list[JournalEntry], run_id: str) -> Journal:
        return memory_journal(lines, run_id=run_id, clock=lambda: self.now)


async def _apply(store: Store, plan: Plan, journal: Journal,
                 stop: asyncio.Event | None = None) -> Any:
    with patch.object(apply_deltas, "wait_unless_stopped", store.pause), \
            patch.object(recent_writes, "wait_unless_stopped", store.pause), \
            capture_logs() as logs:
        report = await apply_changes(plan, store=store,  # type: ignore[arg-type]
                                     journal=journal, write_mode=WriteMode.DELTA, stop=stop,
                                     log=structlog.get_logger("test"))
    return report, logs


async def test_a_lost_delta_that_lands_late_is_confirmed_after_the_wait_not_written_over():
    store = Store(5, land_after=SETTLE_S - 1)
    lines: list[JournalEntry] = []
    report, logs = await _apply(store, store.plan(8), store.journal(lines, "run"))
    # One pause (no second look for it: the wait replaces it), to sent + SETTLE_S.
    assert len(store.pauses) == 1 and store.now >= START + timedelta(seconds=SETTLE_S)
    waiting = [e for e in logs if e["event"] == "delta_answer_lost_waiting"]
    assert waiting and waiting[0]["deltas"] == 1 and waiting[0]["seconds"] == store.pauses[0]
    assert store.writes == [] and store.quantity == 8
    assert report.deltas.lost_waits == 1 and report.deltas.confirmed == 1
    assert [e.outcome for e in lines] == [Outcome.PENDING, Outcome.APPLIED]


async def test_a_lost_delta_that_never_lands_is_written_absolutely_after_the_wait():
    store = Store(5)
    lines: list[JournalEntry] = []
    await _apply(store, store.plan(8), store.journal(lines, "run"))
    assert [q for _, q in store.writes] == [8]
    assert store.writes[0][0] >= START + timedelta(seconds=SETTLE_S)
    assert [e.outcome for e in lines if e.delta is not None] == [Outcome.PENDING,
                                                                 Outcome.FAILED]


async def test_a_stop_ends_the_wait_and_leaves_the_delta_pending_and_its_variant_unwritten():
    stop = asyncio.Event()
    store = Store(5, stop_in_pause=stop)
    lines: list[JournalEntry] = []
    report, logs = await _apply(store, store.plan(8), store.journal(lines, "run"), stop)
    assert store.writes == [] and report.failed == 0
    assert [e.outcome for e in unsettled(lines)] == [Outcome.PENDING]
    assert report.unconfirmed == 1, "counted as the journal holds it: pending, not failed"
    assert report.stopped and not report.complete
    assert any(e["event"] == "delta_answer_lost_left_pending" for e in logs)


async def test_a_young_pending_delta_of_a_killed_run_is_settled_only_once_it_cannot_land():
    store = Store(5)
    lines: list[JournalEntry] = []
    killed = store.journal(lines, "killed")
    plan = store.plan(8)
    await killed.write_pending(plan.changes, deltas=[3])
    store.late.append((store.now + timedelta(seconds=SETTLE_S - 1), 3))  # queued somewhere
    store.advance(5)
    report, logs = await _apply(store, store.plan(8), store.journal(lines, "next"))
    assert store.pauses == [SETTLE_S - 5]
    assert any(e["event"] == "open_deltas_waiting" and e["deltas"] == 1 for e in logs)
    # Landed while waited for: confirmed; the plan predates it, so it goes absolute.
    assert [e.outcome for e in lines if e.run_id == "killed"] == [Outcome.PENDING,
                                                                  Outcome.APPLIED]
    assert all(at >= START + timedelta(seconds=SETTLE_S) for at, _ in store.writes)
    assert store.quantity == 8
    assert report.deltas.recovered == 1 and not unsettled(lines)


async def test_a_stop_while_waiting_for_a_killed_runs_delta_writes_nothing():
    stop = asyncio.Event()
    store = Store(5, stop_in_pause=stop)
    lines: list[JournalEntry] = []
    plan = store.plan(8)
    await store.journal(lines, "killed").write_pending(plan.changes, deltas=[3])
    store.advance(5)
    await _apply(store, plan, store.journal(lines, "next"), stop)
    assert store.writes == [] and [e.run_id for e in unsettled(lines)] == ["killed"]


async def test_an_old_pending_delta_is_settled_at_once():
    store = Store(5)
    lines: list[JournalEntry] = []
    plan = store.plan(8)
    await store.journal(lines, "killed").write_pending(plan.changes, deltas=[3])
    store.advance(SETTLE_S)
    await _apply(store, plan, store.journal(lines, "next"))
    assert store.pauses == [] and [q for _, q in store.writes] == [8]
    assert not unsettled(lines)
