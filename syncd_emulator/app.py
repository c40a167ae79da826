"""The aiohttp application: routes plus the middleware that makes it behave like Wix.

Every request to a Wix route goes through the same gate, in this order:

1. counted in the stats (method + route template), whatever happens next;
2. authenticated: ``Authorization`` must be the API key (else 401) and ``wix-site-id`` the
   site (else 403);
3. rate limited per site (429 with a Wix-style body; ``Retry-After`` only if configured),
   counted when the request arrives, as a server's limiter does: the injected latency
   stands for time spent serving the request, not for time spent reaching the limiter;
4. held for the injected latency, if any;
5. faulted: dropped connection or an empty 500/503, before the handler runs, so a failed
   request never changes the store (it has used up rate budget, as at Wix); with
   ``drop_after_rate`` a write is instead handled first and its connection then closed
   without an answer (it landed, but the client cannot tell);
6. checked against the site's catalog: V3 calls on a V1 site and V1/V2 calls on a V3 site
   get 428; a site without Stores gets 401 (V1) or 428 (V3);
7. handled; ``ApiError`` and query errors become Wix-style error bodies, anything
   unexpected an empty 500 (and a log line).

``/__emulator/`` routes skip all of that. ``serve`` runs the app on a real socket for tests
and the command; ``RunningEmulator`` is what it hands back.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import structlog
from aiohttp import web

from syncd_emulator import (
    routes_admin,
    routes_inventory_v2,
    routes_v1,
    routes_v3,
    routes_v3_inventory,
)
from syncd_emulator.config import EmulatorConfig, format_rate_limit
from syncd_emulator.context import EMULATOR, Emulator
from syncd_emulator.error_answers import ApiError, application_error, server_error, validation_error
from syncd_emulator.faults import draw_drop_after, draw_fault, latency_s
from syncd_emulator.query import QueryError
from syncd_emulator.ratelimit import SlidingWindowLimiter
from syncd_emulator.spec import StoreSpec
from syncd_emulator.store import Store
from syncd_emulator.variants import (
    MISMATCH_STATUS,
    known_fields,
    retry_after_header,
    sparse_body,
    unknown_field,
)

log = structlog.get_logger("syncd_emulator")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

SHUTDOWN_TIMEOUT_S = 2.0
"""How long open requests may finish when the emulator stops."""

V1_FAMILY = ("/stores/v1/", "/stores/v2/", "/stores-reader/")
VERSION_PATH = "/stores/v3/provision/version"


class _Dropped(Exception):
    """The connection was closed on purpose; there is no response to count."""


def _catalog_gate(emu: Emulator, path: str) -> None:
    """428 (or 401) when the path belongs to the other catalog than the site's."""
    catalog = emu.config.catalog
    if path.startswith("/stores/v3/"):
        if path == VERSION_PATH or catalog == "v3":
            return
        reason = "Wix Stores is not installed on this site" if catalog == "none" else (
            "This site runs Catalog V1: /stores/v3/ endpoints are not available; use the "
            "Catalog V1 and Inventory V2 APIs (see GET /stores/v3/provision/version)"
        )
        raise application_error(428, "CATALOG_VERSION_MISMATCH", reason)
    if path.startswith(V1_FAMILY):
        if catalog == "v1":
            return
        if catalog == "none":
            raise application_error(401, "STORES_NOT_INSTALLED",
                                    "Wix Stores is not installed on this site")
        raise application_error(
            MISMATCH_STATUS if emu.variants.mismatch_status else 428, "CATALOG_VERSION_MISMATCH",
            "This site runs Catalog V3: Catalog V1 and Inventory V2 endpoints are not "
            "available; use /stores/v3/ (see GET /stores/v3/provision/version)",
        )


def _is_write(request: web.Request) -> bool:
    """True for the requests that change stock (a read whose answer is lost is just a
    dropped read, which ``drop_rate`` already plays)."""
    if request.method in ("PATCH", "PUT", "DELETE"):
        return True
    path = request.path
    return request.method == "POST" and (
        path.endswith(("/increment", "/decrement")) or "/bulk/" in path)


def _authenticate(emu: Emulator, request: web.Request) -> str:
    headers = request.headers
    key = headers.get("Authorization")
    if key is None or key != emu.config.api_key:
        raise application_error(
            403 if emu.variants.auth_403 else 401, "UNAUTHENTICATED",
            "missing or unknown Authorization header (send the raw API key, no Bearer prefix)",
        )
    site = headers.get("wix-site-id")
    if site is None or site != emu.config.site_id or "wix-account-id" in headers:
        raise application_error(
            403, "PERMISSION_DENIED",
            "wix-site-id is missing or names a site this key has no access to "
            "(send wix-site-id, never together with wix-account-id)",
        )
    return site


async def _gate(emu: Emulator, request: web.Request, handler: Handler) -> web.StreamResponse:
    """Steps 2-7 of the module docstring."""
    settings = emu.settings
    site = _authenticate(emu, request)
    budget = emu.config.api_key if emu.variants.rate_per_key else site
    if not emu.limiter.allow(budget):
        headers = {}
        retry_after = retry_after_header(emu.variants, configured_s=settings.retry_after_s,
                                         free_in_s=emu.limiter.free_in_s(budget))
        if retry_after is not None:
            headers["Retry-After"] = retry_after
        raise application_error(
            429, "RESOURCE_EXHAUSTED",
            f"Too many requests: the site's rate limit of {format_rate_limit(emu.limiter.limit)}"
            " (requests/seconds) is used up",
            headers=headers,
        )
    delay = latency_s(settings, emu.rng)
    if delay:
        await asyncio.sleep(delay)
    fault = draw_fault(settings, emu.rng)
    if fault is not None:
        emu.stats.count_fault(fault)
        if fault == "drop":
            if request.transport is not None:
                request.transport.close()
            raise _Dropped
        raise server_error(int(fault))
    _catalog_gate(emu, request.path)
    if emu.variants.strict_fields:
        await _check_fields(request)
    if emu.store.read_lag_s and request.path.startswith("/stores-reader/"):
        # ``read_lag``: served from the store as it was. The body is read first, so the
        # handler runs through without yielding while the store shows its old values.
        await request.read()
        with emu.store.as_read():
            response = await handler(request)
    else:
        response = await handler(request)
    if _is_write(request) and draw_drop_after(settings, emu.rng):
        emu.stats.count_fault("drop_after")
        if request.transport is not None:
            request.transport.close()
        raise _Dropped
    if emu.variants.sparse_json and isinstance(response, web.Response) \
            and response.status < 300 and response.content_type == "application/json" \
            and isinstance(response.body, bytes):
        response.body = sparse_body(response.body)
    return response


async def _check_fields(request: web.Request) -> None:
    """``strict_fields``: 400 for a body field the endpoint does not know."""
    resource = request.match_info.route.resource
    schema = known_fields(request.method, resource.canonical if resource else "")
    if schema is None or request.method == "GET":
        return
    try:
        body = json.loads(await request.read() or b"{}")
    except ValueError:
        return  # the handler answers malformed JSON itself
    name = unknown_field(body, schema)
    if name:
        raise validation_error(name, "is not a field of this request", rule="UNKNOWN_FIELD")


@web.middleware
async def wix_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Make every Wix route behave like Wix (see the module docstring)."""
    if request.path.startswith(routes_admin.PREFIX + "/"):
        return await handler(request)
    emu = request.app[EMULATOR]
    match = request.match_info
    resource = match.route.resource
    template = resource.canonical if resource is not None and match.http_exception is None \
        else "<unknown route>"
    emu.stats.count_request(f"{request.method} {template}")
    try:
        if match.http_exception is not None:
            raise application_error(
                match.http_exception.status, "NOT_FOUND" if match.http_exception.status == 404
                else "METHOD_NOT_ALLOWED", f"no such endpoint: {request.method} {request.path}",
            )
        response = await _gate(emu, request, handler)
    except ApiError as e:
        response = e.response(as_text=emu.variants.text_429)
    except QueryError as e:
        response = validation_error(e.field, e.description).response()
    except _Dropped:
        return web.Response(status=500)
    except web.HTTPException:
        raise
    except ConnectionResetError:
        # The client went away before its body was read (a killed process, a timeout):
        # nobody is left to answer, and nothing was changed.
        log.info("emulator_client_disconnected", path=request.path, method=request.method)
        return web.Response(status=499)
    except Exception:
        log.exception("emulator_handler_failed", path=request.path, method=request.method)
        response = server_error().response(as_text=emu.variants.text_429)
    emu.stats.count_status(response.status)
    return response


async def _run_shopper(app: web.Application) -> AsyncIterator[None]:
    emu = app[EMULATOR]
    task = asyncio.create_task(emu.shopper.run(), name="emulator shopper")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def build_app(config: EmulatorConfig, *, spec: StoreSpec | None = None,
              limiter: SlidingWindowLimiter | None = None) -> web.Application:
    """The emulator's aiohttp application (store loaded, not yet serving)."""
    app = web.Application(middlewares=[wix_middleware], client_max_size=16 * 1024 * 1024)
    app[EMULATOR] = Emulator(config, spec=spec, limiter=limiter)
    routes_admin.add_routes(app.router)
    routes_v3.add_routes(app.router)
    routes_v3_inventory.add_routes(app.router)
    routes_v1.add_routes(app.router)
    routes_inventory_v2.add_routes(app.router)
    app.cleanup_ctx.append(_run_shopper)
    return app


@dataclass
class RunningEmulator:
    """A serving emulator: its URL and direct access to its state for assertions."""

    url: str
    emulator: Emulator

    @property
    def store(self) -> Store:
        """The in-memory store (the same object the routes change)."""
        return self.emulator.store

    @property
    def config(self) -> EmulatorConfig:
        """The configuration it was started with."""
        return self.emulator.config

    def stats(self) -> dict[str, object]:
        """Same as ``GET /__emulator/stats``."""
        return self.emulator.stats.snapshot()

    def state(self) -> list[dict[str, object]]:
        """Same as ``GET /__emulator/state``."""
        return self.emulator.store.state_rows()

    def set_faults(self, **changes: object) -> None:
        """Same as ``POST /__emulator/faults`` (ValueError for a bad setting)."""
        self.emulator.set_faults(**changes)

    def reset(self) -> None:
        """Same as ``POST /__emulator/reset``."""
        self.emulator.reset()


@contextlib.asynccontextmanager
async def serve(
    config: EmulatorConfig, *, spec: StoreSpec | None = None,
    limiter: SlidingWindowLimiter | None = None,
) -> AsyncIterator[RunningEmulator]:
    """Serve ``config`` on ``config.host``/``config.port`` (0: a free port) until exit;
    ``limiter`` shares one request budget with another emulated site."""
    app = build_app(config, spec=spec, limiter=limiter)
    runner = web.AppRunner(app, access_log=None, handle_signals=False,
                           shutdown_timeout=SHUTDOWN_TIMEOUT_S)
    await runner.setup()
    try:
        site = web.TCPSite(runner, config.host, config.port)
        await site.start()
        host, port = runner.addresses[0][:2]
        display_host = f"[{host}]" if ":" in host else host
        yield RunningEmulator(url=f"http://{display_host}:{port}", emulator=app[EMULATOR])
    finally:
        await runner.cleanup()
