"""The daemon's cycle runner: ``syncd.cycle.sync``'s cycle behind the daemon's ``CycleRunner`` seam.

One ``SiteSync`` per site for a configuration generation, one cycle per call; expected
failures become outcomes (``invalid_source``, ``refused``, ``failed``) rather than
exceptions, as the seam's contract asks. How a cycle ended is decided by
``syncd.cycle.endings.classify``, the same function the one-shot commands use.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog

from syncd.apply.absolute import ApplyReport
from syncd.base.errors import GuardRefused, LeaseLost, SyncdError
from syncd.core.plan_digest import short_digest
from syncd.core.rollback import RollbackPlan
from syncd.cycle.endings import CycleEnd, Ending, classify
from syncd.cycle.metrics import Metrics
from syncd.cycle.results import PlanResult, SyncResult
from syncd.cycle.sync import SiteSync
from syncd.cycle.wiring import open_site_syncs
from syncd.edges.backend import StateBackend
from syncd.edges.backend.console_state import Approval, ConsoleAction
from syncd.edges.backend.fence import SiteLease
from syncd.edges.config import Settings, SiteSettings
from syncd.edges.feeds.copy import FeedCopies
from syncd.edges.wix import LimiterPool
from syncd.frontends.daemon.cycle import CycleKind, CycleOutcome, CycleResult
from syncd.frontends.daemon.site_board import Board

log = structlog.get_logger("syncd.frontends.daemon")


class SyncCycleRunner:
    """The daemon's cycle runner: one ``SiteSync`` per site, one cycle per call.

    Every full cycle first takes the site's waiting approval from the state backend (left
    by the console or by ``syncd sync --force``): the cycle overrides the guards only if
    it plans the approved plan (the same digest, ``syncd.core.plan_digest``). A plan that
    changed since is refused as usual and the approval is dropped (``approval_stale``,
    also in the console's action log); a cycle that ended before it planned leaves the
    approval for the next one. With a ``Board`` it also tells the board every cycle's plan
    and account, and serves the console's rollbacks, one at a time with that site's cycles.
    """

    def __init__(self, sites: dict[str, SiteSync], *, board: Board | None = None) -> None:
        self._sites = sites
        self._board = board
        self._busy = {name: asyncio.Lock() for name in sites}

    async def __call__(
        self,
        site: SiteSettings,
        *,
        kind: CycleKind,
        changed_keys: frozenset[str] | None,
        stop: asyncio.Event,
        force: bool = False,
        lease: SiteLease | None = None,
    ) -> CycleOutcome:
        backend = self._sites[site.name].backend
        calls = self._sites[site.name].client.calls
        calls_before = calls.total
        async with self._busy[site.name]:
            # Only a full cycle plans everything an approval may have been given for.
            approval = await backend.take_approval(site.name) \
                if kind is CycleKind.FULL and not force else None
            approved = approval.digest if approval is not None else None
            if approval is not None:
                log.info("approval_taken", site=site.name, digest=short_digest(approved or ""),
                         approved_by=approval.by)
            try:
                outcome, planned, result = await self._cycle(site, kind, changed_keys, stop,
                                                             force, lease, approved)
            except asyncio.CancelledError:
                if approval is not None:  # cancelled before it could apply: keep it
                    await asyncio.shield(backend.grant_approval(site.name, approval))
                raise
        stale = None
        if approval is not None:
            stale = await self._settle_approval(site.name, approval, backend, planned)
        forced = force or (planned is not None and approved == planned.digest)
        if forced and approval is not None:
            log.warning("cycle_forced_by_approval", site=site.name,
                        digest=short_digest(approval.digest), approved_by=approval.by)
        if self._board is not None:
            # Counted here, not from the result: a refused or failed cycle spent calls too.
            self._board.record(outcome, planned=planned, forced=forced,
                               run_id=result.run_id if result is not None else None,
                               api_calls=calls.total - calls_before,
                               refused=outcome.result is CycleResult.REFUSED, stale=stale)
        return outcome

    async def _settle_approval(self, site: str, approval: Approval, backend: StateBackend,
                               planned: PlanResult | None) -> str | None:
        """After a cycle that took ``approval``: put it back when the cycle never planned,
        and say why it was dropped when the plan was another (returns that message)."""
        if planned is None:
            await backend.grant_approval(site, approval)
            log.info("approval_kept", site=site, digest=short_digest(approval.digest),
                     reason="the cycle ended before it planned")
            return None
        if planned.digest == approval.digest:
            return None
        message = (f"the plan changed since it was approved (approved "
                   f"{short_digest(approval.digest) or 'no plan'}, now "
                   f"{short_digest(planned.digest)} with {len(planned.plan.changes)} "
                   "change(s)): approve the new plan")
        log.warning("approval_stale", site=site, approved=short_digest(approval.digest),
                    planned=short_digest(planned.digest), approved_by=approval.by,
                    reason=message)
        await backend.record_action(ConsoleAction(
            at_s=time.time(), action="approval_stale", site=site, by="daemon",
            allowed=False, detail=message))
        return message

    async def explain(self, site: str, sku: str, latest: PlanResult) -> PlanResult | None:
        """A plan of the products holding ``sku``, read now, from ``latest``'s source (the
        console's SKU page): one or two requests on the site's budget, no write. None when
        the site has no product index yet (no full walk since it started or since its
        catalog changed) or cannot read one SKU's products (match keys, locations)."""
        sync = self._sites.get(site)
        if sync is None or not sync.has_index or sync.site.match.active \
                or latest.source.located:
            return None
        return await sync.plan(source=latest.source, kind=CycleKind.FAST,
                               changed_keys=[sku], force=True)

    async def rollback(self, site: str, run_id: str | None,
                       dry_run: bool) -> tuple[RollbackPlan, ApplyReport | None]:
        """Undo ``run_id`` (default: the last run that wrote) on ``site``, between cycles."""
        async with self._busy[site]:
            return await self._sites[site].rollback(run_id=run_id, dry_run=dry_run)

    async def _cycle(
        self, site: SiteSettings, kind: CycleKind, changed_keys: frozenset[str] | None,
        stop: asyncio.Event, force: bool, lease: SiteLease | None, approved: str | None,
    ) -> tuple[CycleOutcome, PlanResult | None, SyncResult | None]:
        sync = self._sites[site.name]
        started = time.monotonic()

        if kind is CycleKind.FAST and not sync.has_index:
            kind = CycleKind.FULL
        try:
            result = await sync.sync(kind=kind, changed_keys=changed_keys, stop=stop,
                                     force=force, lease=lease, approved=approved)
        except SyncdError as exc:
            ending = classify(exc)
            if isinstance(exc, LeaseLost):
                # Writes journaled before the lease ended stay in the journal (pending, or
                # settled): the site's next owner settles them as after a crash.
                log.warning("cycle_fenced", site=site.name, reason=str(exc))
        else:
            ending = classify(result)
        # The board is shown the plan of a cycle that wrote, or of one a guard refused.
        shown = ending.planned if ending.result is not None or ending.end is CycleEnd.REFUSED \
            else None
        return (_cycle_outcome(ending, site=site.name, kind=kind, stopwatch=started), shown,
                ending.result)


_RESULTS = {
    CycleEnd.OK: CycleResult.OK,
    CycleEnd.PENDING: CycleResult.OK,
    CycleEnd.REFUSED: CycleResult.REFUSED,
    CycleEnd.NO_MATCH: CycleResult.NO_MATCH,
    CycleEnd.INVALID_SOURCE: CycleResult.INVALID_SOURCE,
    CycleEnd.FAILED: CycleResult.FAILED,
    CycleEnd.LOCKED: CycleResult.FAILED,
    CycleEnd.STOPPED: CycleResult.SKIPPED,
    CycleEnd.STATE_UNUSABLE: CycleResult.FAILED,
}
"""The daemon's result (its metrics label) for each way a cycle ends."""


def _cycle_outcome(ending: Ending, *, site: str, kind: CycleKind,
                   stopwatch: float) -> CycleOutcome:
    """The seam's outcome of a cycle that ended as ``ending`` (see ``syncd.cycle.endings``)."""
    duration_s = time.monotonic() - stopwatch
    result = _RESULTS[ending.end]
    applied = ending.result.applied if ending.result is not None else None
    if ending.result is None or applied is None:
        plain_stop = ending.end is CycleEnd.STOPPED and not isinstance(ending.error, LeaseLost)
        return CycleOutcome(site=site, kind=kind, result=result, duration_s=duration_s,
                            error=None if plain_stop else ending.reason,
                            summary=_error_summary(ending, site))
    kind = ending.result.planned.kind
    plan = ending.result.planned.plan
    unconfirmed = (f"{applied.unconfirmed} sent but unconfirmed (pending in the journal), "
                   if applied.unconfirmed else "")
    summary = (f"{kind.value} cycle: {len(plan.changes)} planned, {applied.written} "
               f"written, {applied.failed} failed, {unconfirmed}{applied.not_attempted} "
               f"unsent, {ending.result.api_calls} API calls")
    return CycleOutcome(site=site, kind=kind, result=result, duration_s=duration_s,
                        planned=len(plan.changes), written=applied.written,
                        failed=applied.failed, summary=summary,
                        out_of_sync=applied.failed + applied.unconfirmed
                        + applied.not_attempted if kind is CycleKind.FULL else None)


def _error_summary(ending: Ending, site: str) -> str:
    """The daemon's one line for a cycle an error ended before it wrote."""
    exc = ending.error
    match ending.end:
        case CycleEnd.INVALID_SOURCE:
            return f"source refused: {ending.summary}"
        case CycleEnd.NO_MATCH:
            return f"source matches too little: {ending.summary}"
        case CycleEnd.REFUSED:
            guard = exc.guard if isinstance(exc, GuardRefused) else "?"
            return (f"refused by guard {guard}; to approve this plan without stopping the "
                    f"daemon: check it with `syncd plan --site {site}`, then run `syncd sync "
                    f"--force --site {site}` (it asks this daemon to run one forced cycle), "
                    "or approve it in the console")
        case CycleEnd.STOPPED if isinstance(exc, LeaseLost):
            return f"stopped: {ending.summary}"
        case CycleEnd.STOPPED:
            return ending.summary
    return f"failed: {type(exc).__name__}: {ending.summary}"


@asynccontextmanager
async def open_cycle_runner(
    settings: Settings, *, metrics: Metrics | None = None, limiters: LimiterPool | None = None,
    feeds: FeedCopies | None = None,
    board: Board | None = None,
) -> AsyncIterator[SyncCycleRunner]:
    """The daemon's runner for one configuration generation (see ``syncd.frontends.daemon.wiring``);
    ``feeds`` are the feed copies the daemon's pollers keep fresh, ``board`` what the console
    shows."""
    async with open_site_syncs(settings, metrics=metrics, limiters=limiters, feeds=feeds,
                               incremental=settings.schedule.incremental) as syncs:
        runner = SyncCycleRunner(syncs, board=board)
        if board is None:
            yield runner
            return
        board.adopt(list(settings.sites))
        board.rollback, board.explain = runner.rollback, runner.explain
        try:
            yield runner
        finally:
            board.rollback = board.explain = None
