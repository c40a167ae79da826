"""One read-only probe of one site: ask the store the open points, keep the answers.

``probe_site`` asks Wix which catalog the site runs, then the questions of that catalog
(``syncd.edges.wix.probe_v1`` / ``probe_v3``), every request paced by the site's own rate
limiter and counted against ``PROBE_BUDGET``; the points a read-only probe cannot see get
``UNDETERMINED`` with the reason. The report is stored in the site's state backend, where
the walk and ``write_mode: auto`` find it (``syncd.core.store_hints``); a point it left
undetermined keeps the stored report's determined finding, with that finding's own date
(``carry_forward``: a read-only probe keeps what an earlier write test measured).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from syncd.base.errors import StateError
from syncd.core.answer429 import findings_429
from syncd.core.findings import POINTS, UNDETERMINED, Finding, ProbeReport, carry_forward
from syncd.cycle.site_client import halt_on
from syncd.cycle.sync import SiteSync
from syncd.edges.wix import probe_v1, probe_v3
from syncd.edges.wix.probe_ask import PROBE_BUDGET, Asker, BudgetSpent

WRITE_TEST_POINTS = ("read_lag", "write_answer_lost", "empty_answer_applied",
                     "untracked_increment")
"""Points only a write test can show."""

BEYOND_RATE_LIMIT = ("rate_budget", "retry_after_unit", "error_body")
"""Points only a 429 shows: the probe never exceeds the rate limit to provoke one, but keeps
what a 429 met by its own calls shows (``syncd.core.answer429``)."""

V1_ONLY = ("v1_page_length", "total_results", "numeric_bound", "offset_cap", "variant_stock",
           "unmanaged_options", "metadata_items", "inventory_hidden")
V3_ONLY = ("cursor_last_page", "cursor_expiry")
BULK = ("bulk_errors", "bulk_results_order")


async def probe_site(sync: SiteSync, *, stop: asyncio.Event | None = None,
                     budget: int = PROBE_BUDGET) -> ProbeReport:
    """Probe ``sync``'s store (read-only) and store the report in its backend."""
    asker = Asker(sync.client, budget=budget)
    found: dict[str, Finding] = {}
    catalog: list[str] = []
    before = sync.client.last_429
    async with halt_on(stop, sync.client):
        try:
            configured = sync.site.catalog.value
            await _ask(asker, found, catalog,
                       configured=configured if configured in ("v1", "v3") else None)
        except BudgetSpent as exc:
            sync.log.warning("probe_budget_spent", budget=budget, reason=str(exc))
    met = sync.client.last_429
    if met is not None and met is not before:
        found.update((f.point, f) for f in findings_429(
            met, during="this probe", refused_with=sync.client.refused_with_same_key()))
    said = catalog[0] if catalog else ""
    for point in POINTS:
        if point not in found:
            found[point] = Finding(point, UNDETERMINED, _why_not(point, said))
    report = ProbeReport(sync.site.name, datetime.now(UTC), asker.counter.total,
                         tuple(found[p] for p in POINTS))
    report = await store_report(sync, report)
    sync.log.info("probe_done", calls=report.calls, budget=budget,
                  determined=sum(f.determined for f in report.findings))
    return report


async def store_report(sync: SiteSync, report: ProbeReport) -> ProbeReport:
    """Store ``report`` over the site's stored one, keeping the stored determined findings
    of the points ``report`` left undetermined; returns what was stored. A stored report
    that cannot be read is replaced whole (logged)."""
    try:
        stored = await sync.backend.read_probe(sync.site.name)
    except StateError as exc:
        sync.log.warning("probe_findings_unreadable", error=str(exc),
                         fallback="replaced by this probe's findings")
        stored = None
    report = carry_forward(report, stored)
    await sync.backend.write_probe(sync.site.name, report)
    return report


async def _ask(asker: Asker, found: dict[str, Finding], said: list[str], *,
               configured: str | None) -> None:
    """Ask every question of the site's catalog into ``found``; ``said`` gets the evidence
    of the catalog version. ``configured``: the site's ``catalog`` setting when it names
    one, used when Wix does not say (a key without the permission answers 403)."""
    version = await asker.ask("GET", probe_v3.VERSION_PATH, endpoint="catalog.version")
    catalog = str(version.data.get("catalogVersion") or "")
    said.append(version.says(f"catalogVersion {catalog or 'not given'}"))
    catalogs = {"V1_CATALOG": "v1", "V3_CATALOG": "v3"}
    found["catalog"] = Finding("catalog", catalogs.get(catalog, UNDETERMINED),
                               said[0] if catalog in catalogs else
                               said[0] + ": no catalog to sync")
    if not version.ok and configured is not None:
        catalog = f"{configured.upper()}_CATALOG"
        said[0] += f"; the configuration says catalog {configured} ({catalog})"

    def keep(*findings: Finding) -> None:
        for f in findings:
            found[f.point] = f

    if catalog == "V1_CATALOG":
        pages = await probe_v1.read_pages(asker)
        keep(probe_v1.json_defaults(pages), probe_v1.variant_stock(pages),
             probe_v1.unmanaged_options(pages), probe_v1.total_results(pages))
        bound, bound_pages = await probe_v1.numeric_bound(asker, pages)
        keep(bound)
        if (probe_v1.total(pages.first) or 0) > 2 * probe_v1.PAGE:
            pages.more.append(await probe_v1.products(asker, offset=probe_v1.PAGE))
        keep(probe_v1.page_length(pages),
             probe_v1.metadata_items([pages.first, pages.visible, *bound_pages]))
        keep(await probe_v1.offset_cap(asker),
             await probe_v1.unknown_fields(asker, probe_v1.PRODUCTS_PATH,
                                           probe_v1.products_body(limit=1),
                                           endpoint="v1.products.query"),
             await probe_v1.page_limit(asker, probe_v1.PRODUCTS_PATH,
                                       probe_v1.products_body(limit=probe_v1.PAGE + 1),
                                       limit=probe_v1.PAGE, list_key="products",
                                       endpoint="v1.products.query"),
             await probe_v1.inventory_hidden(asker, pages))
    elif catalog == "V3_CATALOG":
        keep(await probe_v3.catalog_mismatch(asker))
        v3, _first = await probe_v3.v3_findings(asker)
        keep(*v3)
        keep(await probe_v1.unknown_fields(asker, probe_v3.ITEMS_PATH,
                                           probe_v3.items_body(1),
                                           endpoint="v3.inventory.query"),
             await probe_v1.page_limit(asker, probe_v3.ITEMS_PATH,
                                       probe_v3.items_body(probe_v3.ITEMS_MAX + 1),
                                       limit=probe_v3.ITEMS_MAX, list_key="inventoryItems",
                                       endpoint="v3.inventory.query"))
    keep(await probe_v3.auth_status(asker))


def _why_not(point: str, said: str) -> str:
    """Why ``point`` is undetermined, in words (``said``: the catalog version's evidence)."""
    if point in WRITE_TEST_POINTS:
        return "measured only by a write test, which a read-only probe does not run"
    if point in BEYOND_RATE_LIMIT:
        return ("seen only in a 429, and none came during this probe (it never exceeds the "
                "rate limit to provoke one; a sync that meets one keeps what it shows)")
    if point in BULK:
        return "seen only when writing (V3 Bulk Update), which a read-only probe never does"
    if point in V1_ONLY and "V1_CATALOG" not in said:
        return "a Catalog V1 point, and this store does not run Catalog V1" + _said(said)
    if point in V3_ONLY and "V3_CATALOG" not in said:
        return "a Catalog V3 point (cursors), and this store does not run Catalog V3" + _said(
            said)
    if point == "catalog_mismatch_status":
        return ("only a Catalog V3 store shows how V1 calls are refused (a V1 store answers "
                "V3 calls with the documented 428)")
    if point == "metadata_items":
        return "a Catalog V1 point (offset paging)" + _said(said)
    return "not asked: the probe's budget was spent first" + _said(said)


def _said(evidence: str) -> str:
    return f" ({evidence})" if evidence else ""

