"""Who may look and who may act: the console token, sessions, and CSRF protection.

- No token configured: the pages are read-only, and served only when the daemon listens
  on loopback; every action is refused.
- A token configured: ``POST /ui/login`` with it opens a session (an HttpOnly,
  ``SameSite=Strict`` cookie holding a random id); each session has its own CSRF token,
  which every action form carries and every action checks. Scripts may instead send
  ``Authorization: Bearer <token>`` (a header browsers never add on their own, so it needs
  no CSRF token). On a non-loopback listener the read-only pages need a session too.

Tokens are compared in constant time; sessions live in memory (a restart logs everyone
out) and are capped in number.
"""

from __future__ import annotations

import hmac
import secrets
from collections import OrderedDict
from dataclasses import dataclass

from aiohttp import web

COOKIE = "syncd_console"
MAX_SESSIONS = 64
CSRF_FIELD = "csrf"


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who is asking: whether they may act, and the CSRF token their forms carry."""

    can_act: bool
    csrf: str
    signed_in: bool


class ConsoleAuth:
    """Token checks and sessions for one daemon."""

    def __init__(self, token: str | None, *, loopback: bool) -> None:
        self._token = token
        self.loopback = loopback
        self._sessions: OrderedDict[str, str] = OrderedDict()

    @property
    def actions_enabled(self) -> bool:
        return self._token is not None

    def check_token(self, candidate: str) -> bool:
        return self._token is not None and hmac.compare_digest(
            candidate.encode(), self._token.encode())

    def open_session(self) -> str:
        """A new session id (its CSRF token is made alongside)."""
        session = secrets.token_urlsafe(32)
        self._sessions[session] = secrets.token_urlsafe(32)
        while len(self._sessions) > MAX_SESSIONS:
            self._sessions.popitem(last=False)
        return session

    def close_session(self, request: web.Request) -> None:
        self._sessions.pop(request.cookies.get(COOKIE, ""), None)

    def viewer(self, request: web.Request) -> Viewer | None:
        """Who is asking, or None when they may not even look."""
        bearer = request.headers.get("Authorization", "")
        if bearer.startswith("Bearer ") and self.check_token(bearer[7:].strip()):
            return Viewer(can_act=True, csrf="", signed_in=True)
        csrf = self._sessions.get(request.cookies.get(COOKIE, ""))
        if csrf is not None and self._token is not None:
            return Viewer(can_act=True, csrf=csrf, signed_in=True)
        if self.loopback:
            return Viewer(can_act=False, csrf="", signed_in=False)
        return None

    def may_act(self, request: web.Request, viewer: Viewer, form_csrf: str) -> str | None:
        """None when ``viewer`` may perform an action now, else the reason they may not."""
        if not self.actions_enabled:
            return "actions are off: no console token is configured (console.token_env or " \
                   "console.token_file)"
        if not viewer.can_act:
            return "sign in with the console token first"
        if viewer.csrf and not hmac.compare_digest(form_csrf.encode(), viewer.csrf.encode()):
            return "the form is stale or was not sent by this console (CSRF check failed)"
        origin = request.headers.get("Origin")
        if origin and viewer.csrf and origin.split("://", 1)[-1] != request.host:
            return "the request came from another site (Origin check failed)"
        return None
