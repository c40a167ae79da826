"""The overview and a site's summary: failing stores first, charts only once there is a trend,
and whether the latest plan reached the store."""

from __future__ import annotations

import asyncio
import re

import pytest

from support.console import TOKEN, client, console_daemon
from syncd.cycle.results import CycleKind
from syncd.frontends.console.pages import applied_state
from syncd.frontends.daemon.cycle import CycleOutcome, CycleResult

SYNCED_OUTLET = {"max_changed_fraction": 1.0}
"""``outlet`` changes its one variant: the default guard would refuse that."""


async def _page(url: str) -> str:
    async with client() as http, http.get(url) as resp:
        assert resp.status == 200
        return await resp.text()


async def test_a_failing_store_is_listed_first(tmp_path):
    async with console_daemon(tmp_path, shop_key="not-the-stores-key",
                              outlet_policy=SYNCED_OUTLET) as s:
        assert s.daemon.find("cycle_finished", site="outlet", result="ok") is not None
        assert s.daemon.find("cycle_finished", site="shop", result="failed") is not None
        text = await _page(f"{s.url}/ui/")
    assert re.findall(r'data-site="(\w+)"', text) == ["shop", "outlet"]


async def test_stores_that_do_not_fail_keep_their_order(tmp_path):
    async with console_daemon(tmp_path, outlet_policy=SYNCED_OUTLET) as s:
        text = await _page(f"{s.url}/ui/")
    assert re.findall(r'data-site="(\w+)"', text) == ["outlet", "shop"]


async def test_charts_wait_for_a_second_cycle(tmp_path):
    async with console_daemon(tmp_path) as s:
        text = await _page(f"{s.url}/ui/site/outlet")
        assert text.count("not enough cycles yet") == 3
        assert "<rect" not in text
        async with client() as http, http.post(
                f"{s.url}/ui/site/outlet/cycle", allow_redirects=False,
                headers={"Authorization": f"Bearer {TOKEN}"}) as resp:
            assert resp.status == 303
        await s.daemon.wait_for("cycle_requested", site="outlet")
        async with asyncio.timeout(30):  # polls the child's log for a second cycle
            while len([e for e in s.daemon.events if e.get("event") == "cycle_finished"  # noqa: ASYNC110
                       and e.get("site") == "outlet"]) < 2:
                await asyncio.sleep(0.1)
        text = await _page(f"{s.url}/ui/site/outlet")
    assert "not enough cycles yet" not in text
    assert text.count("<svg") == 3


async def test_the_latest_plan_says_it_was_applied(tmp_path):
    async with console_daemon(tmp_path) as s:
        text = await _page(f"{s.url}/ui/site/shop")
    applied = text.split('id="plan-applied">', 1)[1].split("</p>", 1)[0]
    assert ">Applied</span>" in applied and "14 of 14 written, 0 failed" in applied


async def test_a_refused_plan_says_it_was_not_applied(tmp_path):
    async with console_daemon(tmp_path, shop_policy={"max_changed_fraction": 0.01}) as s:
        text = await _page(f"{s.url}/ui/site/shop")
    applied = text.split('id="plan-applied">', 1)[1].split("</p>", 1)[0]
    assert ">Not applied</span>" in applied and "refused" in applied


@pytest.mark.parametrize(("result", "planned", "written", "failed", "label"), [
    (CycleResult.OK, 3, 3, 0, "Applied"),
    (CycleResult.OK, 0, 0, 0, "Applied"),
    (CycleResult.FAILED, 3, 1, 2, "Applied in part"),
    (CycleResult.SKIPPED, 3, 2, 0, "Applied in part"),
    (CycleResult.FAILED, 3, 0, 3, "Not applied"),
    (CycleResult.REFUSED, 3, 0, 0, "Not applied"),
])
def test_whether_a_plan_was_applied_follows_its_cycles_writes(result, planned, written,
                                                              failed, label):
    outcome = CycleOutcome("shop", CycleKind.FULL, result, planned=planned, written=written,
                           failed=failed)
    assert applied_state(outcome)[1] == label
