"""Properties of the delta path (``syncd.core.deltas`` + ``syncd.apply.applier``) under every
answer Wix may give, reads that lag writes, sales, and a run killed with deltas in flight.

An in-memory store stands in for Wix, on a model clock: each Increment/Decrement call
draws its answer (``{}``, 429, a 5xx after or before the work, no answer with the work
done at once, never, or later: at any time up to ``lost_settle_s`` less a margin after the
call was sent, as a call queued behind a gateway would), every read of a variant may
return any value it held within the lag window (including values from before syncd's own
writes), and units are sold between the steps. Each call takes a tenth of a second; a
pause (the second look, the wait for lost calls) moves the clock, and may be cut short by
a stop request. Whatever is drawn:

- no variant is moved by syncd's writes by more than ``|desired - initial|`` plus the units
  sold (a delta applied twice would break it);
- a delta for one intent (a variant's planned change in one cycle) is sent at most once,
  apart from re-sends after a 429, which proves nothing was applied;
- every journal line a cycle wrote is settled by the end of that cycle, unless that cycle
  was stopped (then the next one settles it).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest.mock import patch

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import syncd.apply.applier as apply_deltas
import syncd.apply.recent_writes as recent_writes
from support.memory_journal import memory_journal
from syncd.apply.applier import apply_changes
from syncd.apply.recent_writes import LOST_SETTLE_TIMEOUTS, OpenWrites
from syncd.base.errors import WixRateLimited, WixServerError, WixUnavailable
from syncd.base.model import Catalog, StoreSnapshot, StoreVariant
from syncd.core.journal import JournalEntry, Outcome, follow_open
from syncd.core.plan import ChangeReason, Plan, StockChange
from syncd.core.policy import WriteMode
from syncd.edges.config.client import WixSettings
from syncd.edges.wix import StockWrite, WriteOutcome

ANSWERS = ("ok", "429", "5xx_applied", "5xx_not_applied", "lost_applied", "lost_not_applied",
           "lost_later")
KEYS = [(f"p{p}", f"v{v}") for p in range(4) for v in range(2)]
SETTLE_S = LOST_SETTLE_TIMEOUTS * WixSettings().timeout_s
"""``lost_settle_s`` of the fake's client."""
MARGIN_S = 1.0
"""A lost call lands at most ``SETTLE_S - MARGIN_S`` after it was sent."""
LAG_S = 10.0
"""How long a replaced value may still be read."""
CALL_S = 0.1
"""Model time one call takes."""


@dataclass
class FakeWix:
    """The store's true values, what reads may see of them, and what syncd did to them."""

    data: Any  # hypothesis' draw
    values: dict[tuple[str, str], int]
    lag: int
    """How many of a variant's latest earlier values a read may still return (those
    replaced less than ``LAG_S`` ago)."""
    history: dict[tuple[str, str], list[tuple[datetime, int]]] = field(default_factory=dict)
    """Each variant's values, with the time each was set."""
    clock: dict[str, datetime] = field(default_factory=dict)
    """The model clock, shared with the journals (``clock["now"]``)."""
    late: list[tuple[datetime, tuple[str, str], int]] = field(default_factory=list)
    """Lost calls' entries still to land: (when, variant, signed units)."""
    stoppable: bool = False
    """Whether a pause may be cut short by a stop request."""
    stopped: bool = False
    """Whether the current cycle was stopped."""
    settings: WixSettings = field(default_factory=WixSettings)
    moved: Counter[tuple[str, str]] = field(default_factory=Counter)
    """Units syncd's writes moved each variant by (absolute values summed)."""
    sold: Counter[tuple[str, str]] = field(default_factory=Counter)
    sends: Counter[tuple[int, tuple[str, str]]] = field(default_factory=Counter)
    """(cycle, variant) -> delta entries sent in calls not refused with a 429."""
    cycle: int = 0

    def __post_init__(self) -> None:
        self.history = {k: [(datetime.min.replace(tzinfo=UTC), v)]
                        for k, v in self.values.items()}

    def set(self, key: tuple[str, str], value: int, *, by_syncd: bool) -> None:
        if by_syncd:
            self.moved[key] += abs(value - self.values[key])
        self.values[key] = value
        self.history[key].append((self.clock["now"], value))

    def land(self, key: tuple[str, str], units: int) -> None:
        self.set(key, max(0, self.values[key] + units), by_syncd=True)

    def advance(self, seconds: float) -> None:
        """Move the model clock; the lost calls due by then land, in order."""
        self.clock["now"] += timedelta(seconds=seconds)
        due = sorted((x for x in self.late if x[0] <= self.clock["now"]), key=lambda x: x[0])
        self.late = [x for x in self.late if x[0] > self.clock["now"]]
        for _at, key, units in due:
            self.land(key, units)

    def lose(self, key: tuple[str, str], units: int, sent_at: datetime) -> None:
        """A call with no answer: its entry lands at once, never, or later."""
        when = self.data.draw(st.sampled_from(["now", "never", "later"]), label=f"lands {key}")
        if when == "now":
            self.land(key, units)
        elif when == "later":
            self.later(key, units, sent_at)

    def later(self, key: tuple[str, str], units: int, sent_at: datetime) -> None:
        delay = self.data.draw(st.floats(0.0, SETTLE_S - MARGIN_S), label="lands after")
        self.late.append((sent_at + timedelta(seconds=delay), key, units))

    async def pause(self, seconds: float, stop: asyncio.Event | None) -> bool:
        """``syncd.base.pausing.wait_unless_stopped`` on the model clock."""
        if stop is not None and stop.is_set():
            return False
        if stop is not None and self.stoppable \
                and self.data.draw(st.booleans(), label="stop during the pause"):
            self.advance(self.data.draw(st.floats(0.0, seconds), label="stopped after"))
            stop.set()
            self.stopped = True
            return False
        self.advance(seconds)
        return True

    def read(self, key: tuple[str, str]) -> int:
        # A value a read may still return: one of the last ``lag + 1``, replaced less
        # than LAG_S ago (``stores-reader`` lags by seconds, well within RECENT_WRITE_S).
        history = self.history[key]
        since = self.clock["now"] - timedelta(seconds=LAG_S)
        window = [v for i, (_at, v) in enumerate(history)
                  if i == len(history) - 1 or history[i + 1][0] > since][-(self.lag + 1):]
        return int(self.data.draw(st.sampled_from(window), label=f"read {key}"))

    def variant(self, key: tuple[str, str], quantity: int) -> StoreVariant:
        return StoreVariant(product_id=key[0], variant_id=key[1], inventory_item_id=key[0],
                            sku=f"{key[0]}-{key[1]}", tracked=True, quantity=quantity,
                            in_stock=quantity > 0, hidden=False)

    def sell(self) -> None:
        for key in KEYS:
            n = self.data.draw(st.integers(0, 1), label=f"sold {key}")
            if n and self.values[key] > 0:
                self.sold[key] += n
                self.set(key, self.values[key] - n, by_syncd=False)

    # -- the client and the adapter the delta path uses -------------------------------

    @property
    def client(self) -> FakeWix:
        return self

    @property
    def catalog(self) -> Catalog:
        return Catalog.V1

    async def request(self, method: str, path: str, *, body: Any, idempotent: bool,
                      **_kw: Any) -> dict[str, Any]:
        assert not idempotent, "only deltas go through here"
        self.advance(CALL_S)
        entries = body.get("incrementData") or body.get("decrementData")
        sign = 1 if "incrementData" in body else -1
        answer = self.data.draw(st.sampled_from(ANSWERS), label="answer")
        if answer == "429":
            raise WixRateLimited("429", status=429)
        for e in entries:
            self.sends[(self.cycle, (e["productId"], e["variantId"]))] += 1
        if answer in ("ok", "5xx_applied", "lost_applied"):
            for e in entries:
                key = (e["productId"], e["variantId"])
                self.land(key, sign * (e.get("incrementBy") or e.get("decrementBy")))
        if answer == "lost_later":
            for e in entries:
                key = (e["productId"], e["variantId"])
                self.later(key, sign * (e.get("incrementBy") or e.get("decrementBy")),
                           self.clock["now"])
        if answer.startswith("5xx"):
            raise WixServerError("503", status=503)
        if answer.startswith("lost"):
            raise WixUnavailable("connection lost")
        return {}

    async def refresh(self, *, product_ids: Sequence[str] = (), **_kw: Any) -> StoreSnapshot:
        self.advance(CALL_S)
        wanted = set(product_ids)
        variants = tuple(self.variant(k, self.read(k)) for k in KEYS if k[0] in wanted)
        return StoreSnapshot(Catalog.V1, variants, api_calls=1)

    async def write(self, writes: Sequence[StockWrite]) -> list[WriteOutcome]:
        self.advance(CALL_S)
        for w in writes:
            assert w.quantity is not None
            self.set((w.variant.product_id, w.variant.variant_id), w.quantity, by_syncd=True)
        return [WriteOutcome(w, success=True) for w in writes]

    def walk(self, desired: dict[tuple[str, str], int]) -> Plan:
        changes = []
        for key in KEYS:
            seen = self.read(key)
            if seen != desired[key]:
                changes.append(StockChange(self.variant(key, seen), desired[key], None, True,
                                           ChangeReason.QUANTITY, None))
        return Plan(catalog=Catalog.V1, changes=tuple(changes), store_variants=len(KEYS),
                    source_rows=len(KEYS), matched=len(KEYS), managed=len(KEYS))


quantities = st.integers(0, 9)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(initial=st.lists(quantities, min_size=len(KEYS), max_size=len(KEYS)),
       desired=st.lists(quantities, min_size=len(KEYS), max_size=len(KEYS)),
       lag=st.integers(0, 2), cycles=st.integers(1, 3), crashed=st.booleans(),
       data=st.data())
def test_no_delta_is_ever_applied_twice(initial, desired, lag, cycles, crashed, data):
    asyncio.run(_run(initial, desired, lag, cycles, crashed, data))


async def _run(initial: list[int], desired_list: list[int], lag: int, cycles: int,
               crashed: bool, data: Any) -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    clock = {"now": start}
    wix = FakeWix(data, dict(zip(KEYS, initial, strict=True)), lag, clock=clock,
                  stoppable=data.draw(st.booleans(), label="stop requests"))
    desired = dict(zip(KEYS, desired_list, strict=True))
    lines: list[JournalEntry] = []
    history = OpenWrites()
    if crashed:
        # A killed run journaled deltas toward ``desired`` and sent them; each landed
        # before it died, never, or lands later (its answer was lost with the run).
        plan = wix.walk(desired)
        # Killed a moment ago (a restart) or long ago (the next day's run).
        clock["now"] = start - timedelta(seconds=data.draw(st.sampled_from([1, 3600]),
                                                           label="killed before"))
        killed = memory_journal(lines, run_id="killed", clock=lambda: clock["now"])
        entries = await killed.write_pending(
            plan.changes, deltas=[c.quantity - c.variant.quantity for c in plan.changes])
        for change, entry in zip(plan.changes, entries, strict=True):
            key = (change.variant.product_id, change.variant.variant_id)
            wix.sends[(0, key)] += 1
            assert entry.delta is not None
            wix.lose(key, entry.delta, entry.time)
        wix.advance((start - clock["now"]).total_seconds())
    stopped = False
    with patch.object(apply_deltas, "wait_unless_stopped", wix.pause), \
            patch.object(recent_writes, "wait_unless_stopped", wix.pause):
        for cycle in range(1, cycles + 1):
            wix.cycle = cycle
            wix.stopped = False
            wix.advance(1.0)
            wix.sell()
            plan = wix.walk(desired)
            journal = memory_journal(lines, run_id=f"run{cycle}", clock=lambda: clock["now"])
            first = len(lines)
            await apply_changes(plan, store=wix, journal=journal,  # type: ignore[arg-type]
                                write_mode=WriteMode.DELTA, open_writes=history,
                                stop=asyncio.Event())
            stopped = wix.stopped
            wix.sell()
            opened: dict[str, JournalEntry] = {}
            follow_open(opened, lines[first:])
            assert not opened or stopped, f"cycle {cycle} left journal lines unsettled"
    wix.advance(SETTLE_S)  # every lost call has landed by now
    assert not wix.late
    for key in KEYS:
        allowed = abs(desired[key] - initial[KEYS.index(key)]) + wix.sold[key]
        assert wix.moved[key] <= allowed, (key, wix.moved[key], allowed)
    assert all(n <= 1 for n in wix.sends.values()), wix.sends
    assert stopped or not [e for e in lines if e.outcome is Outcome.PENDING
                           and e.write_id not in {x.write_id for x in lines
                                                  if x.outcome is not Outcome.PENDING}]
