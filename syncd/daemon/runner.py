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

from syncd.config import Settings, SiteSettings
from syncd.daemon.cycle import CycleKind, CycleOutcome, CycleResult
from syncd.errors import (
    GuardRefused,
    NoMatch,
    SourceError,
    StopRequested,
    SyncdError,
    WixError,
)
from syncd.metrics import Metrics
from syncd.sync import SiteSync, open_site_syncs
from syncd.wix import LimiterPool


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
        force: bool = False,
    ) -> CycleOutcome:
        sync = self._sites[site.name]
        started = time.monotonic()

        def outcome(result: CycleResult, **kw: object) -> CycleOutcome:
            return CycleOutcome(site=site.name, kind=kind, result=result,
                                duration_s=time.monotonic() - started, **kw)  # type: ignore[arg-type]

        if kind is CycleKind.FAST and not sync.has_index:
            kind = CycleKind.FULL
        try:
            result = await sync.sync(kind=kind, changed_keys=changed_keys, stop=stop,
                                     force=force)
        except SourceError as exc:
            return outcome(CycleResult.INVALID_SOURCE, error=str(exc),
                           summary=f"source refused: {_first_line(exc)}")
        except NoMatch as exc:
            return outcome(CycleResult.NO_MATCH, error=str(exc),
                           summary=f"source matches too little: {_first_line(exc)}")
        except GuardRefused as exc:
            return outcome(CycleResult.REFUSED, error=str(exc),
                           summary=f"refused by guard {exc.guard}; to approve this plan "
                           f"without stopping the daemon: check it with `syncd plan --site "
                           f"{site.name}`, then run `syncd sync --force --site {site.name}` "
                           "(it asks this daemon to run one forced cycle)")
        except StopRequested:
            return outcome(CycleResult.SKIPPED, summary="stopped before any write")
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
async def open_cycle_runner(
    settings: Settings, *, metrics: Metrics | None = None, limiters: LimiterPool | None = None
) -> AsyncIterator[SyncCycleRunner]:
    """The daemon's runner for one configuration generation (see ``syncd.daemon.wiring``)."""
    async with open_site_syncs(settings, metrics=metrics, limiters=limiters) as syncs:
        yield SyncCycleRunner(syncs)
