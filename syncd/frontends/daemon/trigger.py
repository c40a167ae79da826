"""A coalescing trigger: "run one more cycle when you can", however often it is pulled.

File changes, SIGHUP and operator requests all pull the same trigger of a site. Pulls made
while a cycle runs are remembered as one pending request, so the loop runs exactly one more
cycle after the current one, never one per pull and never two at once. The reasons are kept
only for the log line that explains why a cycle started.
"""

from __future__ import annotations

import asyncio


class Trigger:
    """A flag with reasons: ``pull`` sets it, ``take`` reads and clears it atomically.

    Atomic because asyncio runs one callback at a time: nothing can run between the read and
    the clear inside ``take``.
    """

    def __init__(self) -> None:
        self._event = asyncio.Event()
        self._reasons: set[str] = set()

    @property
    def event(self) -> asyncio.Event:
        """Set while a request is pending; for waiting alongside other events."""
        return self._event

    @property
    def pending(self) -> bool:
        """True when at least one pull has not been taken yet."""
        return self._event.is_set()

    def pull(self, reason: str) -> None:
        """Ask for one more cycle; pulls before the next ``take`` coalesce into one."""
        self._reasons.add(reason)
        self._event.set()

    def take(self) -> frozenset[str]:
        """Clear the pending request and return the reasons it gathered (empty if none)."""
        reasons = frozenset(self._reasons)
        self._reasons.clear()
        self._event.clear()
        return reasons
