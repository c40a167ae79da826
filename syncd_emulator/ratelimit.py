"""Wix's request budget: by default 200 requests per 60 seconds per site.

The window is *sliding* (a log of accepted requests per site): a request is accepted when
fewer than N requests were accepted in the last S seconds. Unlike a token bucket this gives
an exact, testable rule ("request 201 inside any 60 s window is refused") and never lets a
burst above N through. Refused requests are not logged, so hammering a throttled site does
not extend its penalty. Wix documents neither the window type nor a Retry-After header.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable


class SlidingWindowLimiter:
    """At most ``limit[0]`` accepted requests in any ``limit[1]`` seconds, per key."""

    def __init__(
        self, limit: tuple[int, float] | None, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self._clock = clock
        self._log: dict[str, deque[float]] = {}

    def configure(self, limit: tuple[int, float] | None) -> None:
        """Change the limit; requests already accepted stay in the window."""
        self.limit = limit

    def allow(self, key: str) -> bool:
        """Accept (and record) one request for ``key``, or refuse it."""
        if self.limit is None:
            return True
        requests, window_s = self.limit
        now = self._clock()
        log = self._log.get(key)
        if log is None:
            log = self._log[key] = deque()
        horizon = now - window_s
        while log and log[0] <= horizon:
            log.popleft()
        if len(log) >= requests:
            return False
        log.append(now)
        return True

    def free_in_s(self, key: str) -> float:
        """Seconds until ``key`` may send again (0 when it may now)."""
        if self.limit is None:
            return 0.0
        requests, window_s = self.limit
        log = self._log.get(key)
        if not log or len(log) < requests:
            return 0.0
        return max(0.0, log[len(log) - requests] + window_s - self._clock())

    def reset(self) -> None:
        """Forget every accepted request (a fresh budget for every site)."""
        self._log.clear()
