"""What the daemon remembers for people to look at: the latest plan and recent runs per site.

The cycle runner feeds the board after every cycle (``record``); the web console reads it.
It is small and in memory only: the latest plan of each site (or the refused one waiting
for approval) and the last ``history`` cycles with their accounts. A plan is kept without
the read of the store it was made from (its changes keep the variants they change): a
300-product store's read is about 700 KB, which for thousands of stores would be most of
the daemon's memory. The console explains a SKU from a read of its products made when the
page is asked for (``explain``, served by the cycle runner); sites whose SKUs cannot be
read one at a time (match keys, stock locations) keep the whole read. A restart forgets it; the
journal keeps the writes themselves, and the state backend keeps what people did: the
approvals waiting for a cycle and the console's action log
(``syncd.edges.backend.console_state``).

Approvals are one-shot and bound to a plan: the console leaves one for the digest of the
refused plan it showed, and the site's next full cycle applies its plan with the guards
overridden only if it is that plan (``syncd.frontends.daemon.runner``); otherwise the
board keeps why (``stale``) for the console to say.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace

from syncd.apply.absolute import ApplyReport
from syncd.core.rollback import RollbackPlan
from syncd.cycle.results import PlanResult
from syncd.edges.config import SiteSettings
from syncd.frontends.daemon.cycle import CycleOutcome


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One finished cycle, as the console lists it."""

    outcome: CycleOutcome
    ended_at_s: float
    run_id: str | None = None
    """The journal's run id (None when the cycle never reached the writes)."""
    api_calls: int = 0
    forced: bool = False
    """Run with the guards overridden (an approval)."""


@dataclass(slots=True)
class SiteBoard:
    """The console's memory of one site."""

    site: SiteSettings
    latest: PlanResult | None = None
    latest_at_s: float | None = None
    latest_run: RunRecord | None = None
    """The cycle that made ``latest``: whether (and how far) the plan was applied."""
    refused: PlanResult | None = None
    """The plan a guard refused last, while no later cycle has succeeded."""
    refusal: str = ""
    stale: str = ""
    """Why the last approval was not applied (the plan changed since), until the next
    approval or success."""
    runs: deque[RunRecord] = field(default_factory=deque)


RollbackCall = Callable[[str, str | None, bool],
                        Awaitable[tuple[RollbackPlan, ApplyReport | None]]]
"""``(site, run_id, dry_run)`` -> the rollback plan and what applying it did."""

ExplainCall = Callable[[str, str, PlanResult], Awaitable[PlanResult | None]]
"""``(site, sku, latest plan)`` -> a plan of the SKU's products from a read made now, or
None when the site cannot read one SKU's products (``SyncCycleRunner.explain``)."""


class Board:
    """Every site's ``SiteBoard``, and the hooks the console's actions use."""

    def __init__(self, *, history: int = 20) -> None:
        self.history = history
        self.sites: dict[str, SiteBoard] = {}
        self.rollback: RollbackCall | None = None
        """Set by the cycle runner while a configuration generation runs."""
        self.explain: ExplainCall | None = None
        """Set by the cycle runner while a configuration generation runs."""

    def adopt(self, sites: list[SiteSettings]) -> None:
        """The sites of a new configuration generation (others are forgotten)."""
        names = {s.name for s in sites}
        for name in list(self.sites):
            if name not in names:
                del self.sites[name]
        for site in sites:
            board = self.sites.get(site.name)
            if board is None:
                self.sites[site.name] = SiteBoard(site, runs=deque(maxlen=self.history))
            else:
                board.site = site

    def refused_digest(self, site: str) -> str | None:
        """The digest of the site's refused plan waiting for approval, or None."""
        board = self.sites.get(site)
        if board is None or board.refused is None:
            return None
        return board.refused.digest

    def approved(self, site: str) -> None:
        """An approval was left for the site (the stale notice is over)."""
        board = self.sites.get(site)
        if board is not None:
            board.stale = ""

    def record(self, outcome: CycleOutcome, *, planned: PlanResult | None, run_id: str | None,
               api_calls: int, forced: bool, refused: bool, stale: str | None = None) -> None:
        """Fold one finished cycle in (called by the cycle runner)."""
        board = self.sites.get(outcome.site)
        if board is None:
            return
        now = time.time()
        run = RunRecord(outcome, now, run_id, api_calls, forced)
        if planned is not None:
            planned = _without_read(planned, board.site)
            board.latest, board.latest_at_s, board.latest_run = planned, now, run
        if refused:
            board.refused, board.refusal = planned, outcome.error or outcome.summary
        elif outcome.succeeded:
            board.refused, board.refusal, board.stale = None, "", ""
        if stale:
            board.stale = stale
        board.runs.appendleft(run)



def _without_read(planned: PlanResult, site: SiteSettings) -> PlanResult:
    """``planned`` without the variants of its read, unless the console cannot read one
    SKU's products on this site (see the module docstring)."""
    if site.match.active or planned.source.located or not planned.snapshot.variants:
        return planned
    return replace(planned, snapshot=replace(planned.snapshot, variants=()))
