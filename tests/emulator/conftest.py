"""A small Wix client for the emulator's own tests, over real HTTP on 127.0.0.1."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from syncd_emulator import RunningEmulator

API_KEY = "demo-key"
SITE_ID = "demo-site"
AUTH = {"Authorization": API_KEY, "wix-site-id": SITE_ID}


@dataclass
class Answer:
    """One HTTP answer: status, decoded JSON body (None when empty) and headers."""

    status: int
    body: Any
    headers: Mapping[str, str]
    raw: bytes


class Wix:
    """Calls one emulator with valid credentials unless told otherwise."""

    def __init__(self, session: aiohttp.ClientSession, emu: RunningEmulator) -> None:
        self.session = session
        self.emu = emu

    async def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
    ) -> Answer:
        async with self.session.request(
            method, self.emu.url + path, json=body, params=params,
            headers=AUTH if headers is None else headers,
        ) as response:
            raw = await response.read()
            return Answer(response.status, json.loads(raw) if raw else None,
                          response.headers, raw)

    async def get(self, path: str, **kw: Any) -> Answer:
        return await self.call("GET", path, **kw)

    async def post(self, path: str, body: Any = None, **kw: Any) -> Answer:
        return await self.call("POST", path, {} if body is None else body, **kw)

    async def patch(self, path: str, body: Any, **kw: Any) -> Answer:
        return await self.call("PATCH", path, body, **kw)

    async def sdk_get(self, path: str, request: Any) -> Answer:
        """The JS SDK's GET form: the request JSON base64-encoded in ``.r``."""
        encoded = base64.b64encode(json.dumps(request).encode()).decode()
        return await self.get(path, params={".r": encoded})

    async def query_products(self, **body: Any) -> Answer:
        """V1 Query Products with ``body`` (``query`` filter/sort given as objects are
        encoded to strings here, as a client must)."""
        query = dict(body.pop("query", {}))
        for key in ("filter", "sort"):
            if key in query and not isinstance(query[key], str):
                query[key] = json.dumps(query[key])
        return await self.post("/stores-reader/v1/products/query", {"query": query, **body})

    def rows(self, **match: Any) -> list[dict[str, Any]]:
        """State rows whose fields equal ``match``."""
        return [r for r in self.emu.state() if all(r[k] == v for k, v in match.items())]

    def row(self, **match: Any) -> dict[str, Any]:
        (found,) = self.rows(**match)
        return found


Connect = Callable[..., Awaitable[Wix]]


@pytest.fixture
async def wix(emulator: Callable[..., Awaitable[RunningEmulator]]) -> AsyncIterator[Connect]:
    """Factory: ``w = await wix(catalog="v3")``; rate limit off unless ``rate_limit`` given."""
    sessions: list[aiohttp.ClientSession] = []

    async def connect(**config: Any) -> Wix:
        config.setdefault("rate_limit", None)
        emu = await emulator(**config)
        session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        sessions.append(session)
        return Wix(session, emu)

    yield connect
    for session in sessions:
        await session.close()


@pytest.fixture
async def v1(wix: Connect) -> Wix:
    """The demo store on a Catalog V1 site."""
    return await wix(catalog="v1")


@pytest.fixture
async def v3(wix: Connect) -> Wix:
    """The demo store on a Catalog V3 site."""
    return await wix(catalog="v3")
