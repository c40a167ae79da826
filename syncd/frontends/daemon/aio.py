"""Small asyncio helpers the daemon's loops share.

``wait_for_any`` lets a loop wait on several events with a deadline instead of sleeping, so
that a stop request or a new trigger cuts the wait short. Its helper tasks are named, owned
by the call and always cancelled and awaited before it returns: nothing is left running.
"""

from __future__ import annotations

import asyncio


async def wait_for_any(*events: asyncio.Event, timeout_s: float | None) -> bool:
    """Wait until one of ``events`` is set or ``timeout_s`` passes; True if an event is set."""
    if any(event.is_set() for event in events):
        return True
    if timeout_s is not None and timeout_s <= 0:
        return False
    waiters = [
        asyncio.create_task(event.wait(), name=f"wait for event #{i}")
        for i, event in enumerate(events)
    ]
    try:
        done, _ = await asyncio.wait(
            waiters, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED
        )
        return bool(done)
    finally:
        for waiter in waiters:
            waiter.cancel()
        # Await the cancelled helpers so none outlives this call (and none warns as
        # "never retrieved"); a cancellation of this call itself still propagates.
        await asyncio.gather(*waiters, return_exceptions=True)
