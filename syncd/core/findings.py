"""What a probe of a real store found about the points Wix's docs leave open.

The contract (``wix-api.md``) marks some of Wix's behaviour **unconfirmed**; syncd is written
to be correct under every plausible reading, which costs calls. ``syncd probe`` asks the
store itself: each ``Finding`` names one open point, the reading the store showed (or
``UNDETERMINED`` when it could not show it) and the evidence, with the request and the
telling part of the answer (secrets removed). Findings are stored per site, each with its
own date: a probe that cannot determine a point keeps the last determined finding of it
(``carry_forward``), so a read-only probe does not throw away what a write test measured.
The walker and ``write_mode: auto`` may use the findings younger than
``probe.max_age_days``, judged per finding.

This module is the vocabulary only: pure values, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

UNDETERMINED = "undetermined"
"""The reading of a point the store could not show (say why in the evidence)."""


POINTS: dict[str, tuple[str, ...]] = {
    # not open, but asked first and cacheable (a site is upgraded to V3 at most once)
    "catalog": ("v1", "v3"),
    # point: its plausible readings, the one syncd assumes least first where it matters
    "json_defaults": ("present", "omitted"),
    "v1_page_length": ("full", "short"),
    "total_results": ("counts_hidden", "visible_only"),
    "numeric_bound": ("number_or_string", "number_only", "string_only",
                      "string_only_number_refused"),
    "catalog_mismatch_status": ("428", "404"),
    "offset_cap": ("10000", "lower"),
    "variant_stock": ("in_variants", "absent"),
    "unmanaged_options": ("none_seen", "seen"),
    "unknown_fields": ("ignored", "refused"),
    "metadata_items": ("count", "echo_limit"),
    "inventory_hidden": ("listed", "left_out"),
    "cursor_last_page": ("no_cursor", "cursor_to_empty_page"),
    "cursor_expiry": ("lasts", "expires"),
    "auth_status": ("401", "403"),
    "rate_budget": ("per_site", "per_key"),
    "retry_after_unit": ("seconds", "milliseconds", "huge"),
    "error_body": ("json", "text"),
    "bulk_errors": ("per_item", "whole_call"),
    "bulk_results_order": ("indexed", "unordered"),
    "page_limit": ("refused", "clamped", "exceeded"),
    # measured by --write-test only
    "read_lag": ("none", "lag"),
    "write_answer_lost": ("never_seen", "applied_then_5xx"),
    "empty_answer_applied": ("applied", "ignored"),
    "untracked_increment": ("refused", "skipped", "applied"),
}
"""Every open point a probe can report, with the readings it may report for it (besides
``UNDETERMINED``)."""


@dataclass(frozen=True, slots=True)
class Finding:
    """One open point and what the store showed of it."""

    point: str
    reading: str
    evidence: str
    """The request and the telling part of the answer, or why the point is undetermined."""
    measured: dict[str, float] = field(default_factory=dict)
    """Numbers behind the reading (for ``read_lag``: ``seconds`` and ``samples``...)."""
    at: datetime | None = None
    """When the store showed it (timezone-aware, UTC); None: when its report was taken
    (a ``ProbeReport`` fills it in)."""

    def __post_init__(self) -> None:
        readings = POINTS.get(self.point)
        if readings is None:
            raise ValueError(f"unknown probe point {self.point!r}")
        if self.reading != UNDETERMINED and self.reading not in readings:
            raise ValueError(f"{self.point}: unknown reading {self.reading!r} "
                             f"(one of {', '.join(readings)} or {UNDETERMINED})")

    @property
    def determined(self) -> bool:
        return self.reading != UNDETERMINED


@dataclass(frozen=True, slots=True)
class ProbeReport:
    """Everything one probe of one site found, and when."""

    site: str
    taken_at: datetime
    """When the probe ran (timezone-aware, UTC)."""
    calls: int
    """Requests the probe sent to the store."""
    findings: tuple[Finding, ...]
    """Every finding dated (``Finding.at``): those given without a date get ``taken_at``."""

    def __post_init__(self) -> None:
        if any(f.at is None for f in self.findings):
            object.__setattr__(self, "findings", tuple(
                f if f.at is not None else replace(f, at=self.taken_at)
                for f in self.findings))

    def reading(self, point: str) -> str:
        """The reading of ``point``, ``UNDETERMINED`` when the probe did not determine it."""
        for f in self.findings:
            if f.point == point:
                return f.reading
        return UNDETERMINED

    def finding(self, point: str) -> Finding | None:
        return next((f for f in self.findings if f.point == point), None)

    def fresh(self, now: datetime, max_age: timedelta) -> bool:
        """Whether the report is young enough for any of its findings to be used (each
        finding is also judged by its own date: ``fresh_finding``)."""
        return now - self.taken_at <= max_age

    def fresh_finding(self, point: str, now: datetime, max_age: timedelta) -> Finding | None:
        """The finding of ``point`` when it is young enough to be used, else None."""
        f = self.finding(point)
        if f is None or now - (f.at or self.taken_at) > max_age:
            return None
        return f

    def fresh_reading(self, point: str, now: datetime, max_age: timedelta) -> str:
        """The reading of ``point``, ``UNDETERMINED`` when not determined or too old."""
        f = self.fresh_finding(point, now, max_age)
        return f.reading if f is not None else UNDETERMINED


def carry_forward(new: ProbeReport, old: ProbeReport | None) -> ProbeReport:
    """``new`` keeping, per point it left undetermined, ``old``'s determined finding with
    its own date: the newest determined finding of each point. Nothing is kept when the
    two reports saw different catalogs (the site was upgraded: its old findings no longer
    describe it)."""
    if old is None:
        return new
    catalogs = {old.reading("catalog"), new.reading("catalog")} - {UNDETERMINED}
    if len(catalogs) > 1:
        return new
    kept = {f.point: f for f in old.findings if f.determined}
    findings = tuple(f if f.determined or f.point not in kept else kept[f.point]
                     for f in new.findings)
    seen = {f.point for f in findings}
    findings += tuple(f for p, f in kept.items() if p not in seen)
    return replace(new, findings=findings)


def report_to_dict(report: ProbeReport) -> dict[str, object]:
    """A report as plain JSON-ready data (what is stored, and what ``--output json`` shows)."""
    return {
        "site": report.site,
        "taken_at": report.taken_at.isoformat(),
        "calls": report.calls,
        "findings": [{"point": f.point, "reading": f.reading, "evidence": f.evidence,
                      "measured": dict(f.measured),
                      "at": (f.at or report.taken_at).isoformat()} for f in report.findings],
    }


def report_from_dict(data: object) -> ProbeReport:
    """A stored report, as decoded from its JSON (``ValueError``, ``KeyError`` or
    ``TypeError`` when damaged); points this syncd does not know are left out, so a newer
    syncd's report stays readable; a finding without its own date (stored by an older
    syncd) gets the report's."""
    if not isinstance(data, dict):
        raise TypeError("not a JSON object")
    taken_at = datetime.fromisoformat(str(data["taken_at"]))
    if taken_at.tzinfo is None:
        raise ValueError("taken_at has no timezone")
    findings = []
    raw = data["findings"]
    if not isinstance(raw, list):
        raise TypeError("findings is not a list")
    for item in raw:
        if not isinstance(item, dict):
            raise TypeError("a finding is not an object")
        if item.get("point") not in POINTS:
            continue
        measured = item.get("measured") or {}
        if not isinstance(measured, dict):
            raise TypeError("measured is not an object")
        at = datetime.fromisoformat(str(item["at"])) if item.get("at") else taken_at
        if at.tzinfo is None:
            raise ValueError("a finding's at has no timezone")
        findings.append(Finding(str(item["point"]), str(item["reading"]),
                                str(item.get("evidence", "")),
                                {str(k): float(v) for k, v in measured.items()}, at))
    calls = data["calls"]
    if not isinstance(calls, int):
        raise TypeError("calls is not a number")
    return ProbeReport(str(data["site"]), taken_at, calls, tuple(findings))
