"""When a failed request is tried again, and after how long.

The decision is made by exception class, never by message text:

- ``WixClientError`` (4xx): permanent, raised at once.
- ``WixRateLimited`` (429): the site's limiter is told to back off (``Retry-After`` when Wix
  sent one, else the ``rate_limited_delays_s`` schedule with jitter); the retry itself then
  waits inside the limiter like every other request of the site.
- ``WixServerError`` / ``WixUnavailable``: retried after the ``retry_delays_s`` schedule.

``Retry-After`` is a hint from a server (or a proxy in front of it) whose unit Wix does not
document: ``read_retry_after`` believes seconds or an HTTP date up to
``WixSettings.retry_after_max_s`` and sets aside anything else (a value in milliseconds read
as seconds, a day, a date far ahead, a negative number), so one odd header cannot stall a
site for hours; the schedule then applies as if no header had come.

Only idempotent requests are retried at all. An increment or decrement whose answer was lost
may already have been applied, so it is surfaced to the caller, who must re-read first. Every
retry is logged as ``attempt=n/total``; the final failure is re-raised unchanged.
"""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TypeVar

import structlog

from syncd.base.errors import StopRequested, WixRateLimited, WixServerError, WixUnavailable
from syncd.base.pausing import Sleep, wait_unless_stopped
from syncd.edges.config.client import WixSettings
from syncd.edges.wix.ratelimit import SiteRateLimiter

T = TypeVar("T")


def read_retry_after(value: str | None, *, max_s: float,
                     now: datetime | None = None) -> tuple[float | None, bool]:
    """``(seconds to wait, believed)`` for a ``Retry-After`` value (pure but for ``now``).

    Delta-seconds and HTTP dates (a past date: 0) are believed up to ``max_s``. Anything
    else is not: ``(None, False)`` for a value that is too large, negative, infinite or
    neither a number nor a date. ``(None, True)`` when no header was sent.
    """
    if value is None:
        return None, True
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None, False
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
    if not math.isfinite(seconds) or seconds < 0 or seconds > max_s:
        return None, False
    return seconds, True


class RetryPolicy:
    """The delay schedules of ``WixSettings`` with jitter applied."""

    def __init__(self, settings: WixSettings, *, rng: random.Random | None = None) -> None:
        self._delays = settings.retry_delays_s
        self._rate_delays = settings.rate_limited_delays_s
        self._jitter = settings.jitter
        # The module's generator unless one is given: a Random of its own costs ~3 KB,
        # which a daemon holding ten thousand clients would pay for nothing.
        self._rng: random.Random | None = rng

    @property
    def attempts(self) -> int:
        """Attempts an idempotent request gets in total (first try plus retries)."""
        return 1 + len(self._delays)

    def delay_s(self, retry: int) -> float:
        """Pause before retry number ``retry`` (1-based) of a 5xx or transport failure."""
        return self._jittered(self._delays[retry - 1])

    def rate_limited_delay_s(self, count: int) -> float:
        """Site pause after the ``count``-th 429 of one request (1-based), without Retry-After."""
        return self._jittered(self._rate_delays[min(count, len(self._rate_delays)) - 1])

    def _jittered(self, delay_s: float) -> float:
        if not self._jitter:
            return delay_s
        return delay_s * (self._rng or random).uniform(1 - self._jitter, 1 + self._jitter)


async def call_with_retries(
    attempt: Callable[[], Awaitable[T]],
    *,
    endpoint: str,
    idempotent: bool,
    policy: RetryPolicy,
    limiter: SiteRateLimiter,
    sleep: Sleep,
    log: structlog.typing.FilteringBoundLogger,
    halted: asyncio.Event | None = None,
) -> T:
    """Run ``attempt`` until it succeeds, fails permanently, or the schedule is used up.

    Once ``halted`` is set, a pause before a retry ends at once with ``StopRequested``: the
    retry would be a new request sent after a stop."""
    total = policy.attempts if idempotent else 1
    rate_limited = 0
    for number in range(1, total + 1):
        try:
            return await attempt()
        except WixRateLimited as exc:
            rate_limited += 1
            delay = exc.retry_after_s
            if delay is None:
                delay = policy.rate_limited_delay_s(rate_limited)
            # Even a request we will not retry tells us the site is over budget.
            limiter.back_off(delay, sent_at_rate=exc.sent_at_rate)
            if number == total:
                raise
            _log_retry(log, endpoint, number + 1, total, delay, exc)
            # No sleep here: the next attempt waits in the limiter with the whole site.
        except (WixServerError, WixUnavailable) as exc:
            if number == total:
                raise
            delay = policy.delay_s(number)
            _log_retry(log, endpoint, number + 1, total, delay, exc)
            await _pause(sleep, delay, halted)
    raise AssertionError("unreachable: the last attempt returns or raises")


async def _pause(sleep: Sleep, delay_s: float, halted: asyncio.Event | None) -> None:
    if not await wait_unless_stopped(delay_s, halted, sleep=sleep):
        raise StopRequested("stop requested before a retry was sent")


def _log_retry(
    log: structlog.typing.FilteringBoundLogger,
    endpoint: str,
    number: int,
    total: int,
    delay_s: float,
    exc: Exception,
) -> None:
    log.warning(
        "wix_request_retry",
        endpoint=endpoint,
        attempt=f"{number}/{total}",
        delay_s=round(delay_s, 3),
        error=type(exc).__name__,
        status=getattr(exc, "status", None),
    )
