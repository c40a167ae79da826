"""The HTTP client of one Wix site: auth headers, timeouts, JSON, errors, pacing, counting.

Everything that touches aiohttp lives here, and aiohttp's exceptions never leave this module:
``map_error`` is the one function that turns an HTTP status or a transport failure into the
exception tree of ``syncd.base.errors``. Error bodies are read before the response closes and cut
short before they reach an exception or a log line.

One ``WixClient`` serves one site (its API key, site id and request budget). Several clients
share one ``aiohttp.ClientSession`` per process: pass it in, or let a client own a session of
its own. The client counts every request it sends (in total, per endpoint, and into an
optional per-operation ``CallCounter``) and tells subscribed observers about each one, so a
metrics module can watch without the client knowing about it.

The API key is registered with ``syncd.base.logs.SECRETS`` and never appears in ``repr``, in
exception messages or in the exception chain (the ``ClientResponseError`` we chain from
carries no request headers).
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, TypeVar, cast

import aiohttp
import structlog
from multidict import CIMultiDict, CIMultiDictProxy

from syncd.base.errors import (
    WixAuthError,
    WixClientError,
    WixConflict,
    WixError,
    WixNotFound,
    WixRateLimited,
    WixServerError,
    WixUnavailable,
)
from syncd.base.logs import SECRETS
from syncd.base.pausing import Sleep
from syncd.base.textsafe import safe_value
from syncd.core.answer429 import Answer429
from syncd.edges.config.client import WixSettings, plain_http_problem
from syncd.edges.wix.answer_digest import AnswerDigest, KnownAnswers, answer_hash
from syncd.edges.wix.answers import NotJSON, decode_answer
from syncd.edges.wix.foreign import EXCERPT_CHARS, foreign_answer
from syncd.edges.wix.jsonbody import loads
from syncd.edges.wix.keywatch import KeyWatch
from syncd.edges.wix.ratelimit import Clock, SiteRateLimiter
from syncd.edges.wix.retry import RetryPolicy, call_with_retries, read_retry_after

JSONObject = dict[str, Any]

T = TypeVar("T")

RETRY_AFTER_IGNORED = "retry_after_ignored"
"""``RequestEvent.anomaly`` of a 429 whose ``Retry-After`` was not believed."""

_DEFAULTS = WixSettings()


@dataclass(frozen=True, slots=True)
class RequestEvent:
    """One request as sent: what observers (metrics) receive after every attempt."""

    site_id: str
    endpoint: str
    method: str
    status: int | None
    """HTTP status, or None when no response arrived (timeout, dropped connection)."""
    duration_s: float
    """From sending the request to having read the whole response."""
    wait_s: float
    """Time spent before sending, waiting for the site's rate budget or a 429 back-off."""
    error: str | None = None
    """Name of the syncd exception raised for this attempt, if any."""
    attempt: int = 1
    """1 for the first try of a call, 2 and up for its retries."""
    anomaly: str | None = None
    """A server hint set aside as implausible (``RETRY_AFTER_IGNORED``), for metrics."""


Observer = Callable[[RequestEvent], None]


@dataclass(slots=True)
class CallCounter:
    """Requests sent, in total and per endpoint: per client, or per operation (one walk)."""

    total: int = 0
    by_endpoint: Counter[str] = field(default_factory=Counter)
    rate_limited: int = 0
    """How many of them were answered 429."""
    wait_s: float = 0.0
    """Seconds spent waiting for the rate budget before sending them."""
    answers: AnswerDigest | None = None
    """When set, every successful answer to these requests is folded into it."""

    def record(self, event: RequestEvent) -> None:
        """Count one sent request."""
        self.total += 1
        self.by_endpoint[event.endpoint] += 1
        self.wait_s += event.wait_s
        if event.status == 429:
            self.rate_limited += 1


class WixClient:
    """HTTP access to one Wix site under its rate budget; an async context manager."""

    def __init__(
        self,
        *,
        api_key: str,
        site_id: str,
        settings: WixSettings | None = None,
        session: aiohttp.ClientSession | None = None,
        sleep: Sleep = asyncio.sleep,
        clock: Clock = time.monotonic,
        rng: random.Random | None = None,
        limiter: SiteRateLimiter | None = None,
        key_watch: KeyWatch | None = None,
    ) -> None:
        """``limiter`` shares a store's budget between clients (see ``LimiterPool``);
        ``key_watch`` sees the answers of every site of the API key (``rate_budget``)."""
        if not api_key or not site_id:
            raise ValueError("a Wix client needs an API key and a site id")
        SECRETS.add(api_key)
        self.site_id = site_id
        self.settings = settings or WixSettings()
        self._headers = {"Authorization": api_key, "wix-site-id": site_id}
        self._base_url = self.settings.base_url.rstrip("/")
        self._timeout = aiohttp.ClientTimeout(
            total=self.settings.timeout_s, connect=self.settings.connect_timeout_s
        )
        self._session = session
        self._owns_session = session is None
        self._sleep = sleep
        self._clock = clock
        self.log: structlog.typing.FilteringBoundLogger = structlog.get_logger(
            "syncd.edges.wix"
        ).bind(site_id=site_id)
        self.limiter = limiter or SiteRateLimiter(self.settings, sleep=sleep, clock=clock,
                                                  log=self.log)
        if self.settings.allow_insecure_http and (
                problem := plain_http_problem(self._base_url)) is not None:
            # The configuration allowed it (allow_insecure_http): say so at every start.
            self.log.warning("wix_plain_http", base_url=self._base_url, problem=problem)
        self._retry = RetryPolicy(self.settings, rng=rng)
        self.calls = CallCounter()
        """Every request this client has sent."""
        self._observers: list[Observer] = []
        self.halted = asyncio.Event()
        """Set by ``halt``: requests not yet on the wire give up with ``StopRequested``."""
        self.gate: Callable[[], None] | None = None
        """Called right before each request goes on the wire (after its wait for the
        budget); raising ``StopRequested`` there keeps the request off the wire."""
        self.key_watch = key_watch
        self.last_429: Answer429 | None = None
        """The shape of the last 429 this client met (one record per site, replaced by the
        next): what a probe or a sync keeps as findings (``syncd.core.answer429``)."""

    def halt(self) -> None:
        """Stop sending: requests waiting for the budget (or a retry pause) give up at once
        with ``StopRequested``; requests already on the wire finish, bounded by their
        timeout. Lasts until ``resume``."""
        self.halted.set()

    def resume(self) -> None:
        """Send again after a ``halt`` (a new cycle starts). Requests halted before stay
        halted: they hold the event that was set."""
        if self.halted.is_set():
            self.halted = asyncio.Event()

    def __repr__(self) -> str:
        return (
            f"WixClient(site_id={self.site_id!r}, base_url={self._base_url!r}, "
            "api_key=<hidden>)"
        )

    async def __aenter__(self) -> WixClient:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the session if this client opened it; a shared session is left open."""
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None

    def subscribe(self, observer: Observer) -> Callable[[], None]:
        """Call ``observer`` after every request; returns a function that unsubscribes it."""
        self._observers.append(observer)
        return lambda: self._observers.remove(observer)

    async def request(
        self,
        method: str,
        path: str,
        *,
        endpoint: str,
        body: Mapping[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
        idempotent: bool = True,
        counter: CallCounter | None = None,
    ) -> JSONObject:
        """Send one call (retrying it when safe) and return its JSON object.

        ``endpoint`` is a stable name such as ``v1.products.query`` used for counting, logs
        and metrics (paths carry ids, names do not). ``idempotent=False`` marks calls that
        must never be repeated automatically (increments, decrements). Raises a ``WixError``
        subclass; see ``map_error``.
        """
        data = await self._call(method, path, endpoint, body, params, counter,
                                idempotent=idempotent, answer=None)
        return cast(JSONObject, data)

    async def request_as(
        self,
        answer: type[T],
        method: str,
        path: str,
        *,
        endpoint: str,
        body: Mapping[str, Any] | None = None,
        counter: CallCounter | None = None,
        known: KnownAnswers[T] | None = None,
    ) -> T:
        """Like ``request`` (an idempotent read), with the answer decoded straight into
        ``answer``, a struct of ``syncd.edges.wix.answers``: only its fields are decoded,
        and a field of the wrong type fails the call as a ``WixServerError`` naming it.

        With ``known`` (and a ``counter`` digesting answers) an answer ``known`` has seen
        is not decoded: the call returns what ``known`` keeps for it instead, and every
        answer decoded is handed to ``known.learn``."""
        data = await self._call(method, path, endpoint, body, None, counter,
                                idempotent=True, answer=answer, known=known)
        return cast(T, data)

    async def _call(
        self,
        method: str,
        path: str,
        endpoint: str,
        body: Mapping[str, Any] | None,
        params: Mapping[str, str] | None,
        counter: CallCounter | None,
        *,
        idempotent: bool,
        answer: type[Any] | None,
        known: KnownAnswers[Any] | None = None,
    ) -> object:
        attempts = 0

        async def attempt() -> object:
            nonlocal attempts
            attempts += 1
            return await self._send(method, path, endpoint, body, params, counter,
                                    attempt=attempts, answer=answer, known=known)

        return await call_with_retries(
            attempt,
            endpoint=endpoint,
            idempotent=idempotent,
            policy=self._retry,
            limiter=self.limiter,
            sleep=self._sleep,
            log=self.log,
            halted=self.halted,
        )

    async def _send(
        self,
        method: str,
        path: str,
        endpoint: str,
        body: Mapping[str, Any] | None,
        params: Mapping[str, str] | None,
        counter: CallCounter | None,
        *,
        attempt: int = 1,
        answer: type[Any] | None = None,
        known: KnownAnswers[Any] | None = None,
    ) -> object:
        if self._session is None:
            raise RuntimeError("WixClient used outside 'async with' and without a session")
        url = self._base_url + path
        async with self.limiter.slot(self.halted) as wait_s:
            if self.gate is not None:
                self.gate()
            started = self._clock()
            rate = self.limiter.current_rate
            status: int | None = None
            error: str | None = None
            anomaly: str | None = None
            shape: tuple[str | None, str] | None = None
            try:
                async with self._session.request(
                    method,
                    url,
                    json=body,
                    params=params,
                    headers=self._headers,
                    timeout=self._timeout,
                ) as response:
                    status = response.status
                    raw = await response.read()
                    digest = counter.answers if counter is not None else None
                    hashed = (answer_hash(method, path, body, params, raw)
                              if digest is not None and status < 400 else None)
                    data, is_json, remembered = _read_answer(
                        raw, status, answer, endpoint=endpoint, hashed=hashed, known=known)
                    if status == 429:
                        sent = response.headers.get("Retry-After")
                        shape = (None if sent is None else safe_value(sent, 40),
                                 "empty" if not raw.strip() else "json" if is_json else "text")
                    foreign = foreign_answer(self._base_url, status, raw, is_json=is_json,
                                             endpoint=endpoint,
                                             limit=self.settings.error_body_max_chars)
                    if foreign is not None:
                        raise foreign
                    if status >= 400:
                        cause = _response_error(response, method)
                        limit = self.settings.error_body_max_chars
                        raise map_error(
                            cause, endpoint=endpoint, body=raw, limit=limit,
                            retry_after_max_s=self.settings.retry_after_max_s) from cause
                    if digest is not None and hashed is not None:
                        digest.fold(hashed)
                        if known is not None and not remembered:
                            known.learn(hashed, data)
                    return data if answer is not None else _object(
                        data, endpoint=endpoint, status=status)
            except WixError as exc:
                error = type(exc).__name__
                if isinstance(exc, WixRateLimited):
                    exc.sent_at_rate = rate
                if isinstance(exc, WixRateLimited) and shape is not None:
                    self.last_429 = Answer429(
                        SECRETS.redact(f"{method} {path}"), datetime.now(UTC), shape[0],
                        exc.retry_after_s, shape[1], self.settings.rate_period_s,
                        self.settings.retry_after_max_s)
                if isinstance(exc, WixRateLimited) and exc.retry_after_ignored is not None:
                    anomaly = RETRY_AFTER_IGNORED
                    self.log.warning("wix_retry_after_ignored", endpoint=endpoint,
                                     retry_after=exc.retry_after_ignored,
                                     max_s=self.settings.retry_after_max_s,
                                     fallback="rate_limited_delays_s")
                raise
            except (aiohttp.ClientError, TimeoutError) as exc:
                mapped = map_error(exc, endpoint=endpoint)
                error = type(mapped).__name__
                raise mapped from exc
            finally:
                event = RequestEvent(
                    site_id=self.site_id,
                    endpoint=endpoint,
                    method=method,
                    status=status,
                    duration_s=self._clock() - started,
                    wait_s=wait_s,
                    error=error,
                    attempt=attempt,
                    anomaly=anomaly,
                )
                self._record(event, counter)
                if self.key_watch is not None and status is not None:
                    self.key_watch.saw(self.site_id, refused=status == 429, mono=self._clock(),
                                       at=datetime.now(UTC),
                                       window_s=self.settings.rate_period_s)

    def refused_with_same_key(self) -> tuple[str, datetime] | None:
        """Another site of this API key answered 429 in the same window as this one, with
        no other answer on either in between (its site id and when), if the key's answers
        are watched and that happened."""
        if self.key_watch is None:
            return None
        together = self.key_watch.refused_with(self.site_id)
        return None if together is None else (together.site_id, together.at)

    def _record(self, event: RequestEvent, counter: CallCounter | None) -> None:
        self.log.debug("wix_request", endpoint=event.endpoint, method=event.method,
                       status=event.status, error=event.error, attempt=event.attempt,
                       duration_s=round(event.duration_s, 3), wait_s=round(event.wait_s, 3))
        self.calls.record(event)
        if counter is not None:
            counter.record(event)
        for observer in tuple(self._observers):
            try:
                observer(event)
            except Exception:  # an observer's bug must not fail the request it watched
                self.log.exception("wix_observer_failed", endpoint=event.endpoint)


def map_error(
    exc: BaseException, *, endpoint: str, body: bytes = b"", limit: int = 500,
    retry_after_max_s: float | None = None,
) -> WixError:
    """The one place where an HTTP status or a transport failure becomes a ``WixError``.

    401/403 -> WixAuthError, 404 -> WixNotFound, 409/428 -> WixConflict, 429 -> WixRateLimited
    (with ``Retry-After`` seconds when sent and believable, see ``read_retry_after``; the
    body, JSON or not, never changes that), other 4xx -> WixClientError, 5xx ->
    WixServerError; a 2xx whose body is not JSON -> WixServerError; connection errors,
    dropped connections and timeouts -> WixUnavailable. Callers chain with ``raise ... from``.
    """
    if isinstance(exc, aiohttp.ClientResponseError):
        status = exc.status
        message, code = _parse_error_body(body, limit)
        text = f"{endpoint}: HTTP {status}"
        text += f" {code}" if code else ""
        text = SECRETS.redact(text + (f": {message}" if message else ""))
        if status in (401, 403):
            return WixAuthError(text, status=status, code=code, endpoint=endpoint)
        if status == 404:
            return WixNotFound(text, status=status, code=code, endpoint=endpoint)
        if status in (409, 428):
            return WixConflict(text, status=status, code=code, endpoint=endpoint)
        if status == 429:
            sent = exc.headers.get("Retry-After") if exc.headers else None
            max_s = _DEFAULTS.retry_after_max_s if retry_after_max_s is None \
                else retry_after_max_s
            retry_after_s, believed = read_retry_after(sent, max_s=max_s)
            return WixRateLimited(
                text,
                retry_after_s=retry_after_s,
                retry_after_ignored=None if believed else safe_value(sent or "", 40),
                status=status,
                code=code,
                endpoint=endpoint,
            )
        if 400 <= status < 500:
            return WixClientError(text, status=status, code=code, endpoint=endpoint)
        return WixServerError(text, status=status, code=code, endpoint=endpoint)
    if isinstance(exc, json.JSONDecodeError):
        return WixServerError(f"{endpoint}: answer is not JSON ({exc.msg})", endpoint=endpoint)
    if isinstance(exc, aiohttp.InvalidURL):
        return WixClientError(f"{endpoint}: invalid URL {exc}", endpoint=endpoint)
    if isinstance(exc, aiohttp.ClientError | TimeoutError):
        detail = str(exc) or ("timed out" if isinstance(exc, TimeoutError) else "no detail")
        return WixUnavailable(
            SECRETS.redact(f"{endpoint}: no answer ({type(exc).__name__}: {detail})"),
            endpoint=endpoint,
        )
    return WixError(f"{endpoint}: {type(exc).__name__}", endpoint=endpoint)


def _response_error(response: aiohttp.ClientResponse, method: str) -> aiohttp.ClientResponseError:
    # Built by hand instead of raise_for_status(): aiohttp's version carries the request
    # headers (the API key) in its repr, and it would sit in every chained traceback.
    info = aiohttp.RequestInfo(
        url=response.url,
        method=method,
        headers=CIMultiDictProxy(CIMultiDict()),
        real_url=response.url,
    )
    return aiohttp.ClientResponseError(
        info,
        (),
        status=response.status,
        message=response.reason or "",
        headers=response.headers,
    )


def _read_answer(raw: bytes, status: int, answer: type[Any] | None, *, endpoint: str,
                 hashed: int | None, known: KnownAnswers[Any] | None
                 ) -> tuple[object, bool, bool]:
    """The body decoded (into ``answer`` if given and the status is a success), whether it
    was JSON, and whether ``known`` gave it instead (bytes it has decoded before)."""
    if hashed is not None and known is not None:
        remembered = known.known(hashed, raw)
        if remembered is not None:
            return remembered, True, True
    if answer is None or status >= 400:
        return (*_load(raw), False)
    return (*_load_as(raw, answer, endpoint=endpoint, status=status), False)


def _load(raw: bytes) -> tuple[object, bool]:
    """The decoded body (``{}`` when empty) and whether it was JSON; each answer is decoded
    once, since decoding is most of what a walk costs the client's CPU."""
    if not raw.strip():
        return {}, True
    try:
        return loads(raw), True
    except ValueError:
        return None, False


def _load_as(raw: bytes, answer: type[Any], *, endpoint: str, status: int
             ) -> tuple[object, bool]:
    """The body decoded into ``answer`` and True, or None and False when it is not JSON."""
    try:
        return decode_answer(raw, answer, endpoint=endpoint, status=status), True
    except NotJSON:
        return None, False


def _object(data: object, *, endpoint: str, status: int) -> JSONObject:
    if not isinstance(data, dict):
        raise WixServerError(
            f"{endpoint}: expected a JSON object, got {type(data).__name__}",
            status=status,
            endpoint=endpoint,
        )
    return data


def _parse_error_body(body: bytes, limit: int) -> tuple[str, str | None]:
    """``(message, code)`` from a Wix error body; 5xx bodies are usually empty."""
    text = body.decode("utf-8", errors="replace").strip()
    if not text:
        return "", None
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        # An edge proxy's page (a 429 or 5xx in HTML or plain text): one escaped line.
        return safe_value(" ".join(text.split()), min(limit, EXCERPT_CHARS)), None
    if not isinstance(data, dict):
        return _truncate(text, limit), None
    message = str(data.get("message") or "")
    details = data.get("details")
    code: str | None = None
    if isinstance(details, dict):
        app = details.get("applicationError")
        if isinstance(app, dict):
            code = str(app.get("code")) if app.get("code") else None
            if not message:
                message = str(app.get("description") or "")
        validation = details.get("validationError")
        if isinstance(validation, dict):
            violations = validation.get("fieldViolations") or []
            parts = [
                f"{v.get('field')}: {v.get('description')}"
                for v in violations
                if isinstance(v, dict)
            ]
            if parts:
                message = f"{message} ({'; '.join(parts)})" if message else "; ".join(parts)
    if not message and code is None:
        message = text
    return _truncate(message, limit), code


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(0, limit - 1)] + "…"
