"""How far a sync is, while it runs: for a person at a terminal, a log reader, and metrics.

``SyncProgress`` follows one cycle of one site: the walk (API calls so far), then the writes
(done of planned), and the site's rate budget (requests waiting for it, the next free slot,
an estimate of when the writes will be done). It is fed by ``SiteSync.sync``'s ``on_plan``
and ``progress`` callbacks and reads the rest from the site's Wix client when asked.

Three ways to show it, each a task the caller owns and cancels:

- ``ProgressLine``: one line on a terminal, redrawn in place only when its text
  changes (no flicker), e.g. ``site demo: 150/450 writes, 201 API calls; waiting for the
  Wix budget, next slot in 41 s, ETA 3 min``;
- ``log_progress``: a structured ``sync_progress`` log line every ``interval_s`` (10 s by
  default) when no terminal is watching;
- ``publish_progress``: the daemon's gauges and the limiter-wait counter, updated while
  a cycle runs rather than only after each request got its slot.
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass
from typing import TextIO

import structlog

from syncd.base.model import Catalog
from syncd.core.deltas import split_plan
from syncd.core.plan import Plan
from syncd.core.policy import WriteMode
from syncd.cycle.metrics import Metrics
from syncd.edges.wix import WixClient

V3_ITEMS_PER_CALL = 1000
"""Items per V3 Bulk Update call, for the estimate of write calls still to send."""

BUDGET_BOTTLENECK_S = 1.0
"""A wait for the next slot longer than this makes the budget the named bottleneck."""


@dataclass(frozen=True, slots=True)
class ProgressView:
    """One look at a running sync."""

    site: str
    writing: bool
    """False while the store is being read, True once the plan is known."""
    planned: int
    """Changes planned."""
    done: int
    """Changes settled so far (written, failed or not sent)."""
    api_calls: int
    """Requests this cycle has sent so far."""
    waiting: int
    """Requests waiting for the site's rate budget right now."""
    next_slot_s: float
    """Seconds until the budget lets the next request go."""
    eta_s: float | None
    """Rough seconds until the remaining writes can have been sent; None before the plan."""
    elapsed_s: float

    @property
    def budget_bound(self) -> bool:
        """True when requests are held back by the rate budget, not by Wix's answers."""
        return self.waiting > 0 and self.next_slot_s >= BUDGET_BOTTLENECK_S


class SyncProgress:
    """The live state of one cycle of one site."""

    def __init__(self, site: str, client: WixClient) -> None:
        self.site = site
        self.client = client
        self._started_s = time.monotonic()
        self._calls_at_start = client.calls.total
        self._calls_at_writing = 0
        self._planned_calls = 0
        self.planned = 0
        self.done = 0
        self.writing = False

    def start_writing(self, plan: Plan, write_mode: WriteMode = WriteMode.AUTO) -> None:
        """The plan is known: from now on, count writes against it (its calls as the site's
        ``write_mode`` parts it: one per product written absolutely, the deltas' calls and
        re-reads)."""
        self.writing = True
        self.planned = len(plan.changes)
        self._calls_at_writing = self.client.calls.total
        if plan.catalog is Catalog.V1:
            split = split_plan(plan, write_mode)
            self._planned_calls = split.delta_calls + len(
                {c.variant.product_id for c in split.absolute})
        else:
            self._planned_calls = math.ceil(self.planned / V3_ITEMS_PER_CALL)

    def __call__(self, done: int, total: int) -> None:
        """The applier's progress callback."""
        self.done = done
        self.planned = total

    def view(self) -> ProgressView:
        limiter = self.client.limiter
        eta: float | None = None
        if self.writing:
            sent = self.client.calls.total - self._calls_at_writing
            eta = limiter.eta_s(max(0, self._planned_calls - sent))
        return ProgressView(
            site=self.site, writing=self.writing, planned=self.planned, done=self.done,
            api_calls=self.client.calls.total - self._calls_at_start,
            waiting=limiter.waiting, next_slot_s=limiter.next_slot_in_s(), eta_s=eta,
            elapsed_s=time.monotonic() - self._started_s)


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{math.ceil(seconds)} s"
    return f"{math.ceil(seconds / 60)} min"


def progress_text(view: ProgressView) -> str:
    """The terminal line for ``view``."""
    calls = f"{view.api_calls} API call{'' if view.api_calls == 1 else 's'}"
    if not view.writing:
        text = f"site {view.site}: reading the store, {calls}"
    else:
        text = f"site {view.site}: {view.done}/{view.planned} writes, {calls}"
    if view.budget_bound:
        text += f"; waiting for the Wix budget, next slot in {_duration(view.next_slot_s)}"
    if view.eta_s is not None and view.done < view.planned:
        text += f", ETA {_duration(view.eta_s)}" if view.budget_bound else (
            f"; ETA {_duration(view.eta_s)}")
    return text


class ProgressLine:
    """The progress line on a terminal, redrawn in place only when its text changes."""

    def __init__(self, progress: SyncProgress, stream: TextIO) -> None:
        self.progress = progress
        self.stream = stream
        self._shown = ""

    def clear(self) -> None:
        """Erase the line (before other output); the next tick draws it again."""
        if self._shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._shown = ""

    def draw(self) -> None:
        """Draw the line if its text changed since last drawn."""
        text = progress_text(self.progress.view())
        if text != self._shown:
            self.stream.write("\r" + text + "\x1b[K")
            self.stream.flush()
            self._shown = text

    async def run(self, *, interval_s: float = 0.25) -> None:
        """Redraw until cancelled; the line is erased when the task ends."""
        try:
            while True:
                self.draw()
                await asyncio.sleep(interval_s)
        finally:
            self.clear()


async def log_progress(progress: SyncProgress, *, interval_s: float = 10.0) -> None:
    """Log a structured ``sync_progress`` line every ``interval_s`` until cancelled."""
    log = structlog.get_logger("syncd.cycle.progress").bind(site=progress.site)
    while True:
        await asyncio.sleep(interval_s)
        view = progress.view()
        log.info("sync_progress", phase="writing" if view.writing else "reading",
                 writes_done=view.done, writes_planned=view.planned,
                 api_calls=view.api_calls, waiting_for_budget=view.budget_bound,
                 next_slot_s=round(view.next_slot_s, 1),
                 eta_s=None if view.eta_s is None else round(view.eta_s, 1),
                 elapsed_s=round(view.elapsed_s, 1))


async def publish_progress(progress: SyncProgress, metrics: Metrics, *,
                           interval_s: float = 1.0) -> None:
    """Keep the daemon's live gauges and the limiter-wait counter current until cancelled
    (one last update is made when cancelled)."""
    limiter = progress.client.limiter
    counted = limiter.waiting_s()

    def publish() -> None:
        nonlocal counted
        view = progress.view()
        metrics.observe_progress(progress.site, planned=view.planned, done=view.done,
                                 waiting=view.waiting)
        now = limiter.waiting_s()
        metrics.observe_limiter_wait(progress.site, now - counted)
        counted = now

    try:
        while True:
            publish()
            await asyncio.sleep(interval_s)
    finally:
        publish()
