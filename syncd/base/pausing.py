"""A pause that a stop request ends at once.

Retries, the wait for a lost write to settle and the second look after a write all pause
for a while and must give way to a stop (Ctrl-C, SIGTERM) without waiting the pause out.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

Sleep = Callable[[float], Awaitable[None]]


async def wait_unless_stopped(seconds: float, stop: asyncio.Event | None, *,
                              sleep: Sleep = asyncio.sleep) -> bool:
    """Wait ``seconds`` (with ``sleep``); False, at once, when ``stop`` is set before or
    during the wait, True when the wait ran out."""
    if stop is None:
        await sleep(seconds)
        return True
    if stop.is_set():
        return False
    pause = asyncio.ensure_future(sleep(seconds))
    stopper = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait((pause, stopper), return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (pause, stopper):
            task.cancel()
        for task in (pause, stopper):
            with contextlib.suppress(asyncio.CancelledError):
                await task
    return not stop.is_set()
