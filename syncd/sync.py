"""One sync cycle of one site: read the source, walk the store, plan, guard, apply, record.

``SiteSync`` holds what a site needs across cycles (its Wix client, the catalog adapter,
and the SKU -> product index of the last full walk that the daemon's fast lane uses). The
one-shot commands (``syncd plan``, ``syncd sync``) make one and run a single cycle; the
daemon keeps one per site for a configuration generation (``open_cycle_runner``).

A cycle never writes before every check has passed: the source is read and validated
whole, the plan is computed from a complete walk, and the safety guards see the plan
first. Only a cycle whose writes all landed updates the run state (``syncd.state``), which
is what the source-shrink guard compares the next source against.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import structlog

from syncd.apply import ApplyReport, apply_plan
from syncd.apply_deltas import apply_changes
from syncd.daemon.cycle import CycleKind, CycleOutcome, CycleResult
from syncd.diff import Plan, plan_changes
from syncd.errors import GuardRefused, SourceError, SyncdError, WixConflict, WixError
from syncd.guards import GuardResult, check_guards
from syncd.journal import Journal, journal_path, new_run_id, read_journal, rollback_points
from syncd.metrics import Metrics
from syncd.model import Catalog, StoreSnapshot
from syncd.rollback import RollbackPlan, plan_rollback
from syncd.settings import Settings, SiteSettings
from syncd.sources import DesiredSource, load_desired
from syncd.state import RunState, read_state, write_state
from syncd.wix import LimiterPool, RequestEvent, StoreAdapter, WixClient, open_store


@dataclass(frozen=True, slots=True)
class PlanResult:
    """A plan and what it was computed from."""

    source: DesiredSource
    snapshot: StoreSnapshot
    plan: Plan
    guards: tuple[GuardResult, ...]
    kind: CycleKind


@dataclass(frozen=True, slots=True)
class SyncResult:
    """One cycle: the plan, what applying it did (None for a dry run), and its cost."""

    planned: PlanResult
    applied: ApplyReport | None
    api_calls: int
    duration_s: float
    run_id: str


class SiteSync:
    """Everything one site needs across cycles; use as an async context manager."""

    def __init__(
        self,
        site: SiteSettings,
        *,
        state_dir: Path,
        session: aiohttp.ClientSession | None = None,
        metrics: Metrics | None = None,
        limiters: LimiterPool | None = None,
    ) -> None:
        self.site = site
        self.state_dir = state_dir
        wix_settings = site.wix_settings()
        self.client = WixClient(
            api_key=site.api_key.reveal(), site_id=site.site_id, settings=wix_settings,
            session=session,
            limiter=limiters.get(wix_settings, site.site_id) if limiters else None)
        self.log: structlog.typing.FilteringBoundLogger = structlog.get_logger(
            "syncd.sync").bind(site=site.name)
        self._store: StoreAdapter | None = None
        self._products_by_key: dict[str, frozenset[str]] | None = None
        self._managed = 0
        """Variants the last full plan managed: the fast lane's changed-fraction base."""
        if metrics is not None:
            self.client.subscribe(_metrics_observer(metrics, site.name))

    async def __aenter__(self) -> SiteSync:
        await self.client.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.client.close()

    @property
    def has_index(self) -> bool:
        """True once a full walk has built the index the fast lane needs."""
        return self._products_by_key is not None

    async def store(self) -> StoreAdapter:
        """The catalog adapter, detected on first use and kept (a site never changes back)."""
        if self._store is None:
            self._store = await open_store(self.client, catalog=self.site.catalog.value,
                                           settings=self.site.walk_settings())
            self.log.info("catalog_detected", catalog=self._store.catalog.value)
        return self._store

    def load_source(self) -> DesiredSource:
        """Read and check the site's source (raises ``SourceError``)."""
        return load_desired(self.site.source)

    async def plan(
        self,
        *,
        source: DesiredSource | None = None,
        kind: CycleKind = CycleKind.FULL,
        changed_keys: Iterable[str] | None = None,
        force: bool = False,
    ) -> PlanResult:
        """Walk (all of the store, or the products behind ``changed_keys``) and plan.

        The guards are evaluated and returned; with ``force=False`` a failing guard raises
        ``GuardRefused``. A fast plan needs a previous full walk (``has_index``).
        """
        if source is None:
            source = await asyncio.to_thread(self.load_source)
        store = await self.store()
        policy = self.site.policy
        fast = kind is CycleKind.FAST and changed_keys is not None and self.has_index
        try:
            if fast:
                assert changed_keys is not None
                snapshot = await self._refresh_for(store, changed_keys)
            else:
                kind = CycleKind.FULL
                snapshot = await store.walk()
                self._index(snapshot)
        except WixConflict:
            # A read has no revision to conflict on: Wix answers 428 when the site now runs
            # the other catalog (an upgrade to V3). Ask again next cycle.
            self.log.warning("catalog_changed_rechecking", catalog=store.catalog.value)
            self._store = None
            self._products_by_key = None
            raise
        plan = plan_changes(source.rows, snapshot, policy, invalid_rows=source.errors)
        if not fast:
            self._managed = plan.managed
        # A fast cycle sees a handful of products; its changes are measured against what
        # the last full cycle managed, so a bad file is refused on either lane.
        guarded = replace(plan, managed=max(plan.managed, self._managed)) if fast else plan
        previous = await asyncio.to_thread(read_state, self.state_dir, self.site.name)
        guards = check_guards(guarded, policy,
                              previous_source_rows=previous.source_rows if previous else None,
                              force=force)
        return PlanResult(source=source, snapshot=snapshot, plan=plan, guards=guards, kind=kind)

    async def sync(
        self,
        *,
        dry_run: bool = False,
        force: bool = False,
        kind: CycleKind = CycleKind.FULL,
        changed_keys: Iterable[str] | None = None,
        stop: asyncio.Event | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> SyncResult:
        """Plan and (unless ``dry_run``) apply once. Raises ``SourceError``,
        ``GuardRefused`` or ``WixError`` before any write; after the first write, failures
        are reported in the result instead."""
        started = time.monotonic()
        calls_before = self.client.calls.total
        run_id = new_run_id(datetime.now(UTC))
        log = self.log.bind(run_id=run_id)
        planned = await self.plan(kind=kind, changed_keys=changed_keys, force=force)
        plan = planned.plan
        log.info("plan_ready", kind=planned.kind.value, changes=len(plan.changes),
                 matched=plan.matched, store_variants=plan.store_variants,
                 unmatched_rows=len(plan.unmatched_rows), ambiguous_skus=len(plan.ambiguous),
                 hidden_changes=plan.hidden_changes,
                 walk_calls=planned.snapshot.api_calls)
        applied: ApplyReport | None = None
        if not dry_run:
            journal = Journal.for_site(self.state_dir, self.site.name, run_id=run_id)
            async with journal:
                applied = await apply_changes(plan, store=await self.store(), journal=journal,
                                              write_mode=self.site.policy.write_mode,
                                              stop=stop, log=log, progress=progress)
            if applied.complete:
                await asyncio.to_thread(
                    write_state, self.state_dir, self.site.name,
                    RunState(last_success_at=datetime.now(UTC),
                             source_rows=len(planned.source.rows),
                             source_digest=planned.source.digest()))
        return SyncResult(planned=planned, applied=applied,
                          api_calls=self.client.calls.total - calls_before,
                          duration_s=time.monotonic() - started, run_id=run_id)

    async def rollback(
        self,
        *,
        run_id: str | None = None,
        include_drifted: bool = False,
        dry_run: bool = False,
        stop: asyncio.Event | None = None,
    ) -> tuple[RollbackPlan, ApplyReport | None]:
        """Undo the journaled run ``run_id`` (default: the last one that wrote anything).

        Re-reads only the variants the run touched, restores those still holding what the
        run wrote, and journals the restoring writes as a run of their own (so a rollback
        can itself be rolled back). Raises ``SyncdError`` when the journal names no such run.
        """
        path = journal_path(self.state_dir, self.site.name)
        entries = await asyncio.to_thread(lambda: list(read_journal(path)))
        points = rollback_points(entries, run_id=run_id)
        if not points:
            which = f"run {run_id}" if run_id else "any run"
            raise SyncdError(f"{path}: no applied write of {which} to roll back")
        target = next(iter(points.values())).run_id
        store = await self.store()
        if store.catalog is Catalog.V1:
            snapshot = await store.refresh(product_ids=sorted({p.product_id
                                                               for p in points.values()}))
        else:
            snapshot = await store.refresh(item_ids=sorted({p.inventory_item_id
                                                            for p in points.values()}))
        planned = plan_rollback(target, points, snapshot, include_drifted=include_drifted)
        self.log.info("rollback_planned", rolled_back_run=target,
                      changes=len(planned.plan.changes), drifted=len(planned.drifted),
                      missing=len(planned.missing), already=planned.already_restored)
        if dry_run or not planned.plan.changes:
            return planned, None
        new_run = new_run_id(datetime.now(UTC))
        journal = Journal.for_site(self.state_dir, self.site.name, run_id=new_run)
        async with journal:
            applied = await apply_plan(planned.plan, store=store, journal=journal, stop=stop,
                                       log=self.log.bind(run_id=new_run, rollback_of=target))
        return planned, applied

    def _index(self, snapshot: StoreSnapshot) -> None:
        """Remember which products hold each SKU and id key, for the fast lane."""
        index: dict[str, set[str]] = {}
        for v in snapshot.variants:
            for key in (v.sku, f"{v.product_id}/{v.variant_id}", v.product_id):
                if key:
                    index.setdefault(key, set()).add(v.product_id)
        self._products_by_key = {k: frozenset(p) for k, p in index.items()}

    async def _refresh_for(self, store: StoreAdapter, keys: Iterable[str]) -> StoreSnapshot:
        """The variants the fast lane must see for ``keys``: on V3, every item carrying a
        changed SKU now (a SKU copied to another product since the last full walk is then
        seen as ambiguous); on V1, which cannot query variants by SKU, every product that
        held the key at the last full walk, the next full cycle catching later copies."""
        keys = list(keys)
        if store.catalog is Catalog.V1:
            return await store.refresh(product_ids=self._products_for(keys))
        by_ids = {k for k in keys if "/" in k or self._is_product_id(k)}
        skus = [k for k in keys if k not in by_ids]
        return await store.refresh(product_ids=self._products_for(by_ids), skus=skus)

    def _is_product_id(self, key: str) -> bool:
        assert self._products_by_key is not None
        return self._products_by_key.get(key) == frozenset({key})

    def _products_for(self, keys: Iterable[str]) -> list[str]:
        """Products to re-read for ``keys``: every product that held the key at the last
        full walk, so a SKU shared by two products is still seen as ambiguous."""
        assert self._products_by_key is not None
        products: set[str] = set()
        for key in keys:
            products |= self._products_by_key.get(key, frozenset())
            if "/" in key:  # a product/variant key of a product the walk did not see
                products.add(key.split("/", 1)[0])
        return sorted(products)


def _metrics_observer(metrics: Metrics, site: str) -> Callable[[RequestEvent], None]:
    api = metrics.for_site(site)

    def observe(event: RequestEvent) -> None:
        api.observe_request(event.endpoint, event.status if event.status is not None
                            else (event.error or "error"), event.duration_s)
        if event.attempt > 1:
            api.observe_retry(event.endpoint)
        if event.wait_s:
            api.observe_limiter_wait(event.wait_s)
        if event.status == 429:
            api.observe_rate_limited()

    return observe


class SyncCycleRunner:
    """The daemon's cycle runner: one ``SiteSync`` per site, one cycle per call."""

    def __init__(self, sites: dict[str, SiteSync]) -> None:
        self._sites = sites

    async def __call__(
        self,
        site: SiteSettings,
        *,
        kind: CycleKind,
        changed_keys: frozenset[str] | None,
        stop: asyncio.Event,
    ) -> CycleOutcome:
        sync = self._sites[site.name]
        started = time.monotonic()

        def outcome(result: CycleResult, **kw: object) -> CycleOutcome:
            return CycleOutcome(site=site.name, kind=kind, result=result,
                                duration_s=time.monotonic() - started, **kw)  # type: ignore[arg-type]

        if kind is CycleKind.FAST and not sync.has_index:
            kind = CycleKind.FULL
        try:
            result = await sync.sync(kind=kind, changed_keys=changed_keys, stop=stop)
        except SourceError as exc:
            return outcome(CycleResult.INVALID_SOURCE, error=str(exc),
                           summary=f"source refused: {_first_line(exc)}")
        except GuardRefused as exc:
            return outcome(CycleResult.REFUSED, error=str(exc),
                           summary=f"refused by guard {exc.guard}")
        except (WixError, SyncdError) as exc:
            return outcome(CycleResult.FAILED, error=str(exc),
                           summary=f"failed: {type(exc).__name__}: {_first_line(exc)}")
        kind = result.planned.kind
        plan = result.planned.plan
        applied = result.applied
        assert applied is not None
        if applied.complete:
            res = CycleResult.OK
        elif applied.stopped and applied.failed == 0:
            res = CycleResult.SKIPPED
        else:
            res = CycleResult.FAILED
        summary = (f"{kind.value} cycle: {len(plan.changes)} planned, {applied.written} "
                   f"written, {applied.failed} failed, {applied.not_attempted} unsent, "
                   f"{result.api_calls} API calls")
        return outcome(res, planned=len(plan.changes), written=applied.written,
                       failed=applied.failed, summary=summary,
                       out_of_sync=applied.failed + applied.not_attempted
                       if kind is CycleKind.FULL else None)


def _first_line(exc: BaseException) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


@asynccontextmanager
async def open_site_syncs(
    settings: Settings, *, metrics: Metrics | None = None, site_names: Iterable[str] = (),
    limiters: LimiterPool | None = None,
) -> AsyncIterator[dict[str, SiteSync]]:
    """A ``SiteSync`` per configured site (or per named one), sharing one HTTP session, and
    the stores' budgets from ``limiters`` when given (a daemon keeps them across reloads)."""
    wanted = set(site_names)
    async with aiohttp.ClientSession() as session:
        syncs = {s.name: SiteSync(s, state_dir=settings.state_dir, session=session,
                                  metrics=metrics, limiters=limiters)
                 for s in settings.sites if not wanted or s.name in wanted}
        yield syncs


@asynccontextmanager
async def open_cycle_runner(
    settings: Settings, *, metrics: Metrics | None = None, limiters: LimiterPool | None = None
) -> AsyncIterator[SyncCycleRunner]:
    """The daemon's runner for one configuration generation (see ``syncd.daemon.wiring``)."""
    async with open_site_syncs(settings, metrics=metrics, limiters=limiters) as syncs:
        yield SyncCycleRunner(syncs)
