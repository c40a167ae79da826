"""The daemon's HTTP endpoint: ``/healthz``, ``/readyz`` and ``/metrics``.

Bound to 127.0.0.1 by default: the endpoint reveals site names and store activity, so
exposing it on a network is an explicit choice of ``http.listen``. The handlers only read
state kept by the site loops; they never touch Wix or the source, so a scrape is cheap and
cannot interfere with a cycle.

- ``/healthz``: 200 while the event loop runs (liveness; a hung loop cannot answer).
- ``/readyz``: 200 when every site had a successful cycle within ``ready_max_age_s``,
  503 otherwise; the JSON body says per site why.
- ``/metrics``: Prometheus text exposition of the process's registry.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from aiohttp import web

from syncd.daemon.health import SiteStatus, judge_readiness
from syncd.errors import ConfigError
from syncd.metrics import CONTENT_TYPE_LATEST, Metrics

DEFAULT_LISTEN = "127.0.0.1:9108"


@dataclass(frozen=True, slots=True)
class ListenAddress:
    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


DEFAULT_LISTEN_ADDRESS = ListenAddress("127.0.0.1", 9108)


def parse_listen(value: str) -> ListenAddress:
    """``host:port`` (``[v6]:port`` for IPv6) into parts; ConfigError when malformed."""
    host, sep, port_text = value.rpartition(":")
    if not sep or not host or not port_text.isdigit() or int(port_text) > 65535:
        raise ConfigError(
            f"http.listen: expected HOST:PORT such as {DEFAULT_LISTEN!r}, got {value!r}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return ListenAddress(host, int(port_text))


@dataclass(slots=True)
class HealthView:
    """What the handlers read: the current site statuses and readiness threshold.

    Mutable on purpose: a configuration reload swaps ``statuses`` and ``ready_max_age_s``
    while the server keeps running.
    """

    statuses: Callable[[], Iterable[SiteStatus]]
    ready_max_age_s: float
    started_at_s: float


def build_app(view: HealthView, *, metrics: Metrics) -> web.Application:
    """The aiohttp application serving the three endpoints."""

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response(
            {"status": "alive", "uptime_seconds": round(time.time() - view.started_at_s, 3)})

    async def readyz(request: web.Request) -> web.Response:
        verdict = judge_readiness(
            view.statuses(), max_age_s=view.ready_max_age_s, now_s=time.time())
        return web.json_response(verdict.as_json(), status=200 if verdict.ready else 503)

    async def metrics_handler(request: web.Request) -> web.Response:
        return web.Response(body=metrics.exposition(),
                            headers={"Content-Type": CONTENT_TYPE_LATEST})

    app = web.Application()
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
        """Bind and serve; raises ConfigError when the address cannot be bound."""
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._listen.host, self._listen.port)
        try:
            await site.start()
        except OSError as e:
            await self._runner.cleanup()
            raise ConfigError(
                f"http.listen: cannot listen on {self._listen}: {e.strerror or e}") from e
        host, port = self._runner.addresses[0][:2]
        self.address = ListenAddress(str(host), int(port))
        return self.address

    async def stop(self) -> None:
        await self._runner.cleanup()
