"""An approval is bound to the plan it approves; the console's state is kept by the backend.

On either backend: approving a refused plan in the console and then changing the source
before the cycle does not force the new plan (the guards refuse it, the approval is dropped
and the console says why); with the source unchanged, the approved plan is applied; and
an approval (with the console's action log) outlives the daemon's board, runner, console
and backend connection: a fresh set over the same state honours it. So does a signed-in
session, until it signs out."""

from __future__ import annotations

import asyncio
import contextlib
import html
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from support.backends import BackendUnderTest
from support.faults import API_KEY, KEY_ENV, SITE, SITE_ID, make_desired, write_site
from syncd.edges.config import Settings
from syncd.frontends.console import mount_console
from syncd.frontends.daemon.cycle import CycleKind, CycleOutcome, CycleResult
from syncd.frontends.daemon.health import SiteStatus
from syncd.frontends.daemon.runner import SyncCycleRunner, open_cycle_runner
from syncd.frontends.daemon.site_board import Board

TOKEN = "approvals-console-token-0123456789"
BEARER = {"Authorization": f"Bearer {TOKEN}"}


class Control:
    """The daemon's side of the console: cycles are run by the test itself."""

    statuses: Mapping[str, SiteStatus] = {}
    config_errors: Mapping[str, str] = {}

    def request_cycle(self, site: str, reason: str) -> bool:
        return True


@dataclass
class Daemon:
    """What a daemon holds for one site: its board, cycle runner and console."""

    settings: Settings
    board: Board
    runner: SyncCycleRunner
    http: TestClient

    async def cycle(self) -> CycleOutcome:
        return await self.runner(self.settings.sites[0], kind=CycleKind.FULL,
                                 changed_keys=None, stop=asyncio.Event())

    async def page(self) -> str:
        resp = await self.http.get(f"/ui/site/{SITE}", headers=BEARER)
        assert resp.status == 200
        return html.unescape(await resp.text())

    async def approve_shown_plan(self) -> str:
        """Approve the refused plan the site page shows, as its form does; its digest."""
        page = await self.page()
        assert 'id="refusal"' in page
        digest = page.split('name="digest" value="', 1)[-1].split('"', 1)[0] \
            if 'name="digest"' in page else ""
        resp = await self.http.post(f"/ui/site/{SITE}/approve", data={"digest": digest},
                                    headers=BEARER, allow_redirects=False)
        assert resp.status == 303, await resp.text()
        return digest


@contextlib.asynccontextmanager
async def daemon(settings: Settings) -> AsyncIterator[Daemon]:
    """A fresh board, runner, console and backend connection: a daemon (re)started."""
    board = Board()
    async with open_cycle_runner(settings, board=board) as runner:
        app = web.Application()
        mount_console(app, board=board, control=Control(), settings=settings)
        async with TestClient(TestServer(app)) as http:
            yield Daemon(settings, board, runner, http)


async def _refusing_site(emulator, tmp_path: Path, backend: BackendUnderTest
                         ) -> tuple[Settings, object, Path, dict[str, int]]:
    """A site whose source changes a third of the store, against a guard allowing 1%."""
    emu = await emulator(catalog="v1", generate_products=30, seed=7, site_id=SITE_ID,
                         api_key=API_KEY, rate_limit=None)
    desired = make_desired(emu.state(), drift=0.3, seed=7)
    files = write_site(tmp_path, url=emu.url, desired=desired)
    text = files.config.read_text().replace("max_changed_fraction: 1.0",
                                            "max_changed_fraction: 0.01")
    files.config.write_text(text + "console: {token_env: SYNCD_CONSOLE_TOKEN}\n"
                            + backend.config_lines())
    settings = Settings.from_file(files.config, env={
        KEY_ENV: API_KEY, "SYNCD_CONSOLE_TOKEN": TOKEN, **backend.env})
    return settings, emu, files.source, desired


def _stock(emu) -> dict[str, int]:
    return {str(r["sku"]): int(r["quantity"] or 0) for r in emu.state()}


async def test_an_approval_for_one_plan_does_not_force_another(
        emulator, tmp_path, backend: BackendUnderTest):
    settings, emu, source, desired = await _refusing_site(emulator, tmp_path, backend)
    before = _stock(emu)
    async with daemon(settings) as d:
        assert (await d.cycle()).result is CycleResult.REFUSED
        approved = await d.approve_shown_plan()
        # The source changes between the approval and the cycle: another plan.
        sku = next(s for s in desired if desired[s] != before[s])
        desired[sku] += 5
        source.write_text("sku,quantity\n" + "".join(f"{s},{q}\n" for s, q in desired.items()))
        outcome = await d.cycle()
        assert outcome.result is CycleResult.REFUSED
        assert emu.stats()["writes"]["calls"] == 0
        assert _stock(emu) == before
        page = await d.page()
        assert "the plan changed since it was approved" in page
        assert "approve the new plan" in page
        assert "approval_stale" in page.split('id="actions"', 1)[1]
        # The approval was dropped: the next cycle refuses too, and the page offers the
        # new plan for approval.
        assert (await d.cycle()).result is CycleResult.REFUSED
        new = (await d.page()).split('name="digest" value="', 1)[1].split('"', 1)[0]
        assert new != approved
        assert emu.stats()["writes"]["calls"] == 0


async def test_an_approval_of_the_unchanged_plan_is_applied_once(
        emulator, tmp_path, backend: BackendUnderTest):
    settings, emu, _, desired = await _refusing_site(emulator, tmp_path, backend)
    async with daemon(settings) as d:
        assert (await d.cycle()).result is CycleResult.REFUSED
        await d.approve_shown_plan()
        outcome = await d.cycle()
        assert outcome.result is CycleResult.OK and outcome.written > 0
        assert _stock(emu).items() >= desired.items()
        assert d.board.sites[SITE].runs[0].forced


async def test_an_approval_and_the_action_log_survive_a_restart(
        emulator, tmp_path, backend: BackendUnderTest):
    settings, emu, _, desired = await _refusing_site(emulator, tmp_path, backend)
    async with daemon(settings) as first:
        assert (await first.cycle()).result is CycleResult.REFUSED
        digest = await first.approve_shown_plan()
    assert emu.stats()["writes"]["calls"] == 0
    async with daemon(settings) as second:  # restarted: nothing in memory
        page = await second.page()
        actions = page.split('id="actions"', 1)[1]
        assert "approve" in actions and f"plan {digest[:12]}" in actions
        outcome = await second.cycle()
        assert outcome.result is CycleResult.OK and outcome.written > 0
        assert _stock(emu).items() >= desired.items()
        assert second.board.sites[SITE].runs[0].forced


async def test_a_signed_in_session_survives_a_restart_until_it_signs_out(
        emulator, tmp_path, backend: BackendUnderTest):
    settings, _, _, _ = await _refusing_site(emulator, tmp_path, backend)

    async def page(d: Daemon, cookie: str) -> str:
        resp = await d.http.get(f"/ui/site/{SITE}", headers={"Cookie": cookie})
        return await resp.text()

    async with daemon(settings) as first:
        resp = await first.http.post("/ui/login", data={"token": TOKEN},
                                     allow_redirects=False)
        assert resp.status == 303
        morsel = resp.cookies["syncd_console"]
        cookie = f"syncd_console={morsel.value}"
        csrf = (await page(first, cookie)).split('name="csrf" value="', 1)[1].split('"')[0]
    async with daemon(settings) as second:  # restarted: still signed in
        assert "Sign out" in await page(second, cookie)
        resp = await second.http.post(f"/ui/site/{SITE}/cycle", data={"csrf": csrf},
                                      headers={"Cookie": cookie}, allow_redirects=False)
        assert resp.status == 303
        resp = await second.http.post("/ui/logout", data={"csrf": csrf},
                                      headers={"Cookie": cookie}, allow_redirects=False)
        assert resp.status == 303
    async with daemon(settings) as third:  # signed out before the restart: stays out
        assert "Sign out" not in await page(third, cookie)
        resp = await third.http.post(f"/ui/site/{SITE}/cycle", data={"csrf": csrf},
                                     headers={"Cookie": cookie}, allow_redirects=False)
        assert resp.status == 403
    if backend.dsn is None:  # what is kept is a hash of the session's id, never the id
        kept = (tmp_path / "state" / "console-sessions.json").read_text()
        assert morsel.value not in kept


async def test_an_approval_on_one_replicas_console_is_applied_by_the_replica_holding_the_site(
        emulator, tmp_path, backend: BackendUnderTest):
    settings, emu, _, desired = await _refusing_site(emulator, tmp_path, backend)
    async with daemon(settings) as a, daemon(settings) as b:
        assert (await a.cycle()).result is CycleResult.REFUSED
        digest = await a.approve_shown_plan()
        # B never showed the plan: it runs the site's next cycle, with A's approval.
        outcome = await b.cycle()
        assert outcome.result is CycleResult.OK and outcome.written > 0
        assert _stock(emu).items() >= desired.items()
        assert f"plan {digest[:12]}" in (await b.page()).split('id="actions"', 1)[1]
