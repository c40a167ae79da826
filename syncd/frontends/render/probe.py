"""What ``syncd probe`` prints: one screen per site (point, reading, one line of evidence),
and the JSON-ready report a user can attach to a bug report.
"""

from __future__ import annotations

from typing import Any

from syncd.base.textsafe import safe_text
from syncd.core.answer429 import split_seen
from syncd.core.findings import ProbeReport, report_to_dict

EVIDENCE_WIDTH = 90
"""Characters of evidence per line of the text summary (the JSON has all of it)."""


def probe_text(report: ProbeReport, *, budget: int, max_age_days: float) -> str:
    """The summary of one site's probe: a line per open point."""
    determined = sum(f.determined for f in report.findings)
    lines = [f"site {report.site}: probed {report.taken_at:%Y-%m-%d %H:%M} UTC in "
             f"{report.calls} of at most {budget} requests; {determined} of "
             f"{len(report.findings)} points determined"]
    width = max((len(f.point) for f in report.findings), default=0)
    reading_width = max((len(f.reading) for f in report.findings), default=0)
    answers: list[str] = []
    for f in report.findings:
        telling, seen = split_seen(f.evidence)
        if seen is not None and seen not in answers:
            answers.append(seen)
        evidence = safe_text(telling)
        if f.at is not None and f.at != report.taken_at:
            evidence = f"[of {f.at:%Y-%m-%d %H:%M} UTC] {evidence}"
        if len(evidence) > EVIDENCE_WIDTH:
            evidence = evidence[: EVIDENCE_WIDTH - 1] + "…"
        lines.append(f"  {f.point:<{width}}  {f.reading:<{reading_width}}  {evidence}")
    # The 429 answers the rate-limit points were read from, each named once.
    lines.extend(f"  429: {safe_text(seen)[: EVIDENCE_WIDTH + 40]}" for seen in answers)
    lines.append(f"  stored: syncd uses these findings for {max_age_days:g} days "
                 "(probe.max_age_days); the whole evidence: --output json")
    return "\n".join(lines)


def probe_dict(report: ProbeReport, *, budget: int) -> dict[str, Any]:
    """The site's ``probe`` field of ``--output json``."""
    return {"budget": budget, **report_to_dict(report)}
