"""The console's routes under ``/ui/`` on the daemon's HTTP listener.

Read-only pages render what the daemon remembers (``syncd.frontends.daemon.site_board``), the live
site statuses, and the tail of each site's journal, read through the configured state backend
(``syncd.edges.backend.backend_for``: the journal files, or PostgreSQL), which the console opens on
its first page and closes with the HTTP endpoint. They never call Wix. The actions are the safe ones
only, each logged with who asked and from where, and kept in the console's action log in
the state backend (shown on each site's page, with sign-ins and sign-outs):

- ``POST /ui/site/{site}/approve``: the site's refused plan is approved, once: the form
  carries the digest of the plan the page showed (``syncd.core.plan_digest``), and the next
  full cycle applies its plan with the guards overridden only if it is that plan. The
  approval is kept by the state backend, so a restart (or, on PostgreSQL, another replica
  holding the site) honours it.
- ``POST /ui/site/{site}/cycle``: run a full cycle of the site as soon as it is free.
- ``GET /ui/site/{site}/rollback?run=ID``: a dry run of undoing a run (reads only the
  variants it touched); ``POST`` the same path to write it, between the site's cycles.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from importlib import resources
from typing import Protocol
from urllib.parse import quote

import structlog
from aiohttp import web

from syncd.base.errors import StateError, SyncdError
from syncd.core.explain import JOURNAL_FOUND, explain_sku, sku_needles
from syncd.core.journal import JournalEntry
from syncd.core.plan_digest import short_digest
from syncd.cycle.results import PlanResult
from syncd.edges.backend import StateBackend, backend_for
from syncd.edges.backend.console_state import Approval, ConsoleAction
from syncd.edges.config import Settings
from syncd.frontends.console import pages
from syncd.frontends.console.auth import CSRF_FIELD, ConsoleAuth, LoginLimiter, Viewer
from syncd.frontends.console.html import Html
from syncd.frontends.console.proxy import Proxies
from syncd.frontends.daemon.health import SiteStatus
from syncd.frontends.daemon.site_board import Board, SiteBoard

log = structlog.get_logger("syncd.frontends.console")

JOURNAL_ROWS = 50
ACTION_ROWS = 20
SESSIONS_REREAD_S = 2.0
EXPLAIN_ROWS = 10_000
EXPLAIN_READ_S = 30.0
"""The longest the SKU page waits for its read (the site's budget may be spent)."""
STATIC = {"console.css": "text/css", "console.js": "text/javascript"}


class DaemonControl(Protocol):
    """What the console needs of the daemon (``syncd.frontends.daemon.supervisor.Daemon``)."""

    @property
    def statuses(self) -> Mapping[str, SiteStatus]: ...

    @property
    def config_errors(self) -> Mapping[str, str]:
        """Sites whose file in sites_dir is invalid, and why."""
        ...

    def request_cycle(self, site: str, reason: str) -> bool: ...


def _html(body: Html, status: int = 200) -> web.Response:
    # The security headers (CSP, framing, sniffing, referrer) are the listener's, on every
    # response: syncd.frontends.daemon.http_guard.
    return web.Response(text=body, status=status, content_type="text/html",
                        headers={"Cache-Control": "no-store"})


class Console:
    """The handlers, bound to one daemon's board, control and settings."""

    def __init__(self, board: Board, control: DaemonControl, settings: Settings) -> None:
        self.board = board
        self.control = control
        self._backend = backend_for(settings)
        self._opened: StateBackend | None = None
        self._opening = asyncio.Lock()
        self._state = contextlib.AsyncExitStack()
        self._sessions_read_s = -SESSIONS_REREAD_S
        console = settings.console
        self._session_max_s = console.session_max_seconds
        token = console.token
        self.auth = ConsoleAuth(
            token.reveal() if token is not None else None,
            viewing_needs_token=console.viewing_needs_token(
                loopback=settings.http.listen.is_loopback),
            proxies=Proxies(console.trusted_proxies),
            idle_s=console.session_idle_seconds, max_s=console.session_max_seconds,
            limiter=LoginLimiter(max_failures=console.login_max_failures,
                                 window_s=console.login_window_seconds))

    def routes(self, app: web.Application) -> None:
        app.cleanup_ctx.append(self._close_backend)
        r = app.router
        r.add_get("/ui", self.home)
        r.add_get("/ui/", self.overview)
        r.add_get("/ui/static/{name}", self.static)
        r.add_get("/ui/login", self.login_form)
        r.add_post("/ui/login", self.login)
        r.add_post("/ui/logout", self.logout)
        r.add_get("/ui/site/{site}", self.site)
        r.add_get("/ui/site/{site}/sku", self.sku_search)
        r.add_get("/ui/site/{site}/sku/{sku}", self.sku)
        r.add_post("/ui/site/{site}/approve", self.approve)
        r.add_post("/ui/site/{site}/cycle", self.cycle)
        r.add_get("/ui/site/{site}/rollback", self.rollback_preview)
        r.add_post("/ui/site/{site}/rollback", self.rollback)

    # -- helpers -------------------------------------------------------------------------

    async def _close_backend(self, app: web.Application) -> AsyncIterator[None]:
        await self._load_sessions()
        yield
        await self._state.aclose()

    async def _load_sessions(self) -> None:
        """The signed-in sessions kept by the state backend (before a restart, or made by
        another replica); without them, people sign in again."""
        self._sessions_read_s = time.monotonic()
        try:
            self.auth.adopt(await (await self._state_backend()).read_sessions())
        except (web.HTTPServiceUnavailable, StateError, OSError) as exc:
            log.warning("console_sessions_not_loaded", error=str(exc))

    async def _refresh_sessions(self, request: web.Request) -> None:
        """A cookie this process does not know may be another replica's sign-in: read the
        kept sessions again (at most every ``SESSIONS_REREAD_S``)."""
        if self.auth.unknown_cookie(request) and \
                time.monotonic() - self._sessions_read_s >= SESSIONS_REREAD_S:
            await self._load_sessions()

    async def _keep_session(self, request: web.Request | None = None, *,
                            session: str | None = None, ended: list[str] | None = None) -> None:
        """Save the session (signed in, or acting: its idle time starts again), or forget
        the ``ended`` ones, in the state backend."""
        max_age_s = self._session_max_s
        try:
            backend = await self._state_backend()
            if ended is not None:
                await backend.drop_sessions(ended, max_age_s=max_age_s)
                return
            stored = self.auth.stored(request, session=session)
            if stored is not None:
                await backend.save_session(stored, max_age_s=max_age_s)
        except (web.HTTPServiceUnavailable, StateError, OSError) as exc:
            # The session works in this process; only a restart would forget it.
            log.warning("console_session_not_kept", error=str(exc))

    async def _recent(self, site: str, limit: int,
                      about: Sequence[str] | None = None) -> list[JournalEntry]:
        """The last ``limit`` entries of the site's journal, oldest first; with ``about``,
        those among them holding one of these needles (``journal_needles``)."""
        backend = await self._state_backend()
        if about is not None:
            return await backend.read_recent_about(site, about, limit=JOURNAL_FOUND,
                                                   window=limit)
        return await backend.read_recent(site, limit)

    async def _state_backend(self) -> StateBackend:
        """The configured state backend, opened on first use."""
        async with self._opening:
            if self._opened is None:
                try:
                    self._opened = await self._state.enter_async_context(self._backend)
                except (StateError, OSError) as exc:
                    log.warning("console_state_unavailable", error=str(exc))
                    raise web.HTTPServiceUnavailable(
                        text=f"syncd console: the state backend cannot be used: {exc}") from None
            return self._opened

    async def _remember(self, request: web.Request, action: str, *, allowed: bool = True,
                        detail: str = "") -> None:
        """Add one line to the console's action log (kept by the state backend)."""
        site = request.match_info.get("site")
        entry = ConsoleAction(at_s=time.time(), action=action, site=site,
                              by=self.auth.proxies.client(request), allowed=allowed,
                              detail=detail)
        try:
            await (await self._state_backend()).record_action(entry)
        except (StateError, OSError) as exc:
            # The action itself stands; only its line in the log is missing.
            log.warning("console_action_not_kept", action=action, site=site, error=str(exc))

    async def _viewer(self, request: web.Request) -> Viewer:
        await self._refresh_sessions(request)
        viewer = self.auth.viewer(request)
        if viewer is None:
            raise web.HTTPSeeOther("/ui/login") if request.path != "/ui/login" else \
                web.HTTPForbidden(text="sign in")
        return viewer

    def _board(self, request: web.Request) -> SiteBoard:
        board = self.board.sites.get(request.match_info["site"])
        if board is None:
            raise web.HTTPNotFound(text=f"no site named {request.match_info['site']}")
        return board

    async def _actor(self, request: web.Request, action: str) -> tuple[Viewer, dict[str, str]]:
        await self._refresh_sessions(request)
        viewer = self.auth.viewer(request)
        form = {k: str(v) for k, v in (await request.post()).items()}
        reason = ("sign in with the console token first" if viewer is None
                  else self.auth.may_act(request, viewer, form.get(CSRF_FIELD, "")))
        log.info("console_action", action=action, site=request.match_info.get("site"),
                 remote=self.auth.proxies.client(request), allowed=reason is None, refused=reason)
        if reason is not None or viewer is None:
            if viewer is not None:  # not every anonymous POST: those are noise
                await self._remember(request, action, allowed=False, detail=reason or "")
            raise web.HTTPForbidden(text=f"syncd console: {reason}")
        if viewer.csrf:
            await self._keep_session(request)
        return viewer, form

    # -- pages ---------------------------------------------------------------------------

    async def home(self, request: web.Request) -> web.Response:
        raise web.HTTPFound("/ui/")

    async def overview(self, request: web.Request) -> web.Response:
        viewer = await self._viewer(request)
        return _html(pages.overview(self.board.sites, self.control.statuses, viewer,
                                    now_s=time.time(),
                                    config_errors=self.control.config_errors))

    async def static(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in STATIC:
            raise web.HTTPNotFound()
        static = resources.files("syncd.frontends.console").joinpath("static", name)
        text = static.read_text("utf-8")
        return web.Response(text=text, content_type=STATIC[name],
                            headers={"Cache-Control": "max-age=300"})

    async def site(self, request: web.Request) -> web.Response:
        viewer = await self._viewer(request)
        board = self._board(request)
        journal = await self._recent(board.site.name, JOURNAL_ROWS)
        backend = await self._state_backend()
        approval = await backend.read_approval(board.site.name)
        actions = [a for a in await backend.recent_actions(ACTION_ROWS * 4)
                   if a.site in (board.site.name, None)][:ACTION_ROWS]
        return _html(pages.site_page(board, self.control.statuses.get(board.site.name),
                                     journal, viewer, now_s=time.time(),
                                     flash=request.query.get("done", ""),
                                     approval=approval, actions=actions))

    async def sku_search(self, request: web.Request) -> web.Response:
        await self._viewer(request)
        board = self._board(request)
        sku = request.query.get("sku", "").strip()
        if not sku:
            raise web.HTTPSeeOther(f"/ui/site/{board.site.name}")
        raise web.HTTPSeeOther(f"/ui/site/{board.site.name}/sku/{quote(sku, safe='')}")

    async def sku(self, request: web.Request) -> web.Response:
        viewer = await self._viewer(request)
        board = self._board(request)
        sku = request.match_info["sku"]
        latest = board.latest
        if latest is not None and not latest.snapshot.variants:
            latest = await self._read_now(board, sku, latest)
        if latest is None:
            return _html(pages.sku_page(board.site.name, sku, None, viewer))
        journal = await self._recent(board.site.name, EXPLAIN_ROWS,
                                     about=sku_needles(sku, latest.snapshot))
        explanation = explain_sku(sku, plan=latest.plan, snapshot=latest.snapshot,
                                  rows=latest.source.rows, policy=board.site.policy,
                                  journal=journal, read_at=latest.read_at)
        return _html(pages.sku_page(board.site.name, sku, explanation, viewer))

    async def _read_now(self, board: SiteBoard, sku: str,
                        latest: PlanResult) -> PlanResult | None:
        """A plan of ``sku``'s products from a read made now (the board keeps plans without
        their reads); None, and a log line saying why, when there is none to be had."""
        if self.board.explain is None:
            return None
        try:
            async with asyncio.timeout(EXPLAIN_READ_S):
                return await self.board.explain(board.site.name, sku, latest)
        except (SyncdError, TimeoutError) as exc:
            log.warning("console_sku_read_failed", site=board.site.name, sku=sku,
                        error=str(exc) or type(exc).__name__)
            return None

    async def login_form(self, request: web.Request) -> web.Response:
        viewer = self.auth.viewer(request) or Viewer(False, "", False)
        return _html(pages.login_page(viewer, enabled=self.auth.actions_enabled))

    async def login(self, request: web.Request) -> web.Response:
        form = await request.post()
        ok = self.auth.sign_in(request, str(form.get("token", "")))
        log.info("console_sign_in", remote=self.auth.proxies.client(request), allowed=ok)
        await self._remember(request, "sign_in", allowed=ok)
        if not ok:
            viewer = self.auth.viewer(request) or Viewer(False, "", False)
            return _html(pages.login_page(viewer, error="That is not the console token.",
                                          enabled=self.auth.actions_enabled), status=403)
        response = web.HTTPSeeOther("/ui/")
        session = self.auth.open_session()
        await self._keep_session(session=session)
        self.auth.set_cookie(request, response, session)
        raise response

    async def logout(self, request: web.Request) -> web.Response:
        await self._refresh_sessions(request)
        viewer = self.auth.viewer(request)
        form = await request.post()
        if viewer is not None and viewer.csrf and not hmac.compare_digest(
                str(form.get(CSRF_FIELD, "")).encode(), viewer.csrf.encode()):
            log.info("console_sign_out", remote=self.auth.proxies.client(request),
                     allowed=False)
            raise web.HTTPForbidden(text="syncd console: sign out from the console's own "
                                         "button (the CSRF check failed)")
        response = web.HTTPSeeOther("/ui/login")
        await self._keep_session(ended=self.auth.close_session(request, response))
        log.info("console_sign_out", remote=self.auth.proxies.client(request), allowed=True)
        await self._remember(request, "sign_out")
        raise response

    # -- actions -------------------------------------------------------------------------

    async def approve(self, request: web.Request) -> web.Response:
        _, form = await self._actor(request, "approve")
        board = self._board(request)
        name = board.site.name
        refused = self.board.refused_digest(name)
        digest = form.get("digest", "")
        if refused is None:
            await self._remember(request, "approve", allowed=False,
                                 detail="no refused plan was waiting")
            raise web.HTTPConflict(text="syncd console: no refused plan is waiting for "
                                        "approval")
        if not hmac.compare_digest(digest.encode(), refused.encode()):
            await self._remember(request, "approve", allowed=False,
                                 detail=f"plan {short_digest(digest) or '(none)'} is no "
                                        f"longer the refused plan ({short_digest(refused)})")
            raise web.HTTPConflict(text="syncd console: the plan changed since this page "
                                        "showed it: reload the page and approve the new plan")
        assert board.refused is not None
        by = f"console {self.auth.proxies.client(request)}"
        backend = await self._state_backend()
        await backend.grant_approval(name, Approval(
            digest=refused, by=by, at_s=time.time(), changes=len(board.refused.plan.changes)))
        self.board.approved(name)
        log.warning("approval_granted", site=name, digest=short_digest(refused),
                    changes=len(board.refused.plan.changes), approved_by=by)
        await self._remember(request, "approve",
                             detail=f"plan {short_digest(refused)}, "
                                    f"{len(board.refused.plan.changes)} change(s)")
        self.control.request_cycle(name, "console_approval")
        raise web.HTTPSeeOther(f"/ui/site/{name}?done=Approved+once%3A+the+next+cycle+applies+"
                               f"plan+{short_digest(refused)}+with+the+guards+overridden+if+"
                               "it+plans+the+same+changes.")

    async def cycle(self, request: web.Request) -> web.Response:
        await self._actor(request, "cycle")
        board = self._board(request)
        await self._remember(request, "cycle")
        self.control.request_cycle(board.site.name, "console")
        raise web.HTTPSeeOther(f"/ui/site/{board.site.name}?done=Cycle+requested.")

    async def rollback_preview(self, request: web.Request) -> web.Response:
        viewer = await self._viewer(request)
        if not viewer.can_act:
            raise web.HTTPForbidden(text="syncd console: sign in to roll back a run")
        board = self._board(request)
        return await self._rollback(request, viewer, board, request.query.get("run"),
                                    dry_run=True)

    async def rollback(self, request: web.Request) -> web.Response:
        viewer, form = await self._actor(request, "rollback")
        board = self._board(request)
        return await self._rollback(request, viewer, board, form.get("run"), dry_run=False)

    async def _rollback(self, request: web.Request, viewer: Viewer, board: SiteBoard,
                        run_id: str | None, *, dry_run: bool) -> web.Response:
        if self.board.rollback is None:
            raise web.HTTPServiceUnavailable(text="the daemon is between configurations")
        try:
            planned, applied = await self.board.rollback(board.site.name, run_id or None,
                                                         dry_run)
        except SyncdError as exc:
            raise web.HTTPConflict(text=f"syncd console: {exc}") from None
        if not dry_run:
            await self._remember(request, "rollback", detail=f"run {planned.run_id}, "
                                 f"{len(planned.plan.changes)} change(s)")
            log.warning("console_rollback_applied", site=board.site.name,
                        rolled_back_run=planned.run_id,
                        remote=self.auth.proxies.client(request),
                        changes=len(planned.plan.changes))
        return _html(pages.rollback_page(board.site.name, planned, applied, viewer))


def mount_console(app: web.Application, *, board: Board, control: DaemonControl,
                  settings: Settings) -> None:
    """Add ``/ui/`` to the daemon's HTTP application."""
    Console(board, control, settings).routes(app)
