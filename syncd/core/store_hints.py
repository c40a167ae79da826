"""Which cheaper safe paths a store's probe findings allow: pure, from a report and a date.

A finding is used only while it is fresh (``probe.max_age_days``, judged by the finding's own
date: a report may carry an older write test's findings) and only where the path
it allows stays safe if the store changed its behaviour since: every learning, fallback
and completeness proof of the walk stays in place, so a wrong finding costs calls, never
a silently short walk or a unit written twice. Today:

- ``catalog``: the site's catalog is taken from the probe instead of one Get Catalog
  Version call per process. A site upgraded since answers the walk with a 4xx, which drops
  the finding (``without_catalog``): that cycle fails, the next one asks Wix;
- ``numeric_bound`` ``string_only`` or ``string_only_number_refused``: the V1 crawl sends
  its numericId bound as a string first (it still learns the other type from a refusal or
  an empty page, as without a finding), saving the call that learns it;
- ``read_lag`` ``lag`` with ``measured["seconds"]`` (the write test's): deltas are re-read
  for confirmation only after that lag and ``VERIFY_MARGIN_S`` (capped at
  ``MAX_VERIFY_WAIT_S``), so the first re-read shows them and no second look or absolute
  rewrite is needed. The second look stays for a lag that grew.

The other readings either are what syncd assumes anyway or allow no path that would stay
safe if they turned out wrong (a short page or ``totalResults`` never ends a walk).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from syncd.core.findings import UNDETERMINED, Finding, ProbeReport

MAX_VERIFY_WAIT_S = 30.0
"""Longest wait before the re-read that confirms deltas, whatever lag was measured."""

VERIFY_MARGIN_S = 0.5
"""Added to a measured lag: a lag measured once may be a little longer the next time."""


@dataclass(frozen=True, slots=True)
class UsedFinding:
    """A finding that changed what a sync does, and how."""

    point: str
    reading: str
    effect: str


@dataclass(frozen=True, slots=True)
class StoreHints:
    """What a walk and ``write_mode: auto`` may rely on for one store (default: nothing)."""

    catalog: str | None = None
    """``v1`` or ``v3``: the catalog the probe saw (None: ask Wix)."""
    bound_as_string: bool = False
    """Send the V1 crawl's numericId bound as a JSON string first."""
    verify_after_s: float = 0.0
    """Wait this long after sending deltas before the re-read that confirms them."""
    used: tuple[UsedFinding, ...] = ()
    """The findings behind these hints."""
    taken_at: datetime | None = None
    """When the probe ran (None: no probe report)."""
    fresh: bool = False
    """The report is young enough to be used."""

    def age_days(self, now: datetime) -> float | None:
        if self.taken_at is None:
            return None
        return round((now - self.taken_at).total_seconds() / 86_400, 2)


def hints_from(report: ProbeReport | None, *, now: datetime,
               max_age: timedelta) -> StoreHints:
    """The hints ``report``'s findings allow at ``now`` (none when it is older than
    ``max_age``; each finding is judged by its own date)."""
    if report is None:
        return StoreHints()
    if not report.fresh(now, max_age):
        return StoreHints(taken_at=report.taken_at, fresh=False)
    used: list[UsedFinding] = []
    catalog = report.fresh_reading("catalog", now, max_age)
    if catalog in ("v1", "v3"):
        used.append(UsedFinding("catalog", catalog, "the catalog version call is skipped"))
    as_string = False
    bound = report.fresh_reading("numeric_bound", now, max_age)
    if bound in ("string_only", "string_only_number_refused"):
        as_string = True
        used.append(UsedFinding("numeric_bound", bound,
                                "the V1 crawl sends its numericId bound as a string first"))
    wait_s = 0.0
    lag = report.fresh_finding("read_lag", now, max_age)
    if lag is not None and lag.reading == "lag" and lag.measured.get("seconds", 0.0) > 0:
        wait_s = min(float(lag.measured["seconds"]) + VERIFY_MARGIN_S, MAX_VERIFY_WAIT_S)
        used.append(UsedFinding("read_lag", "lag",
                                f"deltas are re-read {wait_s:g} s after they are sent"))
    return StoreHints(catalog=catalog if catalog in ("v1", "v3") else None,
                      bound_as_string=as_string, verify_after_s=wait_s, used=tuple(used),
                      taken_at=report.taken_at, fresh=True)


def without_catalog(report: ProbeReport, why: str) -> ProbeReport:
    """``report`` with its ``catalog`` finding undetermined (the store contradicted it)."""
    return replace(report, findings=tuple(
        Finding("catalog", UNDETERMINED, why) if f.point == "catalog" else f
        for f in report.findings))
