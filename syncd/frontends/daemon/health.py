"""Liveness and readiness: what the daemon knows about each site, and how it is judged.

``SiteStatus`` is the small mutable record a site loop keeps up to date (the last outcome,
when the last success was, whether a cycle is running) and the HTTP endpoint reads. It
outlives configuration reloads, so a reload does not make a healthy daemon look unready.
``judge_readiness`` is pure: given the statuses, the maximum age and the time, it says
whether the daemon is ready and why, per site, in words an operator can act on. The daemon
is unready only once a configured share of its stores is (by default all of them), so
that one broken store of an agency does not take every other one out of service; a store
disabled because its site file is invalid counts as an unready store.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from syncd.frontends.daemon.cycle import CycleOutcome


@dataclass(slots=True)
class SiteStatus:
    """Live state of one site, written by its loop, read by health checks and status lines.

    Times are Unix seconds (``time.time()``), because they are shown to people and compared
    with ``syncd_last_success_timestamp_seconds``.
    """

    site: str
    last_outcome: CycleOutcome | None = None
    last_success_at_s: float | None = None
    last_full_success_at_s: float | None = None
    consecutive_failures: int = 0
    cycles: int = 0
    in_cycle: bool = False
    next_due_at_s: float | None = None
    retry_at_s: float | None = None
    source_error: str | None = None
    """Why the site's remote feed cannot be used right now (None: it can)."""
    last_start_delay_s: float | None = None
    """How late the last scheduled cycle started against its schedule, in seconds."""

    @property
    def full_cycle_succeeded(self) -> bool:
        """True once a full cycle succeeded: the fast lane needs that walk's product map."""
        return self.last_full_success_at_s is not None

    def record(self, outcome: CycleOutcome, *, ended_at_s: float) -> None:
        """Fold a finished cycle into the status."""
        self.last_outcome = outcome
        self.cycles += 1
        if outcome.succeeded:
            self.last_success_at_s = ended_at_s
            self.consecutive_failures = 0
            if outcome.kind == "full":
                self.last_full_success_at_s = ended_at_s
        elif outcome.result != "skipped":
            # Any cycle that left the store unsynced for a reason (an error, a refused plan,
            # an unusable source) counts: the last result and this count must agree.
            self.consecutive_failures += 1


class SiteStatuses:
    """The statuses of the sites this process runs, and what their feeds report.

    One per daemon, outliving reloads and ownership changes: the loops write their site's
    status, the feed pollers report through ``report_source``, the endpoint and the console
    read ``statuses``. A feed's error is kept per site and source, so that a site that
    starts (or is taken over) after its feed began failing is not shown ready.
    """

    def __init__(self) -> None:
        self.statuses: dict[str, SiteStatus] = {}
        self._source_errors: dict[str, dict[str, str]] = {}
        """Site -> remote source -> why it is failing."""
        self.config_errors: dict[str, str] = {}
        """Site -> why its site file is invalid (``file:line: field: error``). A site named
        here without a status is disabled; one with a status runs its previous settings."""

    def add(self, names: Iterable[str]) -> None:
        """Give each of ``names`` a status unless it has one (it starts empty)."""
        for name in sorted(set(names) - self.statuses.keys()):
            self.statuses[name] = SiteStatus(name, source_error=self._source_error(name))

    def retain(self, names: Iterable[str]) -> list[str]:
        """Keep exactly the statuses of ``names``; returns the names dropped."""
        wanted = set(names)
        dropped = [name for name in self.statuses if name not in wanted]
        for name in dropped:
            del self.statuses[name]
        self.add(wanted)
        return dropped

    def report_source(self, sites: Iterable[str], source: str, error: str | None) -> None:
        """``source`` of ``sites`` fails with ``error``, or works again (None)."""
        for name in sites:
            errors = self._source_errors.setdefault(name, {})
            if error is None:
                errors.pop(source, None)
            else:
                errors[source] = error
            if name in self.statuses:
                self.statuses[name].source_error = self._source_error(name)

    def forget_sources(self, *, keep: str | None = None) -> None:
        """Forget every feed's report: a new configuration's pollers report afresh. The
        reports of source ``keep`` stay (a cycle's own reading: loops outlive reloads)."""
        for errors in self._source_errors.values():
            for source in [s for s in errors if s != keep]:
                del errors[source]
        for status in self.statuses.values():
            status.source_error = self._source_error(status.site)

    def _source_error(self, name: str) -> str | None:
        return next(iter(self._source_errors.get(name, {}).values()), None)


@dataclass(frozen=True, slots=True)
class SiteReadiness:
    """One site's verdict, as shown in the ``/readyz`` body."""

    site: str
    ready: bool
    reason: str
    last_success_age_s: float | None
    last_result: str | None
    consecutive_failures: int
    config_error: str | None = None
    """Why the site's file is invalid (the site is disabled, or runs its previous one)."""


@dataclass(frozen=True, slots=True)
class Readiness:
    """The daemon is ready while fewer than ``unready_share`` of its sites are unready (and
    it has at least one site)."""

    ready: bool
    sites: tuple[SiteReadiness, ...] = field(default=())
    unready_share: float = 1.0

    @property
    def sites_unready(self) -> int:
        return sum(1 for s in self.sites if not s.ready)

    def as_json(self) -> dict[str, object]:
        return {
            "ready": self.ready,
            "sites_unready": self.sites_unready,
            "sites_total": len(self.sites),
            "unready_share": self.unready_share,
            "sites": {
                s.site: {
                    "ready": s.ready,
                    "reason": s.reason,
                    "last_success_age_seconds": (
                        None if s.last_success_age_s is None else round(s.last_success_age_s, 3)
                    ),
                    "last_result": s.last_result,
                    "consecutive_failures": s.consecutive_failures,
                    **({"config_error": s.config_error} if s.config_error else {}),
                }
                for s in self.sites
            },
        }


def judge_site(status: SiteStatus, *, max_age_s: float, now_s: float) -> SiteReadiness:
    """Ready when the last successful cycle ended at most ``max_age_s`` seconds ago and the
    site's feed (if remote) can be fetched."""
    last = status.last_outcome
    last_result = None if last is None else str(last.result)
    if status.source_error is not None:
        age = None if status.last_success_at_s is None else max(
            0.0, now_s - status.last_success_at_s)
        return SiteReadiness(status.site, False, f"source failing: {status.source_error}",
                             age, last_result, status.consecutive_failures)
    if status.last_success_at_s is None:
        if last is None:
            reason = "no cycle has finished yet"
        else:
            reason = f"no cycle has succeeded yet (last: {last.result}"
            reason += f": {last.error})" if last.error else ")"
        return SiteReadiness(status.site, False, reason, None, last_result,
                             status.consecutive_failures)
    age_s = max(0.0, now_s - status.last_success_at_s)
    if last is not None and last.result == "no_match":
        return SiteReadiness(status.site, False, f"last cycle: {last.error}", age_s,
                             last_result, status.consecutive_failures)
    if age_s > max_age_s:
        reason = f"last successful cycle {age_s:.0f}s ago, more than {max_age_s:g}s"
        if last is not None and not last.succeeded:
            reason += f" (last: {last.result}" + (f": {last.error})" if last.error else ")")
        return SiteReadiness(status.site, False, reason, age_s, last_result,
                             status.consecutive_failures)
    return SiteReadiness(status.site, True, f"last successful cycle {age_s:.0f}s ago", age_s,
                         last_result, status.consecutive_failures)


def judge_disabled(site: str, error: str) -> SiteReadiness:
    """A site whose file is invalid and that does not run."""
    return SiteReadiness(site, False, f"disabled: its site file is invalid: {error}", None,
                         None, 0, config_error=error)


def judge_readiness(
    statuses: Iterable[SiteStatus], *, max_age_s: float, now_s: float,
    unready_share: float = 1.0, config_errors: Mapping[str, str] | None = None,
) -> Readiness:
    """The verdict for the whole daemon; not ready without sites, nor once at least
    ``unready_share`` of them are unready. ``config_errors`` are the sites whose file is
    invalid: those without a status are disabled and count as unready."""
    errors = config_errors or {}
    judged = {s.site: judge_site(s, max_age_s=max_age_s, now_s=now_s) for s in statuses}
    for name, error in errors.items():
        if name in judged:
            judged[name] = replace(judged[name], config_error=error)
        else:
            judged[name] = judge_disabled(name, error)
    sites = tuple(judged[name] for name in sorted(judged))
    unready = sum(1 for s in sites if not s.ready)
    ready = bool(sites) and unready / len(sites) < unready_share
    return Readiness(ready=ready, sites=sites, unready_share=unready_share)
