"""The seam for sources the daemon polls instead of watching (remote feeds).

A local file is watched (``syncd.frontends.daemon.watcher``); a feed on a server is polled on its
own interval by an object built by the wiring. The supervisor only needs what this
Protocol says: prime it once, run it as a task, and learn from it when the feed changed
(``on_changed``, which re-reads the source and tells the site loops) or started or stopped
failing (``on_health``, shown by ``/readyz``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Protocol

OnChanged = Callable[[], Awaitable[None]]
OnHealth = Callable[[str | None], None]
"""Told the error that makes the feed unusable, or None once it works again."""


class Poller(Protocol):
    """A running check of one remote source."""

    @property
    def path(self) -> str:
        """How logs and task names call the source (never with credentials)."""
        ...

    @property
    def settled(self) -> asyncio.Event:
        """Always set: a feed is only ever read from a complete local copy."""
        ...

    async def prime(self) -> None:
        """Fetch once before the site loops start, so their first cycle has a copy."""
        ...

    async def run(self) -> None:
        """Poll until cancelled."""
        ...


PollerFactory = Callable[[OnChanged, OnHealth], Poller]
