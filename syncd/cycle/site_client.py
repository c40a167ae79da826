"""How a site's Wix client is wired into a cycle: its budget, what it reports, its stop.

``key_budget`` names the budget a site shares with every site on the same API key (when
``rate_limit.shared_key`` asks for it); the observers turn the client's request events and
the informer's fallbacks into metrics; ``halt_on`` stops the client sending the moment a
stop is requested or the replica's lease on the site lapses, for one cycle.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import structlog

from syncd.cycle.incremental import Fallback
from syncd.cycle.metrics import Metrics
from syncd.edges.backend.fence import SiteLease
from syncd.edges.config import SiteSettings
from syncd.edges.wix import RequestEvent, WixClient

log = structlog.get_logger("syncd.cycle.sync")


def key_budget(site: SiteSettings) -> str | None:
    """The shared budget of a site whose ``rate_limit.shared_key`` is set: named after a
    digest of its API key (never the key itself), so sites with one key share it."""
    if not site.rate_limit.shared_key:
        return None
    return key_digest(site)


def key_digest(site: SiteSettings) -> str:
    """A digest naming the site's API key (never the key itself)."""
    return hashlib.sha256(site.api_key.reveal().encode()).hexdigest()[:16]


def fallback_observer(metrics: Metrics | None, site: str) -> Callable[[Fallback], None] | None:
    if metrics is None:
        return None
    return lambda reason: metrics.observe_incremental_fallback(site, str(reason))


@asynccontextmanager
async def halt_on(stop: asyncio.Event | None, client: WixClient, *,
                  lease: SiteLease | None = None) -> AsyncIterator[None]:
    """One cycle's hold on ``client``: it sends again (a halt of an earlier cycle is over),
    and it halts (no new request leaves) as soon as ``stop`` is set or ``lease`` lapses.
    With a ``lease``, every request also checks it right before it goes on the wire, so a
    request that waited for the budget past the lease's end is never sent (``LeaseLost``).
    """
    client.resume()
    watchers: list[asyncio.Task[None]] = []

    async def halt_when_set(event: asyncio.Event) -> None:
        await event.wait()
        client.halt()

    async def halt_when_lapsed(lease: SiteLease) -> None:
        reason = await lease.lapsed()
        log.warning("lease_lapsed_sending_stopped", site=lease.site, epoch=lease.epoch,
                    reason=reason)
        client.halt()

    if stop is not None:
        watchers.append(asyncio.create_task(halt_when_set(stop), name="halt on stop"))
    gate = client.gate
    if lease is not None:
        client.gate = lease.check
        watchers.append(asyncio.create_task(halt_when_lapsed(lease),
                                            name=f"halt on lease end {lease.site}"))
    try:
        yield
    finally:
        client.gate = gate
        for task in watchers:
            task.cancel()
        for task in watchers:
            with contextlib.suppress(asyncio.CancelledError):
                await task


def metrics_observer(metrics: Metrics, site: str) -> Callable[[RequestEvent], None]:
    api = metrics.for_site(site)

    def observe(event: RequestEvent) -> None:
        api.observe_request(event.endpoint, event.status if event.status is not None
                            else (event.error or "error"), event.duration_s)
        if event.attempt > 1:
            api.observe_retry(event.endpoint)
        if event.status == 429:
            api.observe_rate_limited()
        if event.anomaly:
            api.observe_anomaly(event.anomaly)

    return observe
