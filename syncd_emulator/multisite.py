"""Many emulated Wix sites behind one port, told apart by the ``wix-site-id`` header.

An agency's daemon talks to ten thousand stores; measuring it needs ten thousand stores
that each behave like Wix on their own: their own store, their own key (or one key shared
by all, as with one Wix app installed on many sites), their own 200/minute budget and their
own faults. ``MultiSiteEmulator`` keeps one ``Emulator`` per site, created on the site's
first request (so every site starts at once and costs memory only when used), and routes
each request to its site before the usual Wix gate of ``syncd_emulator.app`` runs.

The sites share one catalog, generated (or loaded) once: a site reads it until a write
request reaches one of its products, which then gets a copy for that site alone (see
``syncd_emulator.store``). Ten thousand sites of 300 products cost one catalog plus what
was written to each. ``catalog_per_site`` gives each site a catalog of its own, generated
from its own seed (products differ between sites), at the old cost of one catalog a site.

Introspection routes take the site from the same header or from ``?site=``;
``GET /__emulator/sites`` summarises every site that was used, with the writes each replica
made (clients name themselves in ``x-syncd-replica``).

Each site id is ``<prefix><n>`` with ``n`` from 1, zero-padded to four digits
(``site-0001``). Simulated shoppers are not run in this mode.
"""

from __future__ import annotations

import contextlib
import contextvars
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field, replace
from typing import cast

from aiohttp import web

from syncd_emulator import (
    routes_admin,
    routes_inventory_v2,
    routes_v1,
    routes_v3,
    routes_v3_inventory,
)
from syncd_emulator.app import SHUTDOWN_TIMEOUT_S, Handler, wix_middleware
from syncd_emulator.config import EmulatorConfig
from syncd_emulator.context import EMULATOR, Emulator, catalog_kind, load_spec
from syncd_emulator.error_answers import application_error
from syncd_emulator.matchcache import MatchCache
from syncd_emulator.respond import json_response
from syncd_emulator.spec import StoreSpec
from syncd_emulator.store import Catalog

SHARED_MATCHES = 256
"""Query matches remembered for all the sites together (each page of a walk reuses its
query's matches while a few dozen walks run at once)."""

REPLICA_HEADER = "x-syncd-replica"
"""Sent by syncd with its replica id; recorded with every write, to prove one writer."""

_current: contextvars.ContextVar[Emulator] = contextvars.ContextVar("emulated_site")


@dataclass(frozen=True, slots=True)
class MultiSiteConfig:
    """``sites`` emulated sites; ``template`` gives everything but the site id and key."""

    sites: int
    template: EmulatorConfig = field(default_factory=EmulatorConfig)
    prefix: str = "site-"
    key_per_site: bool = False
    """True: site ``site-0001`` takes the key ``key-site-0001``; False: the template's key."""
    catalog_per_site: bool = False
    """True: each site generates its own catalog (seed + n - 1); False: every site starts
    from one shared catalog and copies only the products written to it."""

    def __post_init__(self) -> None:
        if self.sites < 1:
            raise ValueError(f"sites must be at least 1, not {self.sites}")

    def site_id(self, n: int) -> str:
        return f"{self.prefix}{n:04d}"

    def api_key(self, site_id: str) -> str:
        return f"key-{site_id}" if self.key_per_site else self.template.api_key

    def site_ids(self) -> list[str]:
        return [self.site_id(n) for n in range(1, self.sites + 1)]


@dataclass(frozen=True, slots=True)
class WriteRecord:
    """One write request as the emulator saw it."""

    replica: str
    started_s: float
    ended_s: float
    status: int


class MultiSiteEmulator:
    """The sites, created on first use, and the write log per site."""

    def __init__(self, config: MultiSiteConfig) -> None:
        self.config = config
        self._index = {site_id: n for n, site_id in enumerate(config.site_ids(), start=1)}
        self.sites: dict[str, Emulator] = {}
        self.writes: dict[str, list[WriteRecord]] = {}
        self._shared: tuple[StoreSpec, Catalog] | None = None
        self._matches = MatchCache(keep=SHARED_MATCHES)

    def shared_catalog(self) -> tuple[StoreSpec, Catalog]:
        """The spec and catalog every site starts from (built on first use)."""
        if self._shared is None:
            template = self.config.template
            spec = load_spec(template)
            self._shared = spec, Catalog(
                spec, catalog=catalog_kind(template),
                unmanaged_options=template.variants.unmanaged_options)
        return self._shared

    def site(self, site_id: str) -> Emulator | None:
        """The site's emulator (created on first use); None for an unknown site id."""
        emulator = self.sites.get(site_id)
        if emulator is None:
            n = self._index.get(site_id)
            if n is None:
                return None
            template = self.config.template
            config = replace(template, site_id=site_id, api_key=self.config.api_key(site_id),
                             seed=template.seed + n - 1, port=0)
            if self.config.catalog_per_site:
                emulator = Emulator(config)
            else:
                spec, catalog = self.shared_catalog()
                emulator = Emulator(config, spec=spec, shared=catalog,
                                    match_cache=self._matches)
            self.sites[site_id] = emulator
        return emulator

    def overlapping_writes(self) -> dict[str, list[tuple[WriteRecord, WriteRecord]]]:
        """Per site, pairs of writes by different replicas whose requests overlapped."""
        found: dict[str, list[tuple[WriteRecord, WriteRecord]]] = {}
        for site_id, records in self.writes.items():
            ordered = sorted(records, key=lambda r: r.started_s)
            for i, a in enumerate(ordered):
                for b in ordered[i + 1:]:
                    if b.started_s >= a.ended_s:
                        break
                    if a.replica != b.replica:
                        found.setdefault(site_id, []).append((a, b))
        return found

    def summary(self) -> dict[str, object]:
        return {site_id: {
            "requests": emu.stats.snapshot().get("requests_total"),
            "writes": emu.stats.snapshot().get("writes"),
            "writers": sorted({w.replica for w in self.writes.get(site_id, [])}),
        } for site_id, emu in sorted(self.sites.items())}


class _SiteRouter:
    """Stands where the single-site app keeps its ``Emulator``: every attribute is the
    current request's site's."""

    def __getattr__(self, name: str) -> object:
        return getattr(_current.get(), name)


MULTI = web.AppKey("syncd_multisite", MultiSiteEmulator)


def _is_write(method: str, path: str) -> bool:
    return method == "PATCH" or (method == "POST" and (
        "/bulk/" in path or path.endswith(("/increment", "/decrement"))))


@web.middleware
async def route_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Pick the site by ``wix-site-id`` (or ``?site=`` for introspection), then go on."""
    multi = request.app[MULTI]
    admin = request.path.startswith(routes_admin.PREFIX + "/")
    if request.path == f"{routes_admin.PREFIX}/sites":
        return json_response(multi.summary())
    site_id = request.headers.get("wix-site-id") or (request.query.get("site") if admin else None)
    emulator = multi.site(site_id) if site_id else None
    if emulator is None:
        if admin:
            return json_response({"message": "name a site: wix-site-id header or ?site="},
                                 status=400)
        return application_error(
            403, "PERMISSION_DENIED", "wix-site-id is missing or names an unknown site",
        ).response()
    token = _current.set(emulator)
    started = time.monotonic()
    write = not admin and _is_write(request.method, request.path)
    try:
        if write:
            # The products it looks up become this site's copies before they are written.
            with emulator.store.writing():
                response = await handler(request)
        else:
            response = await handler(request)
    finally:
        _current.reset(token)
    if write:
        multi.writes.setdefault(emulator.config.site_id, []).append(WriteRecord(
            replica=request.headers.get(REPLICA_HEADER, ""), started_s=started,
            ended_s=time.monotonic(), status=response.status))
    return response


def build_multisite_app(config: MultiSiteConfig) -> web.Application:
    """One application serving every site of ``config``."""
    app = web.Application(middlewares=[route_middleware, wix_middleware],
                          client_max_size=16 * 1024 * 1024)
    app[MULTI] = MultiSiteEmulator(config)
    app[EMULATOR] = cast(Emulator, _SiteRouter())
    for module in (routes_admin, routes_v3, routes_v3_inventory, routes_v1,
                   routes_inventory_v2):
        module.add_routes(app.router)
    return app


@dataclass
class RunningMultiSite:
    url: str
    emulator: MultiSiteEmulator

    def site(self, site_id: str) -> Emulator:
        emulator = self.emulator.site(site_id)
        if emulator is None:
            raise KeyError(site_id)
        return emulator


@contextlib.asynccontextmanager
async def serve_multisite(config: MultiSiteConfig) -> AsyncIterator[RunningMultiSite]:
    """Serve every site of ``config`` on the template's host and port until exit."""
    app = build_multisite_app(config)
    runner = web.AppRunner(app, access_log=None, handle_signals=False,
                           shutdown_timeout=SHUTDOWN_TIMEOUT_S)
    await runner.setup()
    try:
        site = web.TCPSite(runner, config.template.host, config.template.port)
        await site.start()
        host, port = runner.addresses[0][:2]
        display_host = f"[{host}]" if ":" in host else host
        yield RunningMultiSite(url=f"http://{display_host}:{port}", emulator=app[MULTI])
    finally:
        await runner.cleanup()


def describe(config: MultiSiteConfig) -> Iterator[str]:
    """Lines telling a person how to reach the sites."""
    ids = config.site_ids()
    yield f"{len(ids)} sites: {ids[0]} .. {ids[-1]} (wix-site-id)"
    yield ("keys: key-<site id>" if config.key_per_site
           else f"key: {config.template.api_key} (shared)")
