"""Retries and back-off: what is retried, after which pauses, and how a 429 slows the site."""

from __future__ import annotations

import asyncio
import random

import aiohttp
import pytest
import structlog
from aioresponses import aioresponses
from yarl import URL

from support.wix import API_KEY, BASE, SITE_ID, FakeTime, fast_settings
from syncd.base.errors import (
    WixClientError,
    WixNotFound,
    WixRateLimited,
    WixServerError,
    WixUnavailable,
)
from syncd.edges.wix import WixClient


def _count(mock: aioresponses, method: str, path: str) -> int:
    return len(mock.requests.get((method, URL(BASE + path)), []))


def _client(fake_time: FakeTime, **settings: object) -> WixClient:
    return WixClient(
        api_key=API_KEY,
        site_id=SITE_ID,
        settings=fast_settings(**settings),
        sleep=fake_time.sleep,
        clock=fake_time.clock,
    )


class TestTransientFailures:
    async def test_5xx_is_retried_on_the_configured_schedule_then_succeeds(
        self, client, fake_time
    ):
        with aioresponses() as mock:
            mock.get(BASE + "/x", status=500)
            mock.get(BASE + "/x", status=503)
            mock.get(BASE + "/x", exception=aiohttp.ServerDisconnectedError())
            mock.get(BASE + "/x", payload={"ok": 1})
            assert await client.request("GET", "/x", endpoint="x") == {"ok": 1}
        assert fake_time.sleeps == [0.5, 1.0, 2.0]
        assert client.calls.total == 4

    async def test_retries_stop_after_the_last_delay_and_raise_the_last_error(
        self, client, fake_time
    ):
        with aioresponses() as mock:
            mock.get(BASE + "/x", status=502, repeat=True)
            with pytest.raises(WixServerError) as caught:
                await client.request("GET", "/x", endpoint="x")
            assert _count(mock, "GET", "/x") == 6
        assert fake_time.sleeps == [0.5, 1.0, 2.0, 4.0, 8.0]
        assert caught.value.status == 502

    async def test_timeouts_are_retried_like_5xx(self, client, fake_time):
        with aioresponses() as mock:
            mock.get(BASE + "/x", exception=TimeoutError())
            mock.get(BASE + "/x", payload={})
            await client.request("GET", "/x", endpoint="x")
        assert fake_time.sleeps == [0.5]

    async def test_jitter_keeps_each_delay_within_its_band(self, fake_time):
        wix = WixClient(api_key=API_KEY, site_id=SITE_ID, sleep=fake_time.sleep,
                        clock=fake_time.clock, rng=random.Random(3),
                        settings=fast_settings(jitter=0.2))
        async with wix:
            with aioresponses() as mock:
                mock.get(BASE + "/x", status=500, repeat=True)
                with pytest.raises(WixServerError):
                    await wix.request("GET", "/x", endpoint="x")
        bases = [0.5, 1.0, 2.0, 4.0, 8.0]
        assert len(fake_time.sleeps) == len(bases)
        assert all(0.8 * b <= s <= 1.2 * b for s, b in zip(fake_time.sleeps, bases, strict=True))
        assert fake_time.sleeps != bases

    async def test_every_retry_is_logged_with_attempt_n_of_total(self, client):
        with structlog.testing.capture_logs() as logs, aioresponses() as mock:
            mock.get(BASE + "/x", status=500)
            mock.get(BASE + "/x", status=500)
            mock.get(BASE + "/x", payload={})
            await client.request("GET", "/x", endpoint="thing.get")
        retries = [e for e in logs if e["event"] == "wix_request_retry"]
        assert [e["attempt"] for e in retries] == ["2/6", "3/6"]
        assert all(e["endpoint"] == "thing.get" and e["status"] == 500 for e in retries)


class TestPermanentFailures:
    @pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 428])
    async def test_4xx_is_not_retried(self, client, fake_time, status):
        with aioresponses() as mock:
            mock.get(BASE + "/x", status=status, repeat=True)
            with pytest.raises(WixClientError):
                await client.request("GET", "/x", endpoint="x")
            assert _count(mock, "GET", "/x") == 1
        assert fake_time.sleeps == []

    async def test_non_idempotent_call_is_not_retried_after_5xx(self, client, fake_time):
        with aioresponses() as mock:
            mock.post(BASE + "/inc", status=503, repeat=True)
            with pytest.raises(WixServerError):
                await client.request("POST", "/inc", endpoint="inc", idempotent=False)
            assert _count(mock, "POST", "/inc") == 1
        assert fake_time.sleeps == []

    async def test_non_idempotent_call_is_not_retried_after_a_dropped_connection(self, client):
        with aioresponses() as mock:
            mock.post(BASE + "/inc", exception=aiohttp.ServerDisconnectedError(), repeat=True)
            with pytest.raises(WixUnavailable):
                await client.request("POST", "/inc", endpoint="inc", idempotent=False)
            assert _count(mock, "POST", "/inc") == 1

    async def test_non_idempotent_call_is_not_retried_after_429(self, client):
        with aioresponses() as mock:
            mock.post(BASE + "/inc", status=429, repeat=True)
            with pytest.raises(WixRateLimited):
                await client.request("POST", "/inc", endpoint="inc", idempotent=False)
            assert _count(mock, "POST", "/inc") == 1
        assert client.limiter.backoffs == 1  # the site still slows down


class TestRateLimited:
    async def test_429_is_retried_after_the_backoff_schedule(self, client, fake_time):
        with aioresponses() as mock:
            mock.get(BASE + "/x", status=429)
            mock.get(BASE + "/x", status=429)
            mock.get(BASE + "/x", payload={"ok": 1})
            assert await client.request("GET", "/x", endpoint="x") == {"ok": 1}
        # The default 429 schedule (no Retry-After): 5 s, then 10 s.
        assert fake_time.sleeps == [5.0, 10.0]
        assert client.calls.rate_limited == 2

    async def test_retry_after_is_honoured(self, client, fake_time):
        with aioresponses() as mock:
            mock.get(BASE + "/x", status=429, headers={"Retry-After": "3"})
            mock.get(BASE + "/x", payload={})
            await client.request("GET", "/x", endpoint="x")
        assert fake_time.sleeps == [3.0]

    async def test_429_makes_every_request_of_the_site_wait_and_slows_it(self, fake_time):
        async with _client(fake_time, rate_limit=100, slowdown_factor=0.5,
                           slowdown_s=30.0) as wix:
            sent_at: list[tuple[str, float]] = []

            def stamp(name: str):
                def callback(url, **kwargs):
                    sent_at.append((name, fake_time.now))
                return callback

            with aioresponses() as mock:
                mock.get(BASE + "/a", status=429, callback=stamp("a"))
                mock.get(BASE + "/a", payload={}, callback=stamp("a"))
                mock.get(BASE + "/b", payload={}, callback=stamp("b"), repeat=True)
                start = fake_time.now
                await wix.request("GET", "/a", endpoint="a")
                assert wix.limiter.current_rate == 50
                # Another endpoint of the same site, right after: it too waits for the deadline.
                fake_time.now = start + 1.0
                await wix.request("GET", "/b", endpoint="b")
                assert sent_at[-1][1] >= start + 5.0
                # After the back-off deadline plus the slow-down period, the full rate returns.
                fake_time.now = start + 5.0 + 30.0 + 0.1
                await wix.request("GET", "/b", endpoint="b")
                assert wix.limiter.current_rate == 100

    async def test_concurrent_requests_do_not_storm_after_a_429(self, fake_time):
        async with _client(fake_time) as wix:
            with aioresponses() as mock:
                mock.get(BASE + "/x", status=429)
                mock.get(BASE + "/x", payload={}, repeat=True)
                await asyncio.gather(*(wix.request("GET", "/x", endpoint="x")
                                       for _ in range(5)))
                calls = _count(mock, "GET", "/x")
        # One 429, then every request (the retry included) waits out one shared deadline.
        assert calls == 6
        assert wix.limiter.backoffs == 1
        assert fake_time.now - 1000.0 == pytest.approx(5.0)

    async def test_retries_on_429_stop_after_the_schedule(self, client):
        with aioresponses() as mock:
            mock.get(BASE + "/x", status=429, repeat=True)
            with pytest.raises(WixRateLimited):
                await client.request("GET", "/x", endpoint="x")
            assert _count(mock, "GET", "/x") == 6


class TestCancellation:
    async def test_retry_sleep_is_cancellable(self):
        wix = WixClient(api_key=API_KEY, site_id=SITE_ID,
                        settings=fast_settings(retry_delays_s=(60.0,)))
        async with wix:
            sent = asyncio.Event()
            with aioresponses() as mock:
                mock.get(BASE + "/x", status=503, repeat=True,
                         callback=lambda url, **kwargs: sent.set())
                task = asyncio.create_task(wix.request("GET", "/x", endpoint="x"),
                                           name="request under test")
                await sent.wait()
                await asyncio.sleep(0.01)  # let it reach the retry pause
                task.cancel()
                async with asyncio.timeout(1.0):
                    with pytest.raises(asyncio.CancelledError):
                        await task

    async def test_rate_backoff_wait_is_cancellable(self):
        wix = WixClient(api_key=API_KEY, site_id=SITE_ID, settings=fast_settings())
        async with wix:
            wix.limiter.back_off(60.0)
            with aioresponses() as mock:
                mock.get(BASE + "/x", payload={})
                task = asyncio.create_task(wix.request("GET", "/x", endpoint="x"),
                                           name="request under test")
                await asyncio.sleep(0.05)
                assert not task.done()
                task.cancel()
                async with asyncio.timeout(1.0):
                    with pytest.raises(asyncio.CancelledError):
                        await task
                assert _count(mock, "GET", "/x") == 0


async def test_not_found_surfaces_at_once(client, fake_time):
    with aioresponses() as mock:
        mock.get(BASE + "/x", status=404)
        with pytest.raises(WixNotFound):
            await client.request("GET", "/x", endpoint="x")
    assert fake_time.sleeps == []
