"""The console shows the same journal on either backend: its site page's journal, a SKU
page's last writes and the explanation beside them come from the configured backend, not
from a local file that a PostgreSQL replica never writes."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from support.backends import BackendUnderTest
from support.faults import API_KEY, KEY_ENV, SITE, SITE_ID, make_desired, write_site
from syncd.cycle.wiring import open_site_syncs
from syncd.edges.config import Settings
from syncd.frontends.console import mount_console
from syncd.frontends.daemon.health import SiteStatus
from syncd.frontends.daemon.site_board import Board


class Control:
    """A daemon that runs nothing: the console's pages only read."""

    statuses: Mapping[str, SiteStatus] = {}
    config_errors: Mapping[str, str] = {}

    def request_cycle(self, site: str, reason: str) -> bool:
        return False


async def _synced(emulator, tmp_path: Path, backend: BackendUnderTest
                  ) -> tuple[Settings, Board, dict[str, int], dict[str, int]]:
    """A site synced once through the configured backend, the board with its latest plan
    (made after the sync: nothing left to write), the store before, and the source."""
    emu = await emulator(catalog="v1", generate_products=30, seed=81, site_id=SITE_ID,
                         api_key=API_KEY, rate_limit=None)
    before = {str(r["sku"]): int(r["quantity"] or 0) for r in emu.state()}
    desired = make_desired(emu.state(), drift=0.1, seed=81)
    files = write_site(tmp_path, url=emu.url, desired=desired)
    files.config.write_text(files.config.read_text() + backend.config_lines())
    settings = Settings.from_file(files.config, env={KEY_ENV: API_KEY, **backend.env})
    board = Board()
    board.adopt(list(settings.sites))
    async with open_site_syncs(settings) as syncs:
        async with syncs[SITE] as site:
            result = await site.sync(stop=asyncio.Event())
            assert result.applied is not None and result.applied.complete
            board.sites[SITE].latest = await site.plan()
    return settings, board, before, desired


async def test_console_journal_sku_page_and_explain_read_the_configured_backend(
    emulator, tmp_path, backend: BackendUnderTest
):
    settings, board, before, desired = await _synced(emulator, tmp_path, backend)
    changed = sorted(sku for sku, q in desired.items() if before[sku] != q)
    assert changed
    app = web.Application()
    mount_console(app, board=board, control=Control(), settings=settings)
    async with TestClient(TestServer(app)) as http:
        site_page = await (await http.get(f"/ui/site/{SITE}")).text()
        sku = changed[0]
        sku_page = await (await http.get(f"/ui/site/{SITE}/sku/{sku}")).text()
    # Each write is one line in its latest state (its pending and applied lines together).
    assert f"Journal (latest {len(changed)} writes)" in site_page
    journal = site_page.split('id="journal"', 1)[1]
    assert all(s in journal for s in changed)
    assert journal.count("applied") == len(changed)
    # The explanation reads the same journal: the write that made the SKU what it is.
    assert "Journal (latest 1 write)" in sku_page
    writes = sku_page.split('id="journal"', 1)[1]
    assert f'<td class="num">{before[sku]}</td><td class="num">{desired[sku]}</td>' \
           "<td>applied" in writes
