"""Server hints are clamped and answers are classified by status before body.

Wix documents neither ``Retry-After`` nor its unit, and an edge proxy in front of Wix may
answer a 429 or a 5xx with an HTML page: the client must stay correct under each reading.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
import structlog
from aioresponses import aioresponses
from prometheus_client import CollectorRegistry

from support.wix import API_KEY, BASE, SITE_ID, FakeTime, fast_settings
from syncd.base.errors import WixRateLimited, WixServerError
from syncd.cycle.metrics import Metrics
from syncd.cycle.site_client import metrics_observer
from syncd.edges.wix import WixClient
from syncd.edges.wix.retry import read_retry_after

NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
HTML = "<!DOCTYPE html>\n<html><body><h1>429 Too Many Requests</h1>\n</body></html>"


class TestReadRetryAfter:
    @pytest.mark.parametrize(("value", "expected"), [
        (None, (None, True)),
        ("3", (3.0, True)),
        (" 2.5 ", (2.5, True)),
        ("0", (0.0, True)),
        ("120", (120.0, True)),
        (format_datetime(NOW + timedelta(seconds=30), usegmt=True), (30.0, True)),
        (format_datetime(NOW - timedelta(seconds=30), usegmt=True), (0.0, True)),
    ])
    def test_seconds_and_http_dates_up_to_the_cap_are_believed(self, value, expected):
        assert read_retry_after(value, max_s=120.0, now=NOW) == expected

    @pytest.mark.parametrize("value", [
        "86400",  # a day
        "1500",  # milliseconds read as seconds
        "121",
        "-5",
        "inf",
        "nan",
        "soon",
        format_datetime(NOW + timedelta(hours=3), usegmt=True),
    ])
    def test_anything_else_is_set_aside(self, value):
        assert read_retry_after(value, max_s=120.0, now=NOW) == (None, False)


def _client(fake_time: FakeTime) -> WixClient:
    return WixClient(api_key=API_KEY, site_id=SITE_ID, settings=fast_settings(),
                     sleep=fake_time.sleep, clock=fake_time.clock)


class TestHugeRetryAfter:
    @pytest.mark.parametrize("value", ["86400", "60000"])
    async def test_an_absurd_retry_after_falls_back_to_the_schedule_and_is_counted(self, value):
        fake_time = FakeTime()
        metrics = Metrics(CollectorRegistry())
        async with _client(fake_time) as wix:
            wix.subscribe(metrics_observer(metrics, "shop"))
            with aioresponses() as mock, structlog.testing.capture_logs() as logs:
                mock.get(BASE + "/x", status=429, headers={"Retry-After": value})
                mock.get(BASE + "/x", payload={"ok": 1})
                assert await wix.request("GET", "/x", endpoint="x") == {"ok": 1}
        assert fake_time.sleeps == [5.0], "the default schedule's first pause, not the hint"
        ignored = [e for e in logs if e["event"] == "wix_retry_after_ignored"]
        assert ignored and ignored[0]["retry_after"] == value
        assert metrics.registry.get_sample_value(
            "syncd_api_anomalies_total", {"site": "shop", "kind": "retry_after_ignored"}) == 1

    async def test_a_plausible_retry_after_is_not_an_anomaly(self):
        fake_time = FakeTime()
        metrics = Metrics(CollectorRegistry())
        async with _client(fake_time) as wix:
            wix.subscribe(metrics_observer(metrics, "shop"))
            with aioresponses() as mock:
                mock.get(BASE + "/x", status=429, headers={"Retry-After": "7"})
                mock.get(BASE + "/x", payload={})
                await wix.request("GET", "/x", endpoint="x")
        assert fake_time.sleeps == [7.0]
        assert metrics.registry.get_sample_value(
            "syncd_api_anomalies_total", {"site": "shop", "kind": "retry_after_ignored"}) is None


class TestStatusFirst:
    @pytest.mark.parametrize(("body", "content_type"), [
        (HTML, "text/html"), ("Too Many Requests", "text/plain"), ("", "text/plain")])
    async def test_a_429_is_a_429_whatever_its_body(self, body, content_type):
        fake_time = FakeTime()
        async with _client(fake_time) as wix:
            with aioresponses() as mock:
                mock.get(BASE + "/x", status=429, body=body, content_type=content_type,
                         headers={"Retry-After": "2"})
                mock.get(BASE + "/x", payload={"ok": 1})
                assert await wix.request("GET", "/x", endpoint="x") == {"ok": 1}
        assert fake_time.sleeps == [2.0]
        assert wix.calls.rate_limited == 1

    async def test_an_html_429_that_persists_names_the_status_on_one_line(self):
        fake_time = FakeTime()
        async with _client(fake_time) as wix:
            with aioresponses() as mock:
                mock.get(BASE + "/x", status=429, body=HTML, content_type="text/html",
                         repeat=True)
                with pytest.raises(WixRateLimited) as caught:
                    await wix.request("GET", "/x", endpoint="x")
        text = str(caught.value)
        assert "HTTP 429" in text and "\n" not in text and len(text) < 200
        assert wix.limiter.backoffs == wix.calls.total, "every 429 slowed the whole site"

    async def test_a_5xx_with_an_html_page_is_retried_as_a_5xx(self):
        fake_time = FakeTime()
        async with _client(fake_time) as wix:
            with aioresponses() as mock:
                mock.get(BASE + "/x", status=503, body=HTML, content_type="text/html")
                mock.get(BASE + "/x", payload={"ok": 1})
                assert await wix.request("GET", "/x", endpoint="x") == {"ok": 1}
        assert fake_time.sleeps == [0.5]

    async def test_a_5xx_with_plain_text_that_persists_is_a_server_error(self):
        fake_time = FakeTime()
        async with _client(fake_time) as wix:
            with aioresponses() as mock:
                mock.get(BASE + "/x", status=502, body="Bad Gateway", repeat=True,
                         content_type="text/plain")
                with pytest.raises(WixServerError) as caught:
                    await wix.request("GET", "/x", endpoint="x")
        assert caught.value.status == 502
