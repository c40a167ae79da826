"""A replica's lease on a site fences its client: nothing leaves once it has lapsed, not even
a request already waiting for the budget; and a client halted in one cycle (a stop, a lost
lease) sends again in the next."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from syncd.base.errors import LeaseLost, StopRequested
from syncd.cycle.site_client import halt_on
from syncd.edges.backend.fence import SiteLease
from syncd.edges.config.client import WixSettings
from syncd.edges.wix import WixClient

SITE_ID = "site-1"


@pytest.fixture
async def base() -> AsyncIterator[str]:
    """A stand-in for Wix answering ``{"ok": true}`` to anything."""

    async def ok(request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", ok)
    async with TestServer(app) as server:
        yield str(server.make_url("")).rstrip("/")


def client(base: str, **settings: object) -> WixClient:
    wix = WixSettings(base_url=base, retry_delays_s=(0.0,), rate_limited_delays_s=(0.0,),
                      **settings)  # type: ignore[arg-type]
    return WixClient(api_key="key", site_id=SITE_ID, settings=wix)


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class TestSiteLease:
    def test_a_lease_is_valid_until_its_deadline_and_not_after(self):
        clock = FakeClock()
        lease = SiteLease("shop", replica="r1", epoch=7, valid_until=105.0, clock=clock)
        lease.check()
        clock.now = 105.0
        with pytest.raises(LeaseLost, match=r"epoch 7\) not confirmed in time"):
            lease.check()

    def test_a_successful_round_moves_the_deadline_on_but_never_back(self):
        clock = FakeClock()
        lease = SiteLease("shop", replica="r1", epoch=1, valid_until=105.0, clock=clock)
        lease.extend(110.0)
        lease.extend(104.0)
        assert lease.valid_until == 110.0

    def test_an_ended_lease_stays_ended_whatever_the_rounds_say(self):
        clock = FakeClock()
        lease = SiteLease("shop", replica="r1", epoch=1, valid_until=105.0, clock=clock)
        lease.end("lease connection closed")
        lease.extend(200.0)
        with pytest.raises(LeaseLost, match="ended: lease connection closed"):
            lease.check()
        assert lease.ended == "lease connection closed"

    async def test_lapsed_returns_when_the_lease_ends_before_its_deadline(self):
        lease = SiteLease("shop", replica="r1", epoch=1, valid_until=time.monotonic() + 60)
        waiting = asyncio.create_task(lease.lapsed())
        await asyncio.sleep(0.05)
        assert not waiting.done()
        lease.end("released")
        assert "released" in await asyncio.wait_for(waiting, timeout=1)


class TestHaltScope:
    async def test_a_client_halted_in_one_cycle_sends_again_in_the_next(self, base):
        async with client(base) as wix:
            stop = asyncio.Event()
            stop.set()  # the site's loop was stopped: its lease was lost
            async with halt_on(stop, wix):
                await asyncio.sleep(0)
                with pytest.raises(StopRequested):
                    await wix.request("GET", "/x", endpoint="x")
            # the lease was taken back: a new loop, a new cycle
            async with halt_on(asyncio.Event(), wix):
                assert await wix.request("GET", "/x", endpoint="x") == {"ok": True}
        assert wix.calls.total == 1

    async def test_a_request_waiting_for_the_budget_is_not_sent_once_the_lease_lapses(
            self, base):
        async with client(base, rate_limit=1, rate_period_s=30.0, rate_margin_s=0.0) as wix:
            lease = SiteLease("shop", replica="r1", epoch=3,
                              valid_until=time.monotonic() + 0.5)
            async with halt_on(None, wix, lease=lease):
                await wix.request("PATCH", "/w", endpoint="w")
                queued = asyncio.create_task(wix.request("PATCH", "/w", endpoint="w"))
                with pytest.raises(StopRequested):
                    await asyncio.wait_for(queued, timeout=5)
        assert wix.calls.total == 1, "the queued write never went on the wire"

    async def test_every_request_checks_the_lease_right_before_it_is_sent(self, base):
        async with client(base) as wix:
            lease = SiteLease("shop", replica="r1", epoch=3, valid_until=time.monotonic() + 60)
            async with halt_on(None, wix, lease=lease):
                await wix.request("PATCH", "/w", endpoint="w")
                # lapsed, and the watcher has not run yet: the gate alone refuses
                lease.valid_until = time.monotonic() - 1
                with pytest.raises(LeaseLost):
                    await wix.request("PATCH", "/w", endpoint="w")
            assert wix.gate is None, "the gate belongs to the cycle"
        assert wix.calls.total == 1
