"""The loop of one site: when to run a cycle, which kind, and what to do with its outcome.

Each site gets one task running ``SiteLoop.run``. Cycles of a site run one at a time, by
construction: the loop awaits each cycle before it looks at its trigger again, and pulls
made meanwhile coalesce into one more cycle. The loop wakes for the first of:

- the schedule (a full cycle; the first one right at start-up, or for a site of a large
  fleet at its stable offset within the first period (``first_delay_s``); with
  incremental reads on, an incremental cycle, and a full one at start-up, every
  ``resync_s`` and on request),
- its trigger (a settled source change: a fast cycle for a few rows, a full one otherwise),
- the end of a failure backoff (a full cycle; triggers wait until then),
- the stop event (it returns; a cycle in flight sees the same event and winds down).

The loop never dies of a failed cycle: an exception escaping the runner is logged and
counted as a failure, and only cancellation (the end of the shutdown grace period) stops it
mid-cycle.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar

import structlog

from syncd.cycle.metrics import Metrics
from syncd.edges.backend.fence import SiteLease
from syncd.frontends.daemon.aio import wait_for_any
from syncd.frontends.daemon.backoff import Backoff
from syncd.frontends.daemon.cycle import (
    CycleKind,
    CycleOutcome,
    CycleResult,
    CycleRunner,
    NamedSite,
)
from syncd.frontends.daemon.health import SiteStatus
from syncd.frontends.daemon.schedule import Schedule, add_jitter
from syncd.frontends.daemon.slots import CycleSlots
from syncd.frontends.daemon.trigger import Trigger

log = structlog.get_logger("syncd.frontends.daemon")

SiteT = TypeVar("SiteT", bound=NamedSite)

FAST_LANE_MAX_KEYS = 50
"""Above this many changed rows a full walk is about as cheap as targeted reads: go full."""


@dataclass(frozen=True, slots=True)
class LoopOptions:
    """How a site loop schedules; built from the ``schedule`` settings."""

    schedule: Schedule
    jitter_s: float = 0.0
    fast_max_keys: int = FAST_LANE_MAX_KEYS
    full_every_s: float | None = None
    """Longest time between two full cycles, whatever the schedule says (None: no bound)."""
    incremental: bool = False
    """Scheduled cycles read only what changed; full ones run every ``resync_s``."""
    resync_s: float = 3600.0
    """With ``incremental``: longest time between two full cycles."""


def _now() -> datetime:
    return datetime.now(UTC)


class SiteLoop(Generic[SiteT]):
    """Schedules and runs the cycles of one site until the stop event is set."""

    def __init__(
        self,
        site: SiteT,
        *,
        runner: CycleRunner[SiteT],
        options: LoopOptions,
        status: SiteStatus,
        metrics: Metrics,
        backoff: Backoff | None = None,
        source_settled: asyncio.Event | None = None,
        on_outcome: Callable[[CycleOutcome], None] | None = None,
        rng: random.Random | None = None,
        clock: Callable[[], datetime] = _now,
        slots: CycleSlots | None = None,
        lease: SiteLease | None = None,
        first_delay_s: float = 0.0,
    ) -> None:
        self.site = site
        self.trigger = Trigger()
        self._runner = runner
        self._options = options
        self._status = status
        self._metrics = metrics
        self._backoff = backoff or Backoff()
        self._source_settled = source_settled
        self._on_outcome = on_outcome
        self._rng = rng
        """None: the module's generator (a Random per loop costs ~3 KB a store)."""
        self._clock = clock
        self._full_pending = True  # the start-up cycle is a full one
        self._force_next = False
        self._pending_keys: set[str] = set()
        self._slots = slots
        """Shared by every site: how many cycles may run at once across the process."""
        self.lease = lease
        """The replica's lease on the site for the term this loop runs in (replicas only):
        every cycle of the loop is fenced by it."""
        self._first_delay_s = first_delay_s
        """How long after start-up the first full cycle is due (0: at once; a fleet spreads
        its first round over one period, see ``FleetRun``)."""

    @property
    def name(self) -> str:
        return self.site.name

    @property
    def in_cycle(self) -> bool:
        """True while a cycle of this loop runs."""
        return self._status.in_cycle

    def request_full_cycle(self, reason: str) -> None:
        """Ask for a full cycle as soon as the current one (if any) ends."""
        self._full_pending = True
        self.trigger.pull(reason)

    def request_forced_cycle(self, reason: str) -> None:
        """Run one full cycle with the safety guards overridden (an approved plan)."""
        self._force_next = True
        self.request_full_cycle(reason)

    def source_changed(self, keys: frozenset[str] | None) -> None:
        """The source changed in ``keys`` (None: unknown); run a cycle after the current one."""
        if keys is None:
            self.request_full_cycle("source_changed")
            return
        self._pending_keys |= keys
        self.trigger.pull("source_changed")

    def use_source_gate(self, settled: asyncio.Event | None) -> None:
        """Follow a new source watcher's "settled" event (after a reload kept this loop)."""
        self._source_settled = settled

    async def run(self, stop: asyncio.Event) -> None:
        """Run cycles until ``stop`` is set; returns after the cycle in flight ends."""
        with structlog.contextvars.bound_contextvars(site=self.name):
            await self._loop(stop)

    async def _loop(self, stop: asyncio.Event) -> None:
        # The first full cycle runs at once, or at the site's offset when a fleet spreads it.
        next_full_due = self._clock() + timedelta(seconds=self._first_delay_s)
        next_tick: datetime | None = None  # the next incremental cycle (incremental only)
        retry_at: datetime | None = None
        log.info("site_loop_started", schedule=self._options.schedule.describe(),
                 first_cycle_in_s=round(self._first_delay_s, 3),
                 incremental=self._options.incremental,
                 resync_s=self._options.resync_s if self._options.incremental else None)
        while not stop.is_set():
            wake_at = retry_at or (min(next_full_due, next_tick) if next_tick
                                   else next_full_due)
            self._status.next_due_at_s = wake_at.timestamp()
            # While backing off, triggers stay pending but do not wake the loop: retrying
            # a failing store sooner because a file changed would defeat the backoff.
            events = (stop,) if retry_at else (stop, self.trigger.event)
            await wait_for_any(*events, timeout_s=self._seconds_until(wake_at))
            if stop.is_set():
                break
            now = self._clock()
            if retry_at is not None or now >= next_full_due:
                self._full_pending = True
            tick = next_tick is not None and now >= next_tick
            reasons = self.trigger.take()
            if not self._full_pending and not self._pending_keys and not tick:
                continue  # a pull whose work an earlier cycle already covered
            if not await self._wait_for_settled_source(stop):
                break
            scheduled = retry_at is None and (now >= next_full_due or tick)
            if self._slots is not None:
                await self._slots.acquire()
            try:
                if stop.is_set():
                    break
                kind, keys = self._next_cycle(tick=tick)
                started = self._clock()
                late_s = None
                if scheduled:
                    late_s = self._record_start_delay((started - wake_at).total_seconds())
                outcome = await self._run_cycle(kind, keys, stop=stop, reasons=reasons,
                                                late_s=late_s)
            finally:
                if self._slots is not None:
                    self._slots.release()
            if outcome.kind is CycleKind.FULL:
                next_full_due = self._next_full_due(started)
            if self._options.incremental:
                next_tick = add_jitter(self._options.schedule.next_after(started),
                                       jitter_s=self._options.jitter_s, rng=self._rng)
            retry_at = self._after_cycle(outcome, keys)
        log.info("site_loop_stopped")

    def _record_start_delay(self, delay_s: float) -> float:
        """How late a scheduled cycle started (waiting for a free slot, a busy loop)."""
        delay_s = max(0.0, delay_s)
        self._status.last_start_delay_s = delay_s
        self._metrics.observe_start_delay(self.name, delay_s)
        return delay_s

    def _next_full_due(self, started: datetime) -> datetime:
        # Counted from the start of the cycle so the cadence stays steady.
        if self._options.incremental:
            due = started + timedelta(seconds=self._options.resync_s)
        else:
            due = add_jitter(self._options.schedule.next_after(started),
                             jitter_s=self._options.jitter_s, rng=self._rng)
        if self._options.full_every_s is not None:
            due = min(due, started + timedelta(seconds=self._options.full_every_s))
        return due

    def _seconds_until(self, when: datetime) -> float:
        return max(0.0, (when - self._clock()).total_seconds())

    def _next_cycle(self, *, tick: bool = False) -> tuple[CycleKind, frozenset[str] | None]:
        """FAST for a few changed rows once a full walk has mapped the store, INCREMENTAL on
        an incremental tick (it plans the whole source, so it covers changed rows too), FULL
        otherwise."""
        keys = frozenset(self._pending_keys)
        self._pending_keys.clear()
        if (
            self._full_pending
            or not self._status.full_cycle_succeeded
            or (len(keys) > self._options.fast_max_keys and not tick)
        ):
            self._full_pending = False
            return CycleKind.FULL, None
        if tick:
            return CycleKind.INCREMENTAL, None
        return CycleKind.FAST, keys

    def _after_cycle(
        self, outcome: CycleOutcome, keys: frozenset[str] | None
    ) -> datetime | None:
        """Update backoff and pending work; returns when to retry after a failure."""
        if outcome.result is CycleResult.FAILED:
            delay_s = self._backoff.next_delay_s()
            retry_at = self._clock().timestamp() + delay_s
            self._status.retry_at_s = retry_at
            log.warning("cycle_backoff", delay_s=round(delay_s, 3),
                        consecutive_failures=self._backoff.failures)
            # The retry after a failure is a full cycle: it re-reads everything the failed
            # cycle may have left half-done, whichever kind that was.
            self._full_pending = True
            return datetime.fromtimestamp(retry_at, UTC)
        self._backoff.reset()
        self._status.retry_at_s = None
        if keys and not outcome.succeeded:
            # Refused or invalid: those rows are still owed to the store. Keep them for the
            # next cycle, without pulling the trigger (re-running now would be refused again).
            self._pending_keys |= keys
        return None

    async def _wait_for_settled_source(self, stop: asyncio.Event) -> bool:
        """Hold a cycle back while the source file is being written; False if stopping."""
        gate = self._source_settled
        if gate is None or gate.is_set():
            return True
        log.info("cycle_waits_for_source_to_settle")
        await wait_for_any(stop, gate, timeout_s=None)
        return not stop.is_set()

    async def _run_cycle(
        self,
        kind: CycleKind,
        keys: frozenset[str] | None,
        *,
        stop: asyncio.Event,
        reasons: frozenset[str],
        late_s: float | None = None,
    ) -> CycleOutcome:
        cycle_id = uuid.uuid4().hex[:12]
        with structlog.contextvars.bound_contextvars(cycle=cycle_id):
            log.info("cycle_started", kind=str(kind), reasons=sorted(reasons) or ["schedule"],
                     changed_keys=None if keys is None else len(keys),
                     late_s=None if late_s is None else round(late_s, 3))
            self._status.in_cycle = True
            started_s = time.monotonic()
            try:
                # Passed only when set: the seam lets runners leave them out.
                extra: dict[str, Any] = {}
                if self.lease is not None:
                    extra["lease"] = self.lease
                if self._force_next and kind is CycleKind.FULL:
                    self._force_next = False
                    log.warning("cycle_forced", reason="approved by syncd sync --force")
                    extra["force"] = True
                outcome = await self._runner(self.site, kind=kind, changed_keys=keys,
                                             stop=stop, **extra)
            except asyncio.CancelledError:
                log.warning("cycle_cancelled", kind=str(kind),
                            duration_s=round(time.monotonic() - started_s, 3))
                raise
            except Exception as e:
                log.exception("cycle_crashed", kind=str(kind))
                outcome = CycleOutcome(site=self.name, kind=kind, result=CycleResult.FAILED,
                                       error=f"{type(e).__name__}: {e}",
                                       summary=f"{kind} cycle crashed: {type(e).__name__}")
            finally:
                self._status.in_cycle = False
            if not outcome.duration_s:
                outcome = replace(outcome, duration_s=time.monotonic() - started_s)
            self._record(outcome)
        return outcome

    def _record(self, outcome: CycleOutcome) -> None:
        ended_s = self._clock().timestamp()
        self._status.record(outcome, ended_at_s=ended_s)
        self._metrics.observe_cycle(outcome, now_s=ended_s)
        quiet = outcome.result in (CycleResult.OK, CycleResult.SKIPPED)
        # The one summary line per cycle.
        log.log(logging.INFO if quiet else logging.WARNING, "cycle_finished",
                kind=str(outcome.kind), result=str(outcome.result), planned=outcome.planned,
                written=outcome.written, failed=outcome.failed,
                duration_s=round(outcome.duration_s, 3), summary=outcome.summary or None,
                error=outcome.error)
        if self._on_outcome is not None:
            self._on_outcome(outcome)

