"""The console over plain HTTP: who may look, who may act, and what an action does.

The browser tests (``test_console_browser.py``) drive the same pages in Chromium; these
need no browser and run everywhere.
"""

from __future__ import annotations

from support.console import TOKEN, client, console_daemon, sign_in


async def test_overview_lists_every_site_without_signing_in_on_loopback(tmp_path):
    async with console_daemon(tmp_path) as s, client() as http:
        async with http.get(f"{s.url}/ui/") as resp:
            text = await resp.text()
            assert resp.status == 200
    assert 'data-site="shop"' in text and 'data-site="outlet"' in text
    assert "<form" not in text  # read-only: no action forms


async def test_no_action_without_the_token(tmp_path):
    async with console_daemon(tmp_path) as s, client() as http:
        cycles = len([e for e in s.daemon.events if e.get("event") == "cycle_finished"])
        for path in ("/ui/site/shop/cycle", "/ui/site/shop/approve",
                     "/ui/site/shop/rollback"):
            async with http.post(f"{s.url}{path}", data={"run": "x"}) as resp:
                assert resp.status == 403, path
        async with http.get(f"{s.url}/ui/site/shop/rollback") as resp:
            assert resp.status == 403
        async with http.post(f"{s.url}/ui/login", data={"token": "wrong-token-123456789"},
                             allow_redirects=False) as resp:
            assert resp.status == 403
        assert s.daemon.find("console_action", action="cycle", allowed=False) is not None
        assert len([e for e in s.daemon.events
                    if e.get("event") == "cycle_finished"]) == cycles


async def test_an_action_needs_the_sessions_csrf_token(tmp_path):
    async with console_daemon(tmp_path) as s, client() as http:
        csrf = await sign_in(http, s.url)
        async with http.post(f"{s.url}/ui/site/shop/cycle", data={"csrf": "forged"},
                             allow_redirects=False) as resp:
            assert resp.status == 403
            assert "CSRF" in await resp.text()
        async with http.post(f"{s.url}/ui/site/shop/cycle", data={"csrf": csrf},
                             allow_redirects=False) as resp:
            assert resp.status == 303
        await s.daemon.wait_for("cycle_requested", site="shop", reason="console")
        await s.daemon.wait_for("console_action", action="cycle", allowed=True)


async def test_a_bearer_token_acts_without_a_session(tmp_path):
    async with console_daemon(tmp_path) as s, client() as http:
        async with http.post(f"{s.url}/ui/site/outlet/cycle", allow_redirects=False,
                             headers={"Authorization": f"Bearer {TOKEN}"}) as resp:
            assert resp.status == 303
        await s.daemon.wait_for("cycle_requested", site="outlet")


async def test_actions_are_off_when_no_token_is_configured(tmp_path):
    async with console_daemon(tmp_path, token=False) as s, client() as http:
        async with http.post(f"{s.url}/ui/site/shop/cycle",
                             headers={"Authorization": "Bearer anything-at-all-here"}) as resp:
            assert resp.status == 403
            assert "no console token is configured" in await resp.text()
        async with http.get(f"{s.url}/ui/site/shop") as resp:
            assert resp.status == 200  # loopback: the read-only pages stay open


async def test_views_need_the_token_when_the_listener_is_not_loopback(tmp_path):
    async with console_daemon(tmp_path, listen="0.0.0.0:0") as s, \
            client() as http:
        async with http.get(f"{s.url}/ui/site/shop", allow_redirects=False) as resp:
            assert resp.status == 303
            assert resp.headers["Location"] == "/ui/login"
        await sign_in(http, s.url)
        async with http.get(f"{s.url}/ui/site/shop") as resp:
            assert resp.status == 200
        async with http.get(f"{s.url}/metrics") as resp:
            assert resp.status == 200  # the scrape endpoints are not the console's


async def test_sku_page_explains_from_the_latest_plan(tmp_path):
    async with console_daemon(tmp_path) as s, client() as http:
        async with http.get(f"{s.url}/ui/site/shop/sku/TSHIRT-VINTAGE-L") as resp:
            text = await resp.text()
    assert resp.status == 200
    assert "2 store variants carry SKU TSHIRT-VINTAGE-L" in text
    assert "stock.csv:16" in text


def _journal_rows(page: str) -> list[str]:
    """The rows of a page's journal table."""
    section = page.split('<section id="journal">', 1)[1].split("</section>", 1)[0]
    body = section.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [row for row in body.split("<tr")[1:]]


async def test_sku_page_reads_the_skus_products_when_asked(tmp_path):
    """The board keeps plans without the store's read: the SKU page reads the SKU's
    products then. The first cycle wrote TSHIRT-RED-M (20 -> 18); a sale made since shows
    on the page, and the page's plan is the one that read it."""
    async with console_daemon(tmp_path) as s, client() as http:
        sold = next(r for r in s.shop.state() if r["sku"] == "TSHIRT-RED-M")
        assert sold["quantity"] == 18
        store = s.shop.emulator.store
        store.adjust_variant(
            store.variant(store.by_id[str(sold["product_id"])], str(sold["variant_id"])), -3)
        async with http.get(f"{s.url}/ui/site/shop/sku/TSHIRT-RED-M") as resp:
            text = await resp.text()
    assert resp.status == 200
    variants = text.split("<h2>Store variants</h2>", 1)[1].split("</table>", 1)[0]
    assert "quantity 15" in variants and "quantity 18" in variants, variants
    assert "planned before the last write" not in text
    assert 'id="planned">Planned from the read of the store at ' in text


async def test_the_journal_shows_each_write_once_with_its_latest_state(tmp_path):
    """The site page's journal has one line per write: a write's pending line and its
    outcome are one row, in its latest state, never a second "pending" row."""
    async with console_daemon(tmp_path) as s, client() as http:
        async with http.get(f"{s.url}/ui/site/shop") as resp:
            text = await resp.text()
    assert resp.status == 200
    rows = _journal_rows(text)
    red = [r for r in rows if "<td>TSHIRT-RED-M</td>" in r]
    assert len(red) == 1, red
    assert "<td>applied" in red[0]
    assert not [r for r in rows if "<td>pending" in r]
    assert 'Journal (latest 14 writes)' in text  # the demo's first sync: 14 writes

