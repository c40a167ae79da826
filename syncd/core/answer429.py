"""The shape of a 429 answer, and the open points it settles.

Three points of the contract show only in a 429 (``rate_budget``, ``retry_after_unit``,
``error_body``), and the probe never exceeds the rate limit to provoke one. The client keeps
the shape of the last 429 it met (``Answer429``: what was asked, the ``Retry-After`` as sent
and what syncd made of it, the kind of body); ``findings_429`` turns it into findings,
whether the 429 came during a probe or an ordinary sync.

What one 429 can and cannot tell:

- ``retry_after_unit``: a value that, read as seconds, is a plausible wait (up to the rate
  window or ``retry_after_max_s``) reads ``seconds``; one that is only plausible in
  milliseconds (at most the rate window once divided by 1000) reads ``milliseconds``; any
  longer one ``huge``. No header, or one that is neither a number nor a date: undetermined.
- ``error_body``: JSON or text (an edge proxy's page); an empty body says neither.
- ``rate_budget``: never settled by a 429 on one site alone: a site's budget spent by
  another app and a key's budget spent by another site look alike. ``per_key`` is read
  only when another site of the same API key was refused in the same rate window, neither
  answered in between (``refused_with``: seen by ``syncd.edges.wix.keywatch`` across the
  process's sites); two sites' budgets spent by others at the same moment is the unlikely
  reading then. Nothing reads ``per_site``: a site answered while another is refused may
  have met a slot a sliding window freed.

Pure values, no I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import datetime
from email.utils import parsedate_to_datetime

from syncd.core.findings import POINTS, UNDETERMINED, Finding, ProbeReport

RATE_POINTS = ("rate_budget", "retry_after_unit", "error_body")
"""The points only a 429 shows."""

SEEN = "seen in a 429 answer to "
"""How the evidence of a point read from a 429 names that answer (after the telling part
and ``"; "``)."""

WINDOW_SLACK_S = 1.0
"""Added to the rate window when a value is read as milliseconds (a wait rounded up)."""


@dataclass(frozen=True, slots=True)
class Answer429:
    """One 429 answer as the client met it."""

    request: str
    """Method and path (``POST /stores/v1/products/query``): no body, no header."""
    at: datetime
    """When the answer came (timezone-aware, UTC)."""
    retry_after: str | None
    """The ``Retry-After`` header as sent (escaped, cut short), None when there was none."""
    waited_s: float | None
    """The pause syncd believed from it; None: set aside (or absent), the local schedule
    applied."""
    body: str
    """``json``, ``text`` or ``empty``."""
    window_s: float
    """The client's rate window (``rate_period_s``)."""
    max_s: float
    """The longest ``Retry-After`` the client believes (``retry_after_max_s``)."""


def retry_after_unit(answer: Answer429) -> tuple[str, str]:
    """``(reading, meaning)`` of the answer's ``Retry-After``."""
    sent = answer.retry_after
    if sent is None:
        return UNDETERMINED, "the 429 carried no Retry-After"
    made = (f"syncd waited {answer.waited_s:g} s" if answer.waited_s is not None
            else "syncd set it aside and waited its own schedule")
    try:
        value = float(sent)
    except ValueError:
        try:
            parsedate_to_datetime(sent)
        except (TypeError, ValueError, IndexError):
            return UNDETERMINED, f"neither a number nor a date; {made}"
        if answer.waited_s is not None:
            return "seconds", f"an HTTP date; {made}"
        return "huge", f"an HTTP date too far ahead; {made}"
    if not math.isfinite(value) or value < 0:
        return UNDETERMINED, f"not a wait; {made}"
    plausible = max(answer.window_s, answer.max_s)
    if value <= plausible:
        return "seconds", f"{value:g} s, a plausible wait; {made}"
    if value / 1000 <= answer.window_s + WINDOW_SLACK_S:
        return "milliseconds", (f"{value / 1000:g} s if milliseconds, within the "
                                f"{answer.window_s:g} s rate window; {made}")
    return "huge", f"{value:g} s, longer than any wait for a {answer.window_s:g} s window; {made}"


def rate_budget(answer: Answer429, refused_with: tuple[str, datetime] | None,
                ) -> tuple[str, str]:
    """``(reading, meaning)`` of the rate budget: ``per_key`` when another site of the
    key (``refused_with``: its site id and when) was refused in the same window."""
    if refused_with is not None:
        other, at = refused_with
        apart = abs((at - answer.at).total_seconds())
        if apart <= answer.window_s + WINDOW_SLACK_S:
            return "per_key", (f"site {other}, on the same API key, was refused too "
                               f"{apart:.1f} s apart, neither answered in between")
    return UNDETERMINED, ("one site's 429 does not show whether the site's or the API key's "
                          "budget ran out (no other site of the key refused with it)")


def findings_429(answer: Answer429, *, during: str,
                 refused_with: tuple[str, datetime] | None = None) -> tuple[Finding, ...]:
    """The findings of ``RATE_POINTS`` one 429 gives; ``during``: ``this probe`` or
    ``sync RUN_ID``; ``refused_with``: see ``rate_budget``."""
    seen = f"{SEEN}{answer.request} during {during} at {answer.at:%Y-%m-%d %H:%M:%S} UTC"
    budget, said = rate_budget(answer, refused_with)
    unit, meaning = retry_after_unit(answer)
    header = (f"Retry-After: {answer.retry_after} ({meaning})" if answer.retry_after is not None
              else meaning)
    measured = {"retry_after_waited_s": answer.waited_s} if answer.waited_s is not None else {}
    body = answer.body if answer.body in ("json", "text") else UNDETERMINED
    body_said = {"json": "a JSON body", "text": "a body that is not JSON (an edge proxy's)",
                 }.get(answer.body, "an empty body, neither JSON nor text")
    return (
        Finding("rate_budget", budget, f"{said}; {seen}", at=answer.at),
        Finding("retry_after_unit", unit, f"{header}; {seen}", measured, at=answer.at),
        Finding("error_body", body, f"{body_said}; {seen}", at=answer.at),
    )


def split_seen(evidence: str) -> tuple[str, str | None]:
    """An evidence line as its telling part and the 429 answer it was seen in (None when
    not read from a 429), for a summary that names that answer once."""
    telling, mark, seen = evidence.partition("; " + SEEN)
    return (telling, SEEN + seen) if mark else (evidence, None)


def with_429_findings(report: ProbeReport | None, site: str, answer: Answer429, *,
                      during: str, refused_with: tuple[str, datetime] | None = None,
                      ) -> ProbeReport:
    """``report`` with ``RATE_POINTS`` replaced where ``answer`` shows them (dated by it),
    every other point as it was; a site never probed gets a report of those points only (the others
    undetermined, to be asked by ``syncd probe``), dated by the answer; ``refused_with``:
    see ``rate_budget``."""
    new = {f.point: f for f in findings_429(answer, during=during, refused_with=refused_with)}
    if report is None:
        why = "not probed yet: run syncd probe"
        return ProbeReport(site, answer.at, 0, tuple(
            new.get(p) or Finding(p, UNDETERMINED, why) for p in POINTS))
    # What this answer cannot show leaves a stored reading of the point as it was.
    new = {p: f for p, f in new.items() if f.determined}
    kept = tuple(new.pop(f.point, f) for f in report.findings)
    return replace(report, findings=kept + tuple(new.values()))
