"""A halted client sends nothing more: requests waiting for the budget or a retry pause
give up at once, the request on the wire finishes; waits are visible while they last."""

from __future__ import annotations

import asyncio
import time

import pytest
from aioresponses import aioresponses

from support.wix import API_KEY, BASE, SITE_ID, fast_settings
from syncd.base.errors import StopRequested
from syncd.cycle.metrics import Metrics
from syncd.cycle.progress import SyncProgress, publish_progress
from syncd.edges.wix import WixClient


async def test_requests_waiting_for_the_budget_give_up_at_once_when_halted():
    settings = fast_settings(rate_limit=2, rate_period_s=30.0, rate_margin_s=0.0)
    async with WixClient(api_key=API_KEY, site_id=SITE_ID, settings=settings) as wix:
        with aioresponses() as mock:
            mock.patch(BASE + "/write", payload={}, repeat=True)
            await wix.request("PATCH", "/write", endpoint="write")
            await wix.request("PATCH", "/write", endpoint="write")
            waiting = [asyncio.create_task(wix.request("PATCH", "/write", endpoint="write"))
                       for _ in range(3)]
            await asyncio.sleep(0.2)
            assert wix.limiter.waiting == 3
            assert wix.limiter.waiting_s() >= 0.5, "waits count while they last"
            assert wix.limiter.next_slot_in_s() > 25
            halted_at = time.monotonic()
            wix.halt()
            results = await asyncio.gather(*waiting, return_exceptions=True)
            assert time.monotonic() - halted_at < 0.5
    assert all(isinstance(r, StopRequested) for r in results)
    assert wix.calls.total == 2, "nothing was sent after the halt"
    assert wix.limiter.waiting == 0


async def test_the_request_on_the_wire_finishes_after_a_halt():
    settings = fast_settings()
    async with WixClient(api_key=API_KEY, site_id=SITE_ID, settings=settings) as wix:

        async def slow(url, **kwargs):
            await asyncio.sleep(0.3)

        with aioresponses() as mock:
            mock.patch(BASE + "/write", payload={"ok": True}, callback=slow)
            task = asyncio.create_task(wix.request("PATCH", "/write", endpoint="write"))
            await asyncio.sleep(0.1)
            wix.halt()
            assert await task == {"ok": True}


async def test_a_retry_pause_ends_at_once_when_halted():
    settings = fast_settings(retry_delays_s=(30.0,))
    async with WixClient(api_key=API_KEY, site_id=SITE_ID, settings=settings) as wix:
        with aioresponses() as mock:
            mock.patch(BASE + "/write", status=503, repeat=True)
            task = asyncio.create_task(wix.request("PATCH", "/write", endpoint="write"))
            await asyncio.sleep(0.2)
            wix.halt()
            with pytest.raises(StopRequested):
                await asyncio.wait_for(task, timeout=2)
    assert wix.calls.total == 1


async def test_daemon_metrics_count_budget_waits_while_a_cycle_runs():
    metrics = Metrics()
    settings = fast_settings(rate_limit=1, rate_period_s=30.0)
    async with WixClient(api_key=API_KEY, site_id=SITE_ID, settings=settings) as wix:
        with aioresponses() as mock:
            mock.get(BASE + "/x", payload={}, repeat=True)
            await wix.request("GET", "/x", endpoint="x")
            tracker = SyncProgress("shop", wix)
            publisher = asyncio.create_task(publish_progress(tracker, metrics,
                                                             interval_s=0.1))
            waiting = asyncio.create_task(wix.request("GET", "/x", endpoint="x"))
            started = time.monotonic()
            await asyncio.sleep(1.2)
            value = metrics.registry.get_sample_value(
                "syncd_rate_limiter_wait_seconds_total", {"site": "shop"})
            assert value is not None and value >= 0.9, value
            assert time.monotonic() - started < 5
            assert metrics.registry.get_sample_value(
                "syncd_rate_limiter_waiting_requests", {"site": "shop"}) == 1
            waiting.cancel()
            publisher.cancel()
            await asyncio.gather(waiting, publisher, return_exceptions=True)
