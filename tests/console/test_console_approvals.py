"""Approving through the daemon's own HTTP listener approves the plan the page showed.

The site page shows the refused plan's digest and its form sends it back; a plan that
changed since the page was read is not approved (the operator is told to look again),
and the plan shown is applied once, with the approval in the console's action log."""

from __future__ import annotations

import asyncio
import html

from deploy.daemon_process import DaemonProcess

from support.console import client, console_daemon, sign_in, write_source


async def _cycles(daemon: DaemonProcess, site: str, count: int) -> list[str]:
    """The results of the site's first ``count`` cycles, once that many finished."""
    async with asyncio.timeout(30):  # polls the child's log, which has no event to await
        while True:
            results = [e["result"] for e in daemon.events
                       if e.get("event") == "cycle_finished" and e.get("site") == site]
            if len(results) >= count:
                return results
            await asyncio.sleep(0.2)


def _digest(page: str) -> str:
    return page.split('name="digest" value="', 1)[1].split('"', 1)[0]


async def test_the_console_approves_the_plan_it_showed_and_no_other(tmp_path):
    async with console_daemon(tmp_path, shop_policy={"max_changed_fraction": 0.01}) as s, \
            client() as http:
        csrf = await sign_in(http, s.url)
        async with http.get(f"{s.url}/ui/site/shop") as resp:
            shown = html.unescape(await resp.text())
        first = _digest(shown)
        assert f"Plan <code class=\"digest\">{first[:12]}</code>" in shown
        # The source changes after the page was read: the daemon refuses another plan.
        rows = {str(r["sku"]): 77 for r in s.shop.state() if r["sku"] and r["tracked"]}
        write_source(s.source, rows)
        assert await _cycles(s.daemon, "shop", 2) == ["refused", "refused"]
        async with http.post(f"{s.url}/ui/site/shop/approve",
                             data={"csrf": csrf, "digest": first},
                             allow_redirects=False) as resp:
            assert resp.status == 409
            assert "the plan changed since this page showed it" in await resp.text()
        assert s.shop.stats()["writes"]["variants"] == 0
        async with http.get(f"{s.url}/ui/site/shop") as resp:
            page = html.unescape(await resp.text())
        second = _digest(page)
        assert second != first
        async with http.post(f"{s.url}/ui/site/shop/approve",
                             data={"csrf": csrf, "digest": second},
                             allow_redirects=False) as resp:
            assert resp.status == 303
            assert second[:12] in resp.headers["Location"]
        applied = await s.daemon.wait_for("cycle_finished", site="shop", result="ok")
        assert applied["written"] > 0
        assert s.daemon.find("cycle_forced_by_approval", site="shop",
                             digest=second[:12]) is not None
        assert s.shop.stats()["writes"]["variants"] > 0
        async with http.get(f"{s.url}/ui/site/shop") as resp:
            actions = html.unescape(await resp.text()).split('id="actions"', 1)[1]
    assert f"plan {second[:12]}" in actions
    assert f"plan {first[:12]} is no longer the refused plan" in actions
