"""How a site's Wix client is wired into a cycle: its budget, what it reports, its stop.

``key_budget`` names the budget a site shares with every site on the same API key (when
``rate_limit.shared_key`` asks for it); the observers turn the client's request events and
the informer's fallbacks into metrics; ``halt_on`` stops the client sending the moment a
stop is requested.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from syncd.config import SiteSettings
from syncd.incremental import Fallback
from syncd.metrics import Metrics
from syncd.wix import RequestEvent, WixClient


def key_budget(site: SiteSettings) -> str | None:
    """The shared budget of a site whose ``rate_limit.shared_key`` is set: named after a
    digest of its API key (never the key itself), so sites with one key share it."""
    if not site.rate_limit.shared_key:
        return None
    return hashlib.sha256(site.api_key.reveal().encode()).hexdigest()[:16]


def fallback_observer(metrics: Metrics | None, site: str) -> Callable[[Fallback], None] | None:
    if metrics is None:
        return None
    return lambda reason: metrics.observe_incremental_fallback(site, str(reason))


@asynccontextmanager
async def halt_on(stop: asyncio.Event | None, client: WixClient) -> AsyncIterator[None]:
    """Halt ``client`` (no new request leaves) as soon as ``stop`` is set."""
    if stop is None:
        yield
        return

    async def watch() -> None:
        await stop.wait()
        client.halt()

    task = asyncio.create_task(watch(), name="halt on stop")
    try:
        yield
    finally:
        task.cancel()
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
