"""What the daemon remembers for people to look at: the latest plan and recent runs per site.

The cycle runner feeds the board after every cycle (``record``); the web console reads it.
It is small and in memory only: the latest plan of each site (or the refused one waiting
for approval), the last ``history`` cycles with their accounts, and the pending approvals.
A restart forgets it; the journal on disk keeps the writes themselves.

Approvals are one-shot: ``approve`` marks a site whose last plan a guard refused, and the
next cycle of that site takes the mark (``take_approval``) and runs forced, once.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

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
    approved: bool = False
    """An approval is waiting for the next cycle."""
    runs: deque[RunRecord] = field(default_factory=deque)


RollbackCall = Callable[[str, str | None, bool],
                        Awaitable[tuple[RollbackPlan, ApplyReport | None]]]
"""``(site, run_id, dry_run)`` -> the rollback plan and what applying it did."""


class Board:
    """Every site's ``SiteBoard``, and the hooks the console's actions use."""

    def __init__(self, *, history: int = 20) -> None:
        self.history = history
        self.sites: dict[str, SiteBoard] = {}
        self.rollback: RollbackCall | None = None
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

    def take_approval(self, site: str) -> bool:
        """True (once) when the site's refused plan was approved."""
        board = self.sites.get(site)
        if board is None or not board.approved:
            return False
        board.approved = False
        return True

    def approve(self, site: str) -> bool:
        """Approve the site's refused plan for the next cycle; False when none waits."""
        board = self.sites.get(site)
        if board is None or board.refused is None:
            return False
        board.approved = True
        return True

    def record(self, outcome: CycleOutcome, *, planned: PlanResult | None, run_id: str | None,
               api_calls: int, forced: bool, refused: bool) -> None:
        """Fold one finished cycle in (called by the cycle runner)."""
        board = self.sites.get(outcome.site)
        if board is None:
            return
        now = time.time()
        run = RunRecord(outcome, now, run_id, api_calls, forced)
        if planned is not None:
            board.latest, board.latest_at_s, board.latest_run = planned, now, run
        if refused:
            board.refused, board.refusal = planned, outcome.error or outcome.summary
        elif outcome.succeeded:
            board.refused, board.refusal = None, ""
        board.runs.appendleft(run)

