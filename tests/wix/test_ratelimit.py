"""The site's budget: one window shared by reads and writes, and a bound on requests in flight."""

from __future__ import annotations

import asyncio

from aioresponses import aioresponses

from support.wix import API_KEY, BASE, SITE_ID, fast_settings
from syncd.edges.wix import RequestEvent, WixClient


async def test_reads_and_writes_draw_on_one_budget():
    settings = fast_settings(rate_limit=3, rate_period_s=0.3, rate_margin_s=0.0)
    events: list[RequestEvent] = []
    async with WixClient(api_key=API_KEY, site_id=SITE_ID, settings=settings) as wix:
        wix.subscribe(events.append)
        with aioresponses() as mock:
            mock.post(BASE + "/read", payload={}, repeat=True)
            mock.patch(BASE + "/write", payload={}, repeat=True)
            await wix.request("POST", "/read", endpoint="read")
            await wix.request("PATCH", "/write", endpoint="write")
            await wix.request("POST", "/read", endpoint="read")
            await wix.request("PATCH", "/write", endpoint="write")
    waits = [e.wait_s for e in events]
    assert all(w < 0.1 for w in waits[:3])
    assert waits[3] >= 0.25  # the fourth had to wait for the first to leave the window
    assert wix.limiter.waited_s >= waits[3]


async def test_no_more_than_max_in_flight_requests_run_at_once():
    settings = fast_settings(max_in_flight=3)
    running = 0
    peak = 0

    async def slow(url, **kwargs):
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.02)
        running -= 1

    async with WixClient(api_key=API_KEY, site_id=SITE_ID, settings=settings) as wix:
        with aioresponses() as mock:
            mock.get(BASE + "/x", payload={}, callback=slow, repeat=True)
            await asyncio.gather(*(wix.request("GET", "/x", endpoint="x") for _ in range(12)))
    assert peak == 3
