"""The daemon's cycle runner: ``syncd.sync``'s cycle behind the daemon's ``CycleRunner`` seam.

One ``SiteSync`` per site for a configuration generation, one cycle per call; expected
failures become outcomes (``invalid_source``, ``refused``, ``failed``) rather than
exceptions, as the seam's contract asks.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog

from syncd.apply import ApplyReport
from syncd.backend.fence import SiteLease
from syncd.config import Settings, SiteSettings
from syncd.daemon.board import Board
from syncd.daemon.cycle import CycleKind, CycleOutcome, CycleResult
from syncd.errors import (
    GuardRefused,
    LeaseLost,
    NoMatch,
    SourceError,
    StopRequested,
    SyncdError,
    WixError,
)
from syncd.feeds.copy import FeedCopies
from syncd.metrics import Metrics
from syncd.rollback import RollbackPlan
from syncd.sync import PlanResult, SiteSync, SyncResult, open_site_syncs
from syncd.wix import LimiterPool

log = structlog.get_logger("syncd.daemon")


class SyncCycleRunner:
    """The daemon's cycle runner: one ``SiteSync`` per site, one cycle per call.

    With a ``Board`` it also tells the board every cycle's plan and account, runs a site's
    next cycle forced once when the board holds an approval for it, and serves the
    console's rollbacks, one at a time with that site's cycles.
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
        forced = force or (self._board is not None and self._board.take_approval(site.name))
        if forced:
            log.warning("cycle_forced_by_approval", site=site.name)
        calls = self._sites[site.name].client.calls
        calls_before = calls.total
        async with self._busy[site.name]:
            outcome, planned, result = await self._cycle(site, kind, changed_keys, stop, forced,
                                                         lease)
        if self._board is not None:
            # Counted here, not from the result: a refused or failed cycle spent calls too.
            self._board.record(outcome, planned=planned, forced=forced,
                               run_id=result.run_id if result is not None else None,
                               api_calls=calls.total - calls_before,
                               refused=outcome.result is CycleResult.REFUSED)
        return outcome

    async def rollback(self, site: str, run_id: str | None,
                       dry_run: bool) -> tuple[RollbackPlan, ApplyReport | None]:
        """Undo ``run_id`` (default: the last run that wrote) on ``site``, between cycles."""
        async with self._busy[site]:
            return await self._sites[site].rollback(run_id=run_id, dry_run=dry_run)

    async def _cycle(
        self, site: SiteSettings, kind: CycleKind, changed_keys: frozenset[str] | None,
        stop: asyncio.Event, force: bool, lease: SiteLease | None,
    ) -> tuple[CycleOutcome, PlanResult | None, SyncResult | None]:
        sync = self._sites[site.name]
        started = time.monotonic()

        def outcome(result: CycleResult, **kw: object) -> CycleOutcome:
            return CycleOutcome(site=site.name, kind=kind, result=result,
                                duration_s=time.monotonic() - started, **kw)  # type: ignore[arg-type]

        if kind is CycleKind.FAST and not sync.has_index:
            kind = CycleKind.FULL
        try:
            result = await sync.sync(kind=kind, changed_keys=changed_keys, stop=stop,
                                     force=force, lease=lease)
        except SourceError as exc:
            return outcome(CycleResult.INVALID_SOURCE, error=str(exc),
                           summary=f"source refused: {_first_line(exc)}"), None, None
        except NoMatch as exc:
            return outcome(CycleResult.NO_MATCH, error=str(exc),
                           summary=f"source matches too little: {_first_line(exc)}"), None, None
        except GuardRefused as exc:
            refused = exc.result if isinstance(exc.result, PlanResult) else None
            return outcome(CycleResult.REFUSED, error=str(exc),
                           summary=f"refused by guard {exc.guard}; to approve this plan "
                           f"without stopping the daemon: check it with `syncd plan --site "
                           f"{site.name}`, then run `syncd sync --force --site {site.name}` "
                           "(it asks this daemon to run one forced cycle), or approve it "
                           "in the console"), refused, None
        except LeaseLost as exc:
            # Writes journaled before the lease ended stay in the journal (pending, or
            # settled): the site's next owner settles them as after a crash.
            log.warning("cycle_fenced", site=site.name, reason=str(exc))
            return outcome(CycleResult.SKIPPED, error=str(exc),
                           summary=f"stopped: {_first_line(exc)}"), None, None
        except StopRequested:
            return outcome(CycleResult.SKIPPED, summary="stopped before any write"), None, None
        except (WixError, SyncdError) as exc:
            return outcome(CycleResult.FAILED, error=str(exc),
                           summary=f"failed: {type(exc).__name__}: {_first_line(exc)}"), None, None
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
                       if kind is CycleKind.FULL else None), result.planned, result


def _first_line(exc: BaseException) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


@asynccontextmanager
async def open_cycle_runner(
    settings: Settings, *, metrics: Metrics | None = None, limiters: LimiterPool | None = None,
    feeds: FeedCopies | None = None,
    board: Board | None = None,
) -> AsyncIterator[SyncCycleRunner]:
    """The daemon's runner for one configuration generation (see ``syncd.daemon.wiring``);
    ``feeds`` are the feed copies the daemon's pollers keep fresh, ``board`` what the console
    shows."""
    async with open_site_syncs(settings, metrics=metrics, limiters=limiters, feeds=feeds,
                               incremental=settings.schedule.incremental) as syncs:
        runner = SyncCycleRunner(syncs, board=board)
        if board is None:
            yield runner
            return
        board.adopt(list(settings.sites))
        board.rollback = runner.rollback
        try:
            yield runner
        finally:
            board.rollback = None
