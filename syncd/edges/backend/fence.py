"""A replica's lease on one site for one ownership term: what fences its writes.

When replicas share the stores (``syncd.edges.backend.leases``), a replica that stops hearing
from PostgreSQL cannot know whether another replica has taken its stores. It must stop on
its own, before the others may take over. A ``SiteLease`` is what it checks:

- ``epoch``: the term's number in ``syncd_site_owners``; every journal insert checks in the
  same transaction that the site's owner row still names this replica and epoch
  (``syncd.edges.backend.postgres``), so a replica whose site was taken can journal nothing;
- ``valid_until``: a monotonic deadline, moved on by every lease round that succeeds (from
  the time that round *started*, plus a margin well under the TTL that the others wait for).
  The site's Wix client checks it right before each request goes on the wire, and a
  watcher halts the client the moment it passes: once the deadline is gone, not one more
  request is sent, including those already waiting for the rate budget.

A lease that ends (the lease connection died, the site was released) never becomes valid
again; the next term is a new lease with a new epoch. A lease whose deadline passed while
its lease connection stayed alive (a slow round) is valid again after the next round: its
session, and with it the site's advisory lock, was never lost.

The local backend has no leases: one process owns every site of its state directory.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

from syncd.base.errors import LeaseLost

Clock = Callable[[], float]


class SiteLease:
    """One ownership term of one site by this replica (see the module docstring)."""

    def __init__(self, site: str, *, replica: str, epoch: int, valid_until: float,
                 clock: Clock = time.monotonic) -> None:
        self.site = site
        self.replica = replica
        self.epoch = epoch
        self.valid_until = valid_until
        """``clock()`` value after which nothing may be sent for this site."""
        self._clock = clock
        self._ended: str | None = None
        self._ended_event = asyncio.Event()

    def __repr__(self) -> str:
        state = f"ended: {self._ended}" if self._ended else \
            f"valid for {self.valid_until - self._clock():.3f} s"
        return f"SiteLease({self.site!r}, replica={self.replica!r}, epoch={self.epoch}, {state})"

    @property
    def ended(self) -> str | None:
        """Why the term ended, or None while it lasts."""
        return self._ended

    def problem(self) -> str | None:
        """Why nothing may be sent now, or None."""
        if self._ended is not None:
            return f"lease of site {self.site!r} (epoch {self.epoch}) ended: {self._ended}"
        late_s = self._clock() - self.valid_until
        if late_s >= 0:
            return (f"lease of site {self.site!r} (epoch {self.epoch}) not confirmed in time: "
                    f"expired {late_s:.3f} s ago")
        return None

    def check(self) -> None:
        """Raise ``LeaseLost`` unless a request may be sent (or journaled) right now."""
        problem = self.problem()
        if problem is not None:
            raise LeaseLost(problem)

    def extend(self, until: float) -> None:
        """A lease round that started at ``until - margin`` succeeded."""
        if self._ended is None:
            self.valid_until = max(self.valid_until, until)

    def end(self, reason: str) -> None:
        """The term is over for good (lost or released)."""
        if self._ended is None:
            self._ended = reason
            self._ended_event.set()

    async def lapsed(self) -> str:
        """Wait until nothing may be sent any more; returns why."""
        while (problem := self.problem()) is None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._ended_event.wait(),
                                       timeout=max(0.0, self.valid_until - self._clock()))
        return problem
