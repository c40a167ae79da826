"""The daemon's HTTP endpoint: ``/healthz``, ``/readyz`` and ``/metrics``.

Bound to 127.0.0.1 by default: the endpoint reveals site names and store activity, so
exposing it on a network is an explicit choice of ``http.listen``. The handlers only read
state kept by the site loops; they never touch Wix or the source, so a scrape is cheap and
cannot interfere with a cycle.

- ``/healthz``: 200 while the event loop runs (liveness; a hung loop cannot answer).
- ``/readyz``: 503 once ``unready_share`` of the sites (by default all of them) have had no
  successful cycle within ``ready_max_age_s``, cannot use their source or are disabled
  by an invalid site file; 200 otherwise. The JSON body says per site why.
- ``/metrics``: Prometheus text exposition of the process's registry; the scrape first
  counts the event loop's tasks (``syncd_asyncio_tasks``).

Every request must name the listener in ``Host`` (``syncd.frontends.daemon.http_guard``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from aiohttp import web

from syncd.base.errors import ListenError
from syncd.cycle.metrics import CONTENT_TYPE_LATEST, Metrics
from syncd.edges.config import ListenAddress
from syncd.frontends.daemon.health import SiteStatus, judge_readiness
from syncd.frontends.daemon.http_guard import HostCheck, install


@dataclass(slots=True)
class HealthView:
    """What the handlers read: the current site statuses and readiness threshold.

    Mutable on purpose: a configuration reload swaps ``statuses`` and ``ready_max_age_s``
    while the server keeps running.
    """

    statuses: Callable[[], Iterable[SiteStatus]]
    ready_max_age_s: float
    started_at_s: float
    unready_share: float = 1.0
    config_errors: Callable[[], Mapping[str, str]] = dict
    """The sites whose file is invalid, and why."""


def build_app(view: HealthView, *, metrics: Metrics,
              hosts: HostCheck | None = None) -> web.Application:
    """The aiohttp application serving the three endpoints; ``hosts``: the ``Host`` names
    it answers to (None: any, for tests of the handlers alone)."""

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response(
            {"status": "alive", "uptime_seconds": round(time.time() - view.started_at_s, 3)})

    async def readyz(request: web.Request) -> web.Response:
        verdict = judge_readiness(
            view.statuses(), max_age_s=view.ready_max_age_s, now_s=time.time(),
            unready_share=view.unready_share, config_errors=view.config_errors())
        return web.json_response(verdict.as_json(), status=200 if verdict.ready else 503)

    async def metrics_handler(request: web.Request) -> web.Response:
        metrics.observe_asyncio_tasks(len(asyncio.all_tasks()))
        return web.Response(body=metrics.exposition(),
                            headers={"Content-Type": CONTENT_TYPE_LATEST})

    app = web.Application()
    if hosts is not None:
        install(app, hosts)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics_handler)
    return app


class HttpServer:
    """Starts and stops the endpoint; ``address`` is the bound one (useful with port 0)."""

    def __init__(self, app: web.Application, listen: ListenAddress) -> None:
        self._runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        self._listen = listen
        self.address: ListenAddress | None = None

    async def start(self) -> ListenAddress:
        """Bind and serve; raises ListenError when the address cannot be bound."""
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._listen.host, self._listen.port)
        try:
            await site.start()
        except OSError as e:
            await self._runner.cleanup()
            raise ListenError(
                f"http.listen: cannot listen on {self._listen}: {e.strerror or e}") from e
        host, port = self._runner.addresses[0][:2]
        self.address = ListenAddress(str(host), int(port))
        return self.address

    async def stop(self) -> None:
        await self._runner.cleanup()
