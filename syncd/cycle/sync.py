"""One sync cycle of one site: read the source, walk the store, plan, guard, apply, record.

``SiteSync`` holds what a site needs across cycles (its Wix client, the catalog adapter,
and the SKU -> product index of the last full walk that the daemon's fast lane uses). The
one-shot commands (``syncd plan``, ``syncd sync``) make one and run a single cycle; the
daemon keeps one per site for a configuration generation (``syncd.frontends.daemon.runner``).

A cycle never writes before every check has passed: the source is read and validated
whole, the plan is computed from a complete walk, and the safety guards see the plan
first. Only a cycle whose writes all landed updates the run state (kept by the state
backend), which is what the source-shrink guard compares the next source against.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import structlog

from syncd.apply.absolute import ApplyReport, apply_plan
from syncd.apply.applier import apply_changes
from syncd.apply.recent_writes import OpenWrites, settle_open_writes
from syncd.base.errors import GuardRefused, NoMatch, StateError, SyncdError, WixClientError
from syncd.base.model import Catalog, StoreSnapshot
from syncd.core.answer429 import Answer429, with_429_findings
from syncd.core.diff import plan_changes
from syncd.core.guards import check_guards, evaluate_guards
from syncd.core.journal import new_run_id
from syncd.core.match_coverage import match_problem, matched_rows
from syncd.core.plan import Plan
from syncd.core.plan_digest import plan_digest
from syncd.core.policy import Unmatched
from syncd.core.rollback import RollbackPlan, plan_rollback
from syncd.core.store_hints import StoreHints, hints_from, without_catalog
from syncd.cycle.incremental import Informer
from syncd.cycle.metrics import Metrics
from syncd.cycle.product_index import ProductIndex
from syncd.cycle.progress import SyncProgress, publish_progress
from syncd.cycle.results import CycleKind, PlanResult, SyncResult, landed_writes
from syncd.cycle.site_client import (
    fallback_observer,
    halt_on,
    key_budget,
    key_digest,
    metrics_observer,
)
from syncd.cycle.write_test_runs import (
    is_write_test,
    settle_write_tests,
    unfinished_write_tests,
    write_test_lines,
)
from syncd.edges.backend import LocalBackend, RunState, StateBackend
from syncd.edges.backend.fence import SiteLease
from syncd.edges.backend.reading import rollback_target
from syncd.edges.config import CatalogChoice, SiteSettings, SourceMode
from syncd.edges.feeds.copy import FeedCopies
from syncd.edges.sources import DesiredRows, DesiredSource
from syncd.edges.sources.cache import SourceCache
from syncd.edges.sources.matching import store_view
from syncd.edges.sources.parsers import SourceParsers
from syncd.edges.sources.remote import feed_directory, read_site_source
from syncd.edges.wix import LimiterPool, StoreAdapter, WixClient, open_store


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
        feeds: FeedCopies | None = None,
        polled_feeds: bool = False,
        incremental: bool = False,
        backend: StateBackend | None = None,
        probe_max_age: timedelta = timedelta(days=30),
        parsers: SourceParsers | None = None,
    ) -> None:
        self.site = site
        self.probe_max_age = probe_max_age
        """Probe findings older than this are ignored (``probe.max_age_days``)."""
        self.hints = StoreHints()
        """What the store's fresh probe findings allow, read when the store is opened."""
        self._probe_catalog_contradicted = False
        """A walk of the probe's catalog was answered with a 4xx: ask Wix from now on."""
        self.state_dir = state_dir
        self.backend: StateBackend = backend or LocalBackend(state_dir)
        self.feeds = feeds or FeedCopies(feed_directory(state_dir))
        self._feed_checked_by_poller = polled_feeds
        """A daemon's pollers keep its feed copies fresh: a cycle re-checks only a copy
        older than the poll interval. One-shot commands always check."""
        self.source_cache = SourceCache(parsers)
        """The site's parsed sources, kept while their files do not change; ``parsers``
        (shared by a process's sites) parse them, in a thread by default."""
        self.open_writes = OpenWrites()
        """The site's unsettled journal entries, read as the journal grows."""
        wix_settings = site.wix_settings()
        self.client = WixClient(
            api_key=site.api_key.reveal(), site_id=site.site_id, settings=wix_settings,
            session=session,
            limiter=limiters.get(wix_settings, site.site_id, budget=key_budget(site))
            if limiters else None,
            key_watch=limiters.key_watch(key_digest(site)) if limiters else None)
        self.log: structlog.typing.FilteringBoundLogger = structlog.get_logger(
            "syncd.cycle.sync").bind(site=site.name)
        self._store: StoreAdapter | None = None
        self._products_by_key: ProductIndex | None = None
        self._managed = 0
        """Variants the last full plan managed: the fast lane's changed-fraction base."""
        self._quiet: _Quiet | None = None
        """The last full cycle's read and plan, when it planned nothing (see ``_Quiet``)."""
        self.informer: Informer | None = None
        """Keeps the store's snapshot between cycles for incremental ones (None: off)."""
        if incremental:
            self.informer = Informer(overlap_s=site.walk_settings().change_overlap_s,
                                     on_fallback=fallback_observer(metrics, site.name),
                                     log=self.log)
        self._metrics = metrics
        self._write_tests_checked = False
        """Whether this site's journal was searched for an unfinished write test yet."""
        self._finished_write_tests: set[str] = set()
        """Write tests the journal showed finished at the last search."""
        if metrics is not None:
            self.client.subscribe(metrics_observer(metrics, site.name))

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
            self.hints = await self._read_hints()
            catalog = self.site.catalog
            if (catalog is CatalogChoice.AUTO and self.hints.catalog is not None
                    and not self._probe_catalog_contradicted):
                catalog = CatalogChoice(self.hints.catalog)
            self._store = await open_store(self.client, catalog=catalog,
                                           settings=self.site.walk_settings(),
                                           hints=self.hints)
            self.log.info("catalog_detected", catalog=self._store.catalog.value)
        return self._store

    async def _read_hints(self) -> StoreHints:
        """The hints of the site's stored probe report; none when it is missing, too old
        or unreadable (each is safe: the walk then assumes nothing)."""
        try:
            report = await self.backend.read_probe(self.site.name)
        except StateError as exc:
            self.log.warning("probe_findings_unreadable", error=str(exc),
                             fallback="no finding used")
            return StoreHints()
        hints = hints_from(report, now=datetime.now(UTC), max_age=self.probe_max_age)
        if report is not None and not hints.fresh:
            self.log.info("probe_findings_too_old", taken_at=report.taken_at.isoformat(),
                          max_age_days=self.probe_max_age.total_seconds() / 86_400,
                          fallback="no finding used; run syncd probe again")
        for used in hints.used:
            self.log.info("probe_finding_used", point=used.point, reading=used.reading,
                          effect=used.effect, taken_at=report.taken_at.isoformat()
                          if report is not None else None)
        return hints

    async def _forget_probe_catalog(self, exc: WixClientError) -> None:
        """The store answered a walk of the probe's catalog with a 4xx: keep that finding
        from being used again (here and in the stored report), so the next cycle asks."""
        why = (f"the store answered a {self.hints.catalog} walk with HTTP {exc.status} "
               f"on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC: asked again at the next cycle")
        self.log.warning("probe_finding_contradicted", point="catalog",
                         reading=self.hints.catalog, status=exc.status)
        self._probe_catalog_contradicted = True
        self.hints = replace(self.hints, catalog=None,
                             used=tuple(u for u in self.hints.used if u.point != "catalog"))
        try:
            report = await self.backend.read_probe(self.site.name)
            if report is not None:
                await self.backend.write_probe(self.site.name, without_catalog(report, why))
        except StateError as state_exc:
            self.log.warning("probe_findings_unwritable", error=str(state_exc))

    async def load_source(self) -> DesiredSource:
        """Read, check, match and merge every source of the site, fetching remote feeds
        (raises ``SourceError``)."""
        return await read_site_source(self.site, self.feeds,
                                      polled=self._feed_checked_by_poller,
                                      cache=self.source_cache)

    async def plan(
        self,
        *,
        source: DesiredSource | None = None,
        kind: CycleKind = CycleKind.FULL,
        changed_keys: Iterable[str] | None = None,
        force: bool = False,
        approved: str | None = None,
    ) -> PlanResult:
        """Walk (all of the store, or the products behind ``changed_keys``) and plan.

        The guards are evaluated and returned; with ``force=False`` a failing guard raises
        ``GuardRefused``. A fast plan needs a previous full walk (``has_index``).
        ``approved`` is the digest of a plan an operator approved: the guards are overridden
        only when this plan's digest is that one (``PlanResult.digest``); a plan that
        changed since is refused as usual.
        """
        if source is None:
            source = await self.load_source()
        store = await self.store()
        partial = self.site.source.mode is SourceMode.PARTIAL
        # A partial source speaks only for its rows: what it does not list is never zeroed.
        policy = replace(self.site.policy, unmatched=Unmatched.IGNORE) if partial \
            else self.site.policy
        # Match keys and locations need the whole store: such sites always walk it all.
        fast = (kind is CycleKind.FAST and changed_keys is not None and self.has_index
                and not self.site.match.active and not source.located)
        informer = self.informer
        read_at = datetime.now(UTC)
        snapshot, kind = await self._read(store, source, kind, changed_keys if fast else None)
        quiet = self._quiet
        if snapshot.unchanged and quiet is not None:
            # Wix answered exactly as at the read ``quiet.plan`` was made from, and its
            # inputs are the same: planning again would plan the same nothing.
            plan = quiet.plan
        else:
            snapshot = store_view(snapshot, self.site.match, located=source.located)
            plan = plan_changes(source.rows, snapshot, policy, invalid_rows=source.errors)
        if not fast:
            self._managed = plan.managed
        # A fast cycle sees a handful of products; its changes are measured against what
        # the last full cycle managed, so a bad file is refused on either lane.
        guarded = replace(plan, managed=max(plan.managed, self._managed)) if fast else plan
        if partial:
            # Nearly every row of a file of changes changes: measure against the store.
            guarded = replace(guarded, managed=max(guarded.managed, plan.store_variants))
        previous = await self.backend.read_state(self.site.name)
        if partial:
            previous = None  # row counts of partial files are not comparable run to run
        previous_rows = previous.source_rows if previous else None
        problem = None if fast or snapshot.unchanged else match_problem(
            plan, policy, previous_matched=previous.matched_rows if previous else None,
            previous_rows=previous_rows, store_skus=(v.sku for v in snapshot.variants))
        if kind is CycleKind.FULL:
            self._quiet = _Quiet(snapshot.answers, source.rows, self.hints, self.site, plan) \
                if snapshot.answers is not None and not plan.changes and problem is None \
                and informer is None else None
        digest = plan_digest(self.site.name, source.digest(), plan.changes)
        result = PlanResult(source=source, snapshot=snapshot, plan=plan, kind=kind,
                            hints=self.hints,
                            guards=evaluate_guards(guarded, policy,
                                                   previous_source_rows=previous_rows),
                            match_problem=problem, read_at=read_at, digest=digest)
        if approved is not None and approved == digest:
            force = True  # another plan is refused as usual; the daemon says why
        if problem is not None and not force:
            raise NoMatch(problem, result)
        try:
            check_guards(guarded, policy, previous_source_rows=previous_rows, force=force)
        except GuardRefused as exc:  # keep the plan for whoever is asked to approve it
            exc.result = result
            raise
        return result

    async def sync(
        self,
        *,
        dry_run: bool = False,
        force: bool = False,
        kind: CycleKind = CycleKind.FULL,
        changed_keys: Iterable[str] | None = None,
        stop: asyncio.Event | None = None,
        progress: Callable[[int, int], None] | None = None,
        on_plan: Callable[[PlanResult], None] | None = None,
        lease: SiteLease | None = None,
        approved: str | None = None,
    ) -> SyncResult:
        """Plan and (unless ``dry_run``) apply once. Raises ``SourceError``, ``NoMatch``,
        ``GuardRefused`` or ``WixError`` before any write; after the first write, failures
        are reported in the result instead.

        Once ``stop`` is set no request is sent any more: those on the wire finish, those
        waiting for the budget give up (``StopRequested`` before the plan; journaled
        ``not_sent`` after). ``on_plan`` sees the plan before the first write. A replica
        passes its ``lease`` on the site: once it lapses nothing more is sent or journaled
        (``LeaseLost``, a ``StopRequested``). ``approved``: see ``plan``."""
        run_id = new_run_id(datetime.now(UTC))
        before = self.client.last_429
        try:
            async with halt_on(stop, self.client, lease=lease), \
                    self._publishing(on_plan, progress) as hooks:
                result = await self._sync(dry_run=dry_run, force=force, kind=kind,
                                          changed_keys=changed_keys, stop=stop,
                                          progress=hooks[1], on_plan=hooks[0], lease=lease,
                                          approved=approved, run_id=run_id)
        except Exception:
            await self._keep_429(before, run_id)
            raise
        await self._keep_429(before, run_id)
        return result

    async def _keep_429(self, before: Answer429 | None, run_id: str) -> None:
        """Keep what a 429 met during run ``run_id`` shows in the stored findings (its points
        only; ``syncd.core.answer429``); ``before``: the client's last 429 before the run."""
        met = self.client.last_429
        if met is None or met is before:
            return
        try:
            report = await self.backend.read_probe(self.site.name)
            await self.backend.write_probe(self.site.name, with_429_findings(
                report, self.site.name, met, during=f"sync {run_id}",
                refused_with=self.client.refused_with_same_key()))
        except StateError as exc:
            self.log.warning("probe_findings_unwritable", error=str(exc))
            return
        self.log.info("rate_limit_answer_kept", request=met.request,
                      retry_after=met.retry_after, body=met.body, run_id=run_id)

    async def _sync(
        self,
        *,
        dry_run: bool,
        force: bool,
        kind: CycleKind,
        changed_keys: Iterable[str] | None,
        stop: asyncio.Event | None,
        progress: Callable[[int, int], None] | None,
        on_plan: Callable[[PlanResult], None] | None,
        lease: SiteLease | None,
        approved: str | None = None,
        run_id: str,
    ) -> SyncResult:
        started = time.monotonic()
        calls_before = self.client.calls.total
        log = self.log.bind(run_id=run_id)
        source = await self.load_source()  # a bad source stops the run before any call
        if not dry_run:
            await self.settle_write_tests(stop=stop)
        planned = await self.plan(source=source, kind=kind, changed_keys=changed_keys,
                                  force=force, approved=approved)
        plan = planned.plan
        log.info("plan_ready", kind=planned.kind.value, changes=len(plan.changes),
                 matched=plan.matched, store_variants=plan.store_variants,
                 unmatched_rows=len(plan.unmatched_rows), ambiguous_skus=len(plan.ambiguous),
                 hidden_changes=plan.hidden_changes,
                 walk_calls=planned.snapshot.api_calls)
        if on_plan is not None:
            on_plan(planned)
        applied: ApplyReport | None = None
        if not dry_run:
            journal = self.backend.journal(self.site.name, run_id=run_id, lease=lease)
            async with journal:
                await settle_open_writes(planned.snapshot.variants, journal=journal, log=log,
                                         open_writes=self.open_writes)
                self.open_writes.seen(planned.snapshot.variants)
                applied = await apply_changes(plan, store=await self.store(), journal=journal,
                                              write_mode=self.site.policy.write_mode,
                                              verify_after_s=self.hints.verify_after_s,
                                              stop=stop, log=log, progress=progress,
                                              open_writes=self.open_writes)
            if self.informer is not None:
                self.informer.wrote(landed_writes(planned, applied))
            if self._metrics is not None and applied.ignored_found:
                self._metrics.observe_ignored_writes(self.site.name, applied.ignored_found)
            if applied.complete:
                full = planned.kind is CycleKind.FULL
                # A full cycle counts its matched rows anew; a fast one keeps the last count.
                previous = None if full else await self.backend.read_state(self.site.name)
                await self.backend.write_state(
                    self.site.name,
                    RunState(last_success_at=datetime.now(UTC),
                             source_rows=len(planned.source.rows),
                             source_digest=planned.source.digest(),
                             matched_rows=matched_rows(plan) if full else
                             previous.matched_rows if previous else None))
        return SyncResult(planned=planned, applied=applied,
                          api_calls=self.client.calls.total - calls_before,
                          duration_s=time.monotonic() - started, run_id=run_id)

    async def settle_write_tests(self, *, stop: asyncio.Event | None = None) -> list[str]:
        """Put back what a write test left changed (killed before it could), before this
        run reads the store (``syncd.cycle.write_test_runs``); returns the tests found
        unfinished. The journal is searched on the site's first run, then only when a
        run has seen lines of a write test not known to be finished."""
        latest = self.open_writes.latest.values()
        unknown = {e.run_id if is_write_test(e.run_id) else e.rollback_of or ""
                   for e in latest} - self._finished_write_tests
        if self._write_tests_checked and not any(map(is_write_test, unknown)):
            return []
        entries = await write_test_lines(self.backend, self.site.name)
        # Nothing to put back: no call either (not even the catalog version's).
        found = await settle_write_tests(store=await self.store(), backend=self.backend,
                                         site=self.site.name, log=self.log, stop=stop,
                                         entries=entries) \
            if unfinished_write_tests(entries) else []
        self._finished_write_tests = {e.run_id for e in entries
                                      if is_write_test(e.run_id)} - set(found)
        self._write_tests_checked = True
        return found

    async def rollback(
        self,
        *,
        run_id: str | None = None,
        include_drifted: bool = False,
        dry_run: bool = False,
        stop: asyncio.Event | None = None,
        lease: SiteLease | None = None,
    ) -> tuple[RollbackPlan, ApplyReport | None]:
        """Undo the journaled run ``run_id`` (default: the last one that wrote anything).

        Re-reads only the variants the run touched, restores those still holding what the
        run wrote, and journals the restoring writes as a run of their own (so a rollback
        can itself be rolled back). Raises ``SyncdError`` when the journal names no such run.
        """
        points = await rollback_target(self.backend, self.site.name, run_id)
        if not points:
            which = f"run {run_id}" if run_id else "any run"
            raise SyncdError(f"{self.backend.where(self.site.name)}: no applied write of "
                             f"{which} to roll back")
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
        journal = self.backend.journal(self.site.name, run_id=new_run, rollback_of=target,
                                       lease=lease)
        async with journal, halt_on(stop, self.client, lease=lease):
            applied = await apply_plan(planned.plan, store=store, journal=journal, stop=stop,
                                       log=self.log.bind(run_id=new_run, rollback_of=target))
        return planned, applied

    @asynccontextmanager
    async def _publishing(
        self, on_plan: Callable[[PlanResult], None] | None,
        progress: Callable[[int, int], None] | None,
    ) -> AsyncIterator[tuple[Callable[[PlanResult], None] | None,
                             Callable[[int, int], None] | None]]:
        """With metrics (the daemon), keep the live progress gauges current during the
        cycle; yields the callbacks to use."""
        if self._metrics is None:
            yield on_plan, progress
            return
        tracker = SyncProgress(self.site.name, self.client)

        def planned(result: PlanResult) -> None:
            tracker.start_writing(result.plan, self.site.policy.write_mode)
            if on_plan is not None:
                on_plan(result)

        def advanced(done: int, total: int) -> None:
            tracker(done, total)
            if progress is not None:
                progress(done, total)

        task = asyncio.create_task(publish_progress(tracker, self._metrics),
                                   name=f"progress metrics {self.site.name}")
        try:
            yield planned, advanced
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _read(self, store: StoreAdapter, source: DesiredSource, kind: CycleKind,
                    fast_keys: Iterable[str] | None) -> tuple[StoreSnapshot, CycleKind]:
        """The read a plan of ``kind`` is made from, and the kind it turned out to be: the
        products behind ``fast_keys`` (the fast lane), what changed since the last read
        (incremental, when the informer can tell), else the whole store."""
        informer = self.informer
        try:
            if fast_keys is not None:
                snapshot = await self._refresh_for(store, fast_keys)
            elif (kind is CycleKind.INCREMENTAL and informer is not None
                  and (changed := await informer.incremental(store)) is not None):
                snapshot = changed
            else:
                kind = CycleKind.FULL
                unchanged = self._quiet_answers(source)
                if informer is not None:
                    snapshot = await informer.full(store)
                elif unchanged is not None:
                    snapshot = await store.walk(unchanged=unchanged)
                else:
                    snapshot = await store.walk()
                if not snapshot.unchanged:
                    self._index(snapshot)
        except WixClientError as exc:
            # A read has nothing to conflict on: Wix answers 428 when the site now runs the
            # other catalog (an upgrade to V3), or perhaps 400, 403 or 404 (unconfirmed). Any
            # 4xx from a walk makes the next cycle ask for the catalog again (one call).
            self.log.warning("catalog_changed_rechecking", catalog=store.catalog.value,
                             status=exc.status)
            if self.hints.catalog is not None:
                await self._forget_probe_catalog(exc)
            self._store = None
            self._products_by_key = None
            if informer is not None:
                informer.reset()
            raise
        return snapshot, kind

    def _quiet_answers(self, source: DesiredSource) -> int | None:
        """The answers' digest a full walk may compare its answers with (``_Quiet``), or
        None when this cycle must flatten and plan whatever Wix answers."""
        quiet = self._quiet
        if quiet is None or quiet.site is not self.site or quiet.hints != self.hints \
                or self.site.match.active or source.located or self.open_writes.has_open \
                or quiet.rows is not source.rows:
            return None
        return quiet.answers

    def _index(self, snapshot: StoreSnapshot) -> None:
        """Remember which products hold each SKU and id key, for the fast lane."""
        self._products_by_key = ProductIndex(snapshot.variants)

    async def _refresh_for(self, store: StoreAdapter, keys: Iterable[str]) -> StoreSnapshot:
        """The variants the fast lane must see for ``keys``: on V3, every item carrying a
        changed SKU now (a SKU copied to another product since the last full walk is then
        seen as ambiguous); on V1, which cannot query variants by SKU, every product that
        held the key at the last full walk, the next full cycle catching later copies."""
        keys, index = list(keys), self._products_by_key
        assert index is not None
        if store.catalog is Catalog.V1:
            return await store.refresh(product_ids=index.products_to_read(keys))
        by_ids = {k for k in keys if "/" in k or index.is_product_id(k)}
        skus = [k for k in keys if k not in by_ids]
        return await store.refresh(product_ids=index.products_to_read(by_ids), skus=skus)


@dataclass(frozen=True, slots=True)
class _Quiet:
    """A full cycle that planned nothing, kept so that the next one can skip the planning.

    Most cycles of a daemon's stores find nothing to do. When the next full walk gets the
    same answers from Wix, byte for byte (``answers``, ``syncd.edges.wix.answer_digest``),
    for the same source rows (the same object: the source cache hands back the rows it
    parsed while the file is unchanged, so a rewritten file, even one asking the same, is
    planned again and its line numbers are those reported), store hints and site
    settings, with no write open in the journal, the plan would again be ``plan``, which
    changes nothing; the walk then stops before turning its answers into variants
    (``StoreSnapshot.unchanged``).
    Any difference (a sale, an edit, a write, a changed source or setting) plans as usual.
    """

    answers: int
    rows: DesiredRows
    hints: StoreHints
    site: SiteSettings
    plan: Plan
