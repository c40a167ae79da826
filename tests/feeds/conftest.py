from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.feeds.httpfeed import FeedServer


@pytest.fixture
async def feed_server() -> AsyncIterator[FeedServer]:
    server = await FeedServer(body=b"sku,quantity\nA-1,5\nB-2,7\n").start()
    try:
        yield server
    finally:
        await server.stop()
