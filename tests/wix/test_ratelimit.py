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


def test_a_429_under_a_cut_budget_cuts_it_again_and_in_flight_429s_do_not():
    from syncd.edges.wix.ratelimit import SiteRateLimiter

    now = [100.0]
    limiter = SiteRateLimiter(fast_settings(rate_limit=1000, rate_period_s=1.0,
                                            slowdown_factor=0.5, slowdown_s=60.0),
                              clock=lambda: now[0])
    limiter.back_off(0.2, sent_at_rate=1000)
    assert limiter.current_rate == 500
    # Refused too, but sent before the first 429 came back: no news about the new budget.
    limiter.back_off(0.2, sent_at_rate=1000)
    assert limiter.current_rate == 500
    # Sent under the cut budget and still refused: the cut was not enough.
    now[0] += 1.0
    limiter.back_off(0.2, sent_at_rate=500)
    assert limiter.current_rate == 250
    for _ in range(20):
        limiter.back_off(0.2, sent_at_rate=limiter.current_rate)
    assert limiter.current_rate == 1
    # Once the slow period is over a 429 starts from the first cut again.
    now[0] += 120.0
    limiter.back_off(0.2, sent_at_rate=1)
    assert limiter.current_rate == 500
