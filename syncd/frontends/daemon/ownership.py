"""Which of the configured sites this process may cycle: all of them, or its share.

A single daemon on a local state directory owns every site it is configured with (the
per-site lock files keep a second process out). Replicas sharing a PostgreSQL state share
the sites out instead (``syncd.edges.backend.leases``): each holds a lease per site it cycles,
and the set changes while the daemon runs, when a replica joins or leaves. The daemon
sees this protocol only.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from typing import Protocol

from syncd.edges.backend.fence import SiteLease


class Ownership(Protocol):
    """The sites this process holds, changing over time.

    Contract: a site is in ``runnable()`` only while its lease is held; a site whose lease
    is to be given up leaves ``runnable()`` first (and ``changed`` is set), and its lease is
    released only once the daemon reports, through ``stopped``, that its loop has ended, so
    that no two processes ever cycle one store at once.
    """

    changed: asyncio.Event
    """Set when ``runnable()`` may have changed; the daemon clears it."""

    def set_sites(self, names: Collection[str]) -> None:
        """The configured sites (at start-up and after each reload)."""

    def runnable(self) -> frozenset[str]:
        """The configured sites whose leases are held and not being given up."""

    def lease(self, site: str) -> SiteLease | None:
        """The current term's lease of a runnable ``site`` (None: not held). A site lost
        and taken back gets a new lease, with a new epoch: its loop is restarted."""

    async def stopped(self, running: frozenset[str]) -> None:
        """The loops of every site not in ``running`` have ended: release their leases."""

    async def run(self, stop: asyncio.Event) -> None:
        """Heartbeat and rebalance until ``stop`` is set or the task is cancelled."""
