"""A real HTTP feed server on 127.0.0.1 for tests: ETags, auth, hangs and cut-off bodies."""

from __future__ import annotations

import asyncio
import hashlib
import ssl
from collections import Counter
from dataclasses import dataclass, field

from aiohttp import web


@dataclass
class FeedServer:
    """Serves ``body`` at ``/stock.csv`` with a strong ETag; tests change its fields."""

    body: bytes = b"sku,quantity\n"
    token: str | None = None
    """When set, requests must send ``Authorization: Bearer <token>``."""
    hang_s: float = 0.0
    """Sleep this long before answering (a server that hangs)."""
    cut_at: int | None = None
    """Announce the whole body, send only this many bytes, then drop the connection (the
    file replaced while it was being sent)."""
    redirect_to: str | None = None
    """When set, answer every request with a redirect to this URL."""
    statuses: Counter[int] = field(default_factory=Counter)
    auth_headers: list[str] = field(default_factory=list)
    url: str = ""
    _runner: web.AppRunner | None = None

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha256(self.body).hexdigest()[:16] + '"'

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.auth_headers.append(request.headers.get("Authorization", ""))
        if self.redirect_to is not None:
            raise web.HTTPFound(self.redirect_to)
        if self.hang_s:
            await asyncio.sleep(self.hang_s)
        if self.token is not None and request.headers.get("Authorization") != (
                f"Bearer {self.token}"):
            return self._count(web.Response(status=401, text="no"))
        if request.headers.get("If-None-Match") == self.etag:
            return self._count(web.Response(status=304, headers={"ETag": self.etag}))
        if self.cut_at is not None:
            response = web.StreamResponse(status=200, headers={"ETag": self.etag})
            response.content_length = len(self.body)
            await response.prepare(request)
            await response.write(self.body[:self.cut_at])
            self.statuses[200] += 1
            assert request.transport is not None
            request.transport.close()
            return response
        return self._count(web.Response(body=self.body, headers={"ETag": self.etag}))

    async def redirect(self, request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound("/stock.csv")

    async def loop(self, request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound("/loop")

    def _count(self, response: web.Response) -> web.Response:
        self.statuses[response.status] += 1
        return response

    async def start(self, host: str = "127.0.0.1", *,
                    tls: ssl.SSLContext | None = None) -> FeedServer:
        """Listen on ``host`` (a free port), over HTTPS with ``tls``."""
        app = web.Application()
        app.router.add_get("/stock.csv", self.handle)
        app.router.add_get("/loop", self.loop)
        app.router.add_get("/moved.csv", self.redirect)
        self._runner = web.AppRunner(app, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, 0, ssl_context=tls)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"{'https' if tls else 'http'}://{host}:{port}"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
