"""Fixtures shared by the Wix client tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import aioresponses.core
import pytest
from aiohttp import ClientResponse

from support.wix import API_KEY, SITE_ID, FakeTime, fast_settings
from syncd.edges.wix import WixClient


class _FinishedUpload:
    """Stands in for the request body writer of a response built by aioresponses."""

    output_size = 0


class _CompatResponse(ClientResponse):
    """aioresponses 0.7.9 does not pass ``stream_writer``, which aiohttp 3.14 requires
    (pnuckowski/aioresponses#289); supply a finished one so canned responses build."""

    def __init__(self, method: str, url: Any, **kwargs: Any) -> None:
        kwargs.setdefault("stream_writer", _FinishedUpload())
        super().__init__(method, url, **kwargs)


@pytest.fixture(autouse=True)
def _aioresponses_compat(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(aioresponses.core, "ClientResponse", _CompatResponse)
    yield


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
async def client(fake_time: FakeTime) -> AsyncIterator[WixClient]:
    async with WixClient(
        api_key=API_KEY,
        site_id=SITE_ID,
        settings=fast_settings(),
        sleep=fake_time.sleep,
        clock=fake_time.clock,
    ) as wix:
        yield wix
