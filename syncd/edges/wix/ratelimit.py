"""One site's request budget: pace, concurrency bound and 429 back-off in one place.

Wix allows 200 requests per minute per site, reads and writes together, so every request
of a site (walker pages, fallbacks, writes) passes through the same ``SiteRateLimiter``.
Pacing is asyncio-throttle's sliding window (at most ``rate_limit`` requests in any
``rate_period_s + rate_margin_s`` seconds); a semaphore bounds how many are in flight.

Wix counts a request when it *arrives*, some unknown time after we sent it. If the window
counted requests from when they were sent, a request delayed on the way (a slow network, a
busy server) would land in Wix's next window and push it over the limit. So each request
is counted from when its answer came back instead (``_ArrivalSafeThrottler``): the arrival
lies between sending and answer, so no N+1 requests can ever arrive within one window,
whatever the latency, at the cost of one round trip per window rather than a guessed
safety margin.

A 429 means the site's budget is gone, whatever our own count says (another app, a clock
skew, a shared key). The answer is never a retry storm: ``back_off`` makes *every* request of
the site wait until the back-off deadline, then lowers the window's budget for a while
before restoring it. Waiting is done with the injected ``sleep`` so it stays cancellable and
tests can observe it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import structlog
from asyncio_throttle.throttler import Throttler

from syncd.base.errors import StopRequested
from syncd.base.pausing import Sleep
from syncd.edges.config.client import WixSettings
from syncd.edges.wix.keywatch import KeyWatch

Clock = Callable[[], float]


class _ArrivalSafeThrottler(Throttler):
    """asyncio-throttle's window, with a request's stamp moved to when its answer arrived."""

    def restamp(self, sent_at: float, answered_at: float) -> None:
        """Count the request stamped ``sent_at`` from ``answered_at`` instead."""
        logs = self._task_logs
        try:
            logs.remove(sent_at)
        except ValueError:
            pass  # already out of the window: put it back, it may have arrived late
        index = len(logs)
        while index > 0 and logs[index - 1] > answered_at:
            index -= 1
        logs.insert(index, answered_at)


class SiteRateLimiter:
    """Pacing, concurrency and back-off state of one Wix site."""

    def __init__(
        self,
        settings: WixSettings,
        *,
        sleep: Sleep = asyncio.sleep,
        clock: Clock = time.monotonic,
        log: structlog.typing.FilteringBoundLogger | None = None,
    ) -> None:
        self._full_rate = settings.rate_limit
        self._slow_rate = max(1, int(settings.rate_limit * settings.slowdown_factor))
        self._slowdown_s = settings.slowdown_s
        self._slowdown_factor = settings.slowdown_factor
        self._throttler = _ArrivalSafeThrottler(
            rate_limit=settings.rate_limit,
            period=settings.rate_period_s + settings.rate_margin_s,
            retry_interval=settings.throttle_poll_s,
        )
        self._semaphore = asyncio.Semaphore(settings.max_in_flight)
        self._sleep = sleep
        self._clock = clock
        self._log = log or structlog.get_logger("syncd.edges.wix.ratelimit")
        self._paused_until = 0.0
        self._slow_until = 0.0
        self.waited_s = 0.0
        """Total seconds requests spent waiting for the budget or a back-off deadline."""
        self.backoffs = 0
        """How many 429 back-offs this site has taken."""
        self._open_waits: dict[object, float] = {}
        """When each request now waiting for a slot started waiting."""

    @property
    def current_rate(self) -> int:
        """The budget per window in force right now (lower while slowed down after a 429)."""
        return int(self._throttler.rate_limit)

    @asynccontextmanager
    async def slot(self, halted: asyncio.Event | None = None) -> AsyncIterator[float]:
        """Hold one request slot; yields the seconds spent waiting for the budget.

        A request waiting for its slot is not on the wire yet: once ``halted`` is set it
        gives up at once with ``StopRequested`` instead of waiting on.
        """
        started = self._clock()
        token = object()
        self._open_waits[token] = started
        try:
            sent_at = await self._acquire_unless_halted(halted)
        finally:
            del self._open_waits[token]
            self.waited_s += max(0.0, self._clock() - started)
        waited = max(0.0, self._clock() - started)
        try:
            yield waited
        finally:
            self._throttler.restamp(sent_at, time.monotonic())
            self._semaphore.release()

    async def _acquire(self) -> float:
        """Take the concurrency slot and a place in the window; the window stamp."""
        await self._semaphore.acquire()
        try:
            await self._wait_for_deadline()
            self._restore_rate_if_due()
            await self._throttler.acquire()  # type: ignore[no-untyped-call]
        except BaseException:
            self._semaphore.release()
            raise
        # acquire() appended our stamp and returned without yielding: it is the last.
        return float(self._throttler._task_logs[-1])

    async def _acquire_unless_halted(self, halted: asyncio.Event | None) -> float:
        if halted is None:
            return await self._acquire()
        if halted.is_set():
            raise StopRequested("stop requested before the request was sent")
        acquire = asyncio.ensure_future(self._acquire())
        stopper = asyncio.ensure_future(halted.wait())
        try:
            await asyncio.wait((acquire, stopper), return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopper.cancel()
            if not acquire.done():
                acquire.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await acquire
        if acquire.cancelled():
            raise StopRequested("stop requested before the request was sent")
        sent_at = acquire.result()
        if halted.is_set():
            # Got the slot in the same instant as the stop: give it back unused.
            self._throttler.restamp(sent_at, time.monotonic())
            self._semaphore.release()
            raise StopRequested("stop requested before the request was sent")
        return sent_at

    def waiting_s(self) -> float:
        """Seconds waited so far, including the waits still going on (for live metrics)."""
        return self.waited_s + self.open_wait_s()

    def open_wait_s(self) -> float:
        """Seconds the requests waiting right now have waited so far, summed."""
        now = self._clock()
        return sum(max(0.0, now - t) for t in self._open_waits.values())

    @property
    def waiting(self) -> int:
        """Requests waiting for a slot right now (the budget, a back-off or concurrency)."""
        return len(self._open_waits)

    def next_slot_in_s(self) -> float:
        """Seconds until the window lets another request go (0 when one could go now)."""
        pause = max(0.0, self._paused_until - self._clock())
        mono = time.monotonic()
        period = float(self._throttler.period)
        live = sorted(t for t in self._throttler._task_logs if t > mono - period)
        if len(live) < self.current_rate:
            return pause
        return max(pause, live[len(live) - self.current_rate] + period - mono)

    def eta_s(self, calls: int) -> float:
        """Rough seconds until ``calls`` more requests can have been sent under the window."""
        if calls <= 0:
            return 0.0
        mono = time.monotonic()
        period = float(self._throttler.period)
        rate = self.current_rate
        live = sorted(t for t in self._throttler._task_logs if t > mono - period)
        free = rate - len(live)
        if calls <= free:
            return max(0.0, self._paused_until - self._clock())
        k = calls - max(free, 0) - 1
        base = live[k % rate] if live and k % rate < len(live) else mono
        return max(0.0, base + period * (1 + k // rate) - mono)

    def back_off(self, delay_s: float, *, sent_at_rate: int | None = None) -> None:
        """A 429 arrived: hold every request of the site for ``delay_s``, then go slower.

        A 429 to a request sent under a budget already cut by an earlier 429
        (``sent_at_rate``: the budget when it was sent) means the cut was not enough (a
        budget configured far above the real one): the budget is cut by the same factor
        again, down to one request a window, rather than let requests take turns being
        refused until one runs out of attempts. The 429s of requests already in flight
        when the first one came cut nothing more."""
        now = self._clock()
        current = int(self._throttler.rate_limit)
        slowed = now < self._slow_until and current < self._full_rate
        if not slowed:
            rate = self._slow_rate
        elif sent_at_rate is not None and sent_at_rate <= current:
            rate = max(1, int(current * self._slowdown_factor))
        else:
            rate = current
        self._paused_until = max(self._paused_until, now + delay_s)
        self._slow_until = self._paused_until + self._slowdown_s
        self._throttler.rate_limit = rate
        self.backoffs += 1
        self._log.warning(
            "wix_rate_backoff",
            delay_s=round(delay_s, 3),
            rate_limit=rate,
            slow_for_s=round(self._slow_until - now, 3),
        )

    async def _wait_for_deadline(self) -> None:
        # A loop, not one sleep: another 429 may push the deadline while we wait.
        while (remaining := self._paused_until - self._clock()) > 0:
            await self._sleep(remaining)

    def _restore_rate_if_due(self) -> None:
        if self._throttler.rate_limit != self._full_rate and self._clock() >= self._slow_until:
            self._throttler.rate_limit = self._full_rate
            self._log.info("wix_rate_restored", rate_limit=self._full_rate)


class LimiterPool:
    """One ``SiteRateLimiter`` per store for the life of a process.

    A daemon rebuilds its clients when its configuration is reloaded; the store's budget
    must not be rebuilt with them, or a reload right after a busy minute would start from a
    full window and send up to twice what Wix allows. Keyed by the store and the budget's
    settings: a reload that changes the budget gets a new limiter.
    """

    def __init__(self) -> None:
        self._limiters: dict[tuple[object, ...], SiteRateLimiter] = {}
        self._watches: dict[str, KeyWatch] = {}

    def key_watch(self, key: str) -> KeyWatch:
        """The last answers of the sites of one API key (``key``: a digest of it, never
        the key), created on first use."""
        watch = self._watches.get(key)
        if watch is None:
            watch = self._watches[key] = KeyWatch()
        return watch

    def get(self, settings: WixSettings, site_id: str, *,
            budget: str | None = None) -> SiteRateLimiter:
        """The store's limiter, created on first use. Stores naming the same ``budget``
        (e.g. one derived from a shared API key) share one limiter instead."""
        where = (settings.base_url.rstrip("/"), site_id) if budget is None else ("budget", budget)
        key = (*where, settings.rate_limit, settings.rate_period_s, settings.rate_margin_s,
               settings.max_in_flight)
        limiter = self._limiters.get(key)
        if limiter is None:
            limiter = self._limiters[key] = SiteRateLimiter(settings)
        return limiter
