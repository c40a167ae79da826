"""Who may look and who may act: the console token, sessions, and CSRF protection.

- No token configured: the pages are read-only (served only while viewing needs no token),
  and every action is refused.
- A token configured: ``POST /ui/login`` with it opens a session (an HttpOnly,
  ``SameSite=Strict`` cookie holding a random id; ``Secure`` and named with the ``__Host-``
  prefix when the browser came over HTTPS, directly or through a trusted proxy). Each session
  has its own CSRF token, which every action form, and the sign-out form, carries and every
  action checks. Scripts may instead send ``Authorization: Bearer <token>`` (a header
  browsers never add on their own, so it needs no CSRF token).
- ``console.require_token_for_viewing`` (by default: off loopback, or behind a proxy): the
  read-only pages need a session too.

A session ends when unused for ``session_idle_seconds`` or ``session_max_seconds`` after it
was opened, whichever comes first. A client that sent ``login_max_failures`` wrong tokens
within ``login_window_seconds`` gets 429 until the oldest of them leaves the window, whether
it tries the sign-in form or a Bearer header.

Tokens are compared in constant time; sessions are capped in number, as are the clients
whose failures are remembered. Sessions are kept in memory and, through the state backend,
as ``StoredSession`` records (``syncd.frontends.console.app`` saves and loads them): only a
SHA-256 of a session's id is stored, never the id the cookie holds, so a restart (or another
replica on the same database) keeps people signed in, and reading the state does not sign
anyone in. A session's idle time is saved when it signs in or acts; after a restart it counts
from then.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass

import structlog
from aiohttp import web

from syncd.edges.backend.console_state import StoredSession
from syncd.frontends.console.proxy import Proxies

log = structlog.get_logger("syncd.frontends.console")

COOKIE = "syncd_console"
SECURE_COOKIE = "__Host-syncd_console"
"""The cookie's name over HTTPS: the prefix makes browsers refuse it unless it is ``Secure``,
has ``Path=/`` and no ``Domain``, so no neighbour on the same domain can plant one."""
MAX_SESSIONS = 64
MAX_CLIENTS = 1024
"""Clients whose recent sign-in failures are remembered (the oldest are forgotten first)."""
CSRF_FIELD = "csrf"


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who is asking: whether they may act, and the CSRF token their forms carry."""

    can_act: bool
    csrf: str
    signed_in: bool


@dataclass(slots=True)
class _Session:
    csrf: str
    opened_s: float
    seen_s: float


def session_key(session: str) -> str:
    """What identifies a session in memory and in the state backend: a SHA-256 of its id."""
    return hashlib.sha256(session.encode()).hexdigest()


class LoginLimiter:
    """Wrong tokens per client within a sliding window."""

    def __init__(self, *, max_failures: int, window_s: float) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def _recent(self, client: str, now_s: float) -> deque[float]:
        times = self._failures.get(client, deque())
        while times and times[0] <= now_s - self.window_s:
            times.popleft()
        return times

    def retry_after_s(self, client: str, now_s: float) -> float | None:
        """Seconds until ``client`` may try again, or None when it may now."""
        times = self._recent(client, now_s)
        if len(times) < self.max_failures:
            return None
        return times[-self.max_failures] + self.window_s - now_s

    def failed(self, client: str, now_s: float) -> None:
        times = self._recent(client, now_s)
        times.append(now_s)
        self._failures[client] = times
        self._failures.move_to_end(client)
        while len(self._failures) > MAX_CLIENTS:
            self._failures.popitem(last=False)

    def succeeded(self, client: str) -> None:
        self._failures.pop(client, None)


def too_many_attempts(retry_s: float) -> web.HTTPTooManyRequests:
    """The 429 answer, with ``Retry-After`` in whole seconds."""
    wait = max(1, math.ceil(retry_s))
    return web.HTTPTooManyRequests(
        headers={"Retry-After": str(wait)},
        text=f"syncd console: too many wrong tokens from this address; try again in "
             f"{wait} s\n")


class ConsoleAuth:
    """Token checks and sessions for one daemon."""

    def __init__(self, token: str | None, *, viewing_needs_token: bool, proxies: Proxies,
                 idle_s: float, max_s: float, limiter: LoginLimiter,
                 clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], float] = time.time) -> None:
        self._token = token
        self.viewing_needs_token = viewing_needs_token
        self.proxies = proxies
        self.idle_s, self.max_s = idle_s, max_s
        self.limiter = limiter
        self._clock = clock
        self._wall = wall
        self._sessions: OrderedDict[str, _Session] = OrderedDict()
        """By ``session_key`` of the cookie's id."""

    @property
    def actions_enabled(self) -> bool:
        return self._token is not None

    def check_token(self, candidate: str) -> bool:
        return self._token is not None and hmac.compare_digest(
            candidate.encode(), self._token.encode())

    def open_session(self) -> str:
        """A new session id (its CSRF token is made alongside)."""
        session = secrets.token_urlsafe(32)
        now = self._clock()
        self._sessions[session_key(session)] = _Session(secrets.token_urlsafe(32), now, now)
        self._trim()
        return session

    def _trim(self) -> None:
        while len(self._sessions) > MAX_SESSIONS:
            self._sessions.popitem(last=False)

    def stored(self, request: web.Request | None = None, *,
               session: str | None = None) -> StoredSession | None:
        """The record to keep of ``session`` (an id), or of the request's live session."""
        key = session_key(session) if session is not None else self._key(request)
        found = self._sessions.get(key) if key is not None else None
        if found is None or key is None:
            return None
        wall, now = self._wall(), self._clock()
        return StoredSession(key=key, csrf=found.csrf, opened_at_s=wall - (now - found.opened_s),
                             seen_at_s=wall - (now - found.seen_s))

    def adopt(self, sessions: list[StoredSession]) -> None:
        """Sessions kept by the state backend (a restart, another replica's sign-in); those
        already known here keep their own times."""
        wall, now = self._wall(), self._clock()
        for kept in sorted(sessions, key=lambda k: k.opened_at_s):
            expired = wall - kept.seen_at_s > self.idle_s or wall - kept.opened_at_s > self.max_s
            if kept.key not in self._sessions and not expired:
                self._sessions[kept.key] = _Session(kept.csrf, now - (wall - kept.opened_at_s),
                                                    now - (wall - kept.seen_at_s))
        self._trim()

    def unknown_cookie(self, request: web.Request) -> bool:
        """True when the request carries a session cookie this process does not know."""
        return any((key := request.cookies.get(name)) is not None
                   and session_key(key) not in self._sessions
                   for name in (SECURE_COOKIE, COOKIE))

    def _key(self, request: web.Request | None) -> str | None:
        if request is None:
            return None
        for name in (SECURE_COOKIE, COOKIE):
            cookie = request.cookies.get(name)
            if cookie is not None and session_key(cookie) in self._sessions:
                return session_key(cookie)
        return None

    def cookie_name(self, request: web.Request) -> str:
        return SECURE_COOKIE if self.proxies.secure(request) else COOKIE

    def set_cookie(self, request: web.Request, response: web.StreamResponse,
                   session: str) -> None:
        """The session cookie: ``Secure`` with the ``__Host-`` name over HTTPS."""
        secure = self.proxies.secure(request)
        response.set_cookie(SECURE_COOKIE if secure else COOKIE, session, httponly=True,
                            samesite="Strict", path="/", secure=secure or None)

    def close_session(self, request: web.Request, response: web.StreamResponse) -> list[str]:
        """End the request's session; the keys of the sessions ended (to forget them in
        the state backend too)."""
        ended = []
        for name in (SECURE_COOKIE, COOKIE):
            session = request.cookies.get(name)
            if session is not None:
                self._sessions.pop(session_key(session), None)
                ended.append(session_key(session))
                response.del_cookie(name, path="/")
        return ended

    def _session(self, request: web.Request) -> _Session | None:
        """The request's live session (an expired one is forgotten here)."""
        for name in (SECURE_COOKIE, COOKIE):
            cookie = request.cookies.get(name)
            key = session_key(cookie) if cookie is not None else None
            found = self._sessions.get(key) if key is not None else None
            if found is None or key is None:
                continue
            now = self._clock()
            if now - found.seen_s > self.idle_s or now - found.opened_s > self.max_s:
                del self._sessions[key]
                log.info("console_session_expired", remote=self.proxies.client(request),
                         idle=now - found.seen_s > self.idle_s)
                return None
            found.seen_s = now
            return found
        return None

    def _bearer(self, request: web.Request) -> bool:
        """True for a right Bearer token; a wrong one counts as a failed sign-in."""
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            return False
        client = self.proxies.client(request)
        retry_s = self.limiter.retry_after_s(client, self._clock())
        if retry_s is not None:
            log.warning("console_sign_in_throttled", remote=client, bearer=True,
                        retry_after_s=math.ceil(retry_s))
            raise too_many_attempts(retry_s)
        if self.check_token(header[7:].strip()):
            return True
        self.limiter.failed(client, self._clock())
        return False

    def viewer(self, request: web.Request) -> Viewer | None:
        """Who is asking, or None when they may not even look."""
        if self._bearer(request):
            return Viewer(can_act=True, csrf="", signed_in=True)
        session = self._session(request)
        if session is not None and self._token is not None:
            return Viewer(can_act=True, csrf=session.csrf, signed_in=True)
        if not self.viewing_needs_token:
            return Viewer(can_act=False, csrf="", signed_in=False)
        return None

    def sign_in(self, request: web.Request, candidate: str) -> bool:
        """Check a token from the sign-in form; 429 while the client is locked out."""
        client = self.proxies.client(request)
        retry_s = self.limiter.retry_after_s(client, self._clock())
        if retry_s is not None:
            log.warning("console_sign_in_throttled", remote=client,
                        retry_after_s=math.ceil(retry_s))
            raise too_many_attempts(retry_s)
        ok = self.check_token(candidate)
        if ok:
            self.limiter.succeeded(client)
        else:
            self.limiter.failed(client, self._clock())
        return ok

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
