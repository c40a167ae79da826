"""How many cycles may run at once across every site (``max_concurrent_cycles``).

A semaphore whose limit a reload may change while cycles hold slots: loops kept across the
reload share it with the loops it starts, so the new limit applies to all of them at once.
A lower limit takes effect as cycles end (none is interrupted); a higher one lets waiting
cycles start at once. Waiting cycles get slots in the order they asked, so no site starves.
"""

from __future__ import annotations

import asyncio
import collections


class CycleSlots:
    """A resizable, first-come first-served semaphore; ``None`` means no limit."""

    def __init__(self, limit: int | None = None) -> None:
        self._limit = limit
        self._held = 0
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()

    @property
    def limit(self) -> int | None:
        return self._limit

    @property
    def held(self) -> int:
        """Slots held by running cycles (may exceed a limit lowered meanwhile)."""
        return self._held

    def resize(self, limit: int | None) -> None:
        """Change the limit; cycles already running keep their slots."""
        self._limit = limit
        self._hand_over()

    async def acquire(self) -> None:
        """Wait for a free slot (behind every cycle that asked earlier)."""
        if self._free() and not self._waiters:
            self._held += 1
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter  # resolved with the slot already counted as ours
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release()  # handed a slot while being cancelled: pass it on
            raise
        finally:
            if waiter in self._waiters:
                self._waiters.remove(waiter)

    def release(self) -> None:
        self._held -= 1
        self._hand_over()

    def _free(self) -> bool:
        return self._limit is None or self._held < self._limit

    def _hand_over(self) -> None:
        while self._waiters and self._free():
            waiter = self._waiters.popleft()
            if not waiter.done():
                self._held += 1
                waiter.set_result(None)
