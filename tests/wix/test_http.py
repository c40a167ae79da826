"""The client's edge: headers, JSON, the status -> exception map, counting, secrets."""

from __future__ import annotations

import json

import aiohttp
import pytest
import structlog
from aioresponses import aioresponses
from yarl import URL

from support.wix import API_KEY, BASE, SITE_ID, fast_settings
from syncd.base.errors import (
    WixAuthError,
    WixClientError,
    WixConflict,
    WixForeignAnswer,
    WixNotFound,
    WixRateLimited,
    WixServerError,
    WixUnavailable,
)
from syncd.base.logs import SECRETS
from syncd.edges.wix import RequestEvent, WixClient


def _calls(mock: aioresponses, method: str, path: str) -> list:
    return mock.requests.get((method, URL(BASE + path)), [])


class TestRequests:
    async def test_request_sends_raw_key_site_id_json_and_timeout(self, client):
        with aioresponses() as mock:
            mock.post(BASE + "/x", payload={"ok": True})
            data = await client.request("POST", "/x", endpoint="x", body={"a": 1})
        assert data == {"ok": True}
        (call,) = _calls(mock, "POST", "/x")
        assert call.kwargs["headers"]["Authorization"] == API_KEY  # raw key, no "Bearer"
        assert call.kwargs["headers"]["wix-site-id"] == SITE_ID
        assert call.kwargs["json"] == {"a": 1}
        timeout = call.kwargs["timeout"]
        assert isinstance(timeout, aiohttp.ClientTimeout)
        assert timeout.total == client.settings.timeout_s

    async def test_empty_success_body_is_an_empty_object(self, client):
        with aioresponses() as mock:
            mock.patch(BASE + "/x", body="")
            assert await client.request("PATCH", "/x", endpoint="x") == {}

    async def test_client_shares_a_given_session_and_leaves_it_open(self):
        async with aiohttp.ClientSession() as session:
            async with WixClient(api_key=API_KEY, site_id=SITE_ID, session=session,
                                 settings=fast_settings()):
                pass
            assert not session.closed

    async def test_client_closes_the_session_it_opened(self):
        wix = WixClient(api_key=API_KEY, site_id=SITE_ID, settings=fast_settings())
        async with wix:
            session = wix._session
        assert session is not None and session.closed


class TestErrorMapping:
    @pytest.mark.parametrize(
        ("status", "error"),
        [
            (400, WixClientError),
            (401, WixAuthError),
            (403, WixAuthError),
            (404, WixNotFound),
            (409, WixConflict),
            (422, WixClientError),
            (428, WixConflict),
            (429, WixRateLimited),
            (500, WixServerError),
            (503, WixServerError),
            (504, WixServerError),
        ],
    )
    async def test_status_maps_to_one_exception_class(self, client, status, error):
        with aioresponses() as mock:
            mock.get(BASE + "/x", status=status, body="", repeat=True)
            with pytest.raises(error) as caught:
                await client.request("GET", "/x", endpoint="thing.get", idempotent=False)
        assert caught.value.status == status
        assert caught.value.endpoint == "thing.get"
        assert isinstance(caught.value.__cause__, aiohttp.ClientResponseError)

    async def test_application_error_code_and_message_are_parsed(self, client):
        body = {"message": "Not enough stock", "details": {"applicationError": {
            "code": "INSUFFICIENT_INVENTORY", "description": "too many", "data": {}}}}
        with aioresponses() as mock:
            mock.post(BASE + "/x", status=428, payload=body)
            with pytest.raises(WixConflict) as caught:
                await client.request("POST", "/x", endpoint="x")
        assert caught.value.code == "INSUFFICIENT_INVENTORY"
        assert "Not enough stock" in str(caught.value)

    async def test_validation_violations_are_named_in_the_message(self, client):
        body = {"message": "bad", "details": {"validationError": {"fieldViolations": [
            {"field": "query.paging.limit", "description": "must not be greater than 100"}]}}}
        with aioresponses() as mock:
            mock.post(BASE + "/x", status=400, payload=body)
            with pytest.raises(WixClientError) as caught:
                await client.request("POST", "/x", endpoint="x")
        assert "query.paging.limit: must not be greater than 100" in str(caught.value)

    async def test_long_error_body_is_truncated(self):
        async with WixClient(api_key=API_KEY, site_id=SITE_ID,
                             settings=fast_settings(error_body_max_chars=40)) as wix:
            with aioresponses() as mock:
                mock.get(BASE + "/x", status=400, body="z" * 5000)
                with pytest.raises(WixClientError) as caught:
                    await wix.request("GET", "/x", endpoint="x")
        # The excerpt is cut to error_body_max_chars; the rest names base_url and status.
        assert str(caught.value).count("z") <= 40 and len(str(caught.value)) < 160

    async def test_dropped_connection_maps_to_unavailable(self, client):
        with aioresponses() as mock:
            mock.get(BASE + "/x", exception=aiohttp.ServerDisconnectedError())
            with pytest.raises(WixUnavailable) as caught:
                await client.request("GET", "/x", endpoint="x", idempotent=False)
        assert isinstance(caught.value.__cause__, aiohttp.ServerDisconnectedError)
        assert caught.value.status is None

    @pytest.mark.parametrize(
        "failure",
        [TimeoutError(), aiohttp.ClientConnectionError("refused"),
         aiohttp.ClientPayloadError("cut")],
    )
    async def test_transport_failures_map_to_unavailable(self, client, failure):
        with aioresponses() as mock:
            mock.get(BASE + "/x", exception=failure)
            with pytest.raises(WixUnavailable):
                await client.request("GET", "/x", endpoint="x", idempotent=False)

    async def test_success_that_is_not_json_is_a_foreign_answer(self, client):
        with aioresponses() as mock:
            mock.get(BASE + "/x", body="<html>oops</html>")
            with pytest.raises(WixForeignAnswer, match="not Wix's JSON"):
                await client.request("GET", "/x", endpoint="x", idempotent=False)

    async def test_retry_after_seconds_are_carried_by_rate_limited(self, client):
        with aioresponses() as mock:
            mock.get(BASE + "/x", status=429, headers={"Retry-After": "7"})
            with pytest.raises(WixRateLimited) as caught:
                await client.request("GET", "/x", endpoint="x", idempotent=False)
        assert caught.value.retry_after_s == 7.0


class TestCounting:
    async def test_every_request_is_counted_in_total_and_per_endpoint(self, client):
        with aioresponses() as mock:
            mock.get(BASE + "/a", payload={}, repeat=True)
            mock.get(BASE + "/b", status=404)
            await client.request("GET", "/a", endpoint="a")
            await client.request("GET", "/a", endpoint="a")
            with pytest.raises(WixNotFound):
                await client.request("GET", "/b", endpoint="b")
        assert client.calls.total == 3
        assert client.calls.by_endpoint == {"a": 2, "b": 1}

    async def test_observers_see_endpoint_status_duration_and_wait(self, client):
        events: list[RequestEvent] = []
        unsubscribe = client.subscribe(events.append)
        with aioresponses() as mock:
            mock.get(BASE + "/a", payload={})
            mock.get(BASE + "/b", exception=aiohttp.ServerDisconnectedError())
            await client.request("GET", "/a", endpoint="a")
            with pytest.raises(WixUnavailable):
                await client.request("GET", "/b", endpoint="b", idempotent=False)
            unsubscribe()
            mock.get(BASE + "/a", payload={})
            await client.request("GET", "/a", endpoint="a")
        assert [(e.endpoint, e.status, e.error) for e in events] == [
            ("a", 200, None), ("b", None, "WixUnavailable")]
        assert all(e.duration_s >= 0 and e.wait_s >= 0 and e.site_id == SITE_ID for e in events)

    async def test_a_failing_observer_does_not_fail_the_request(self, client):
        def broken(event: RequestEvent) -> None:
            raise RuntimeError("metrics bug")

        client.subscribe(broken)
        with aioresponses() as mock:
            mock.get(BASE + "/a", payload={"v": 1})
            assert await client.request("GET", "/a", endpoint="a") == {"v": 1}


class TestSecrets:
    def test_repr_hides_the_api_key(self):
        wix = WixClient(api_key=API_KEY, site_id=SITE_ID, settings=fast_settings())
        assert API_KEY not in repr(wix)
        assert "hidden" in repr(wix)

    def test_api_key_is_registered_for_log_redaction(self):
        WixClient(api_key=API_KEY, site_id=SITE_ID, settings=fast_settings())
        assert SECRETS.redact(f"key={API_KEY}") == "key=[REDACTED]"

    async def test_key_never_appears_in_errors_their_chain_or_logs(self, client):
        echo = {"message": f"bad token {API_KEY}"}
        with structlog.testing.capture_logs() as logs, aioresponses() as mock:
            mock.get(BASE + "/x", status=401, payload=echo)
            mock.get(BASE + "/y", status=503, repeat=True)
            with pytest.raises(WixAuthError) as auth:
                await client.request("GET", "/x", endpoint="x")
            with pytest.raises(WixServerError) as server:
                await client.request("GET", "/y", endpoint="y")
        for caught in (auth.value, server.value):
            chain: list[BaseException] = [caught]
            while chain[-1].__cause__ is not None:
                chain.append(chain[-1].__cause__)
            for error in chain:
                assert API_KEY not in str(error)
                assert API_KEY not in repr(error)
        assert logs, "retries of the 503 should have been logged"
        assert API_KEY not in json.dumps(logs, default=str)
