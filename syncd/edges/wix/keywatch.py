"""What one API key's sites were last answered: the one view that can tell a key's budget.

Wix documents 200 requests a minute "per app instance"; whether one API key used for
several sites has one budget or one per site is open (``rate_budget``). One site's 429
cannot tell: its own budget spent by another app looks the same. Sites of one key seen
together can: ``KeyWatch`` keeps, per site of the key, its last answer (429 or not) and
when, and marks two sites *refused together* when both were answered 429 within one rate
window with no other answer on either in between. That is ``per_key`` evidence; nothing
here ever reads ``per_site`` (a site answered while another is refused may just have met a
slot the sliding window freed).

Memory: one small record per site of the key, replaced at each answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Together:
    """Another site of the key refused in the same window."""

    site_id: str
    at: datetime
    """When that site's 429 came."""


@dataclass(slots=True)
class _Last:
    refused: bool
    mono: float
    at: datetime


class KeyWatch:
    """The last answer of each site of one API key (``LimiterPool.key_watch``)."""

    def __init__(self) -> None:
        self._last: dict[str, _Last] = {}
        self._together: dict[str, Together] = {}

    def saw(self, site_id: str, *, refused: bool, mono: float, at: datetime,
            window_s: float) -> None:
        """``site_id`` was answered (``refused``: 429) at ``mono`` (monotonic) / ``at``."""
        before = self._last.get(site_id)
        self._last[site_id] = _Last(refused, mono, at)
        if not refused:
            return
        for other, last in self._last.items():
            if other == site_id or not last.refused or mono - last.mono > window_s:
                continue
            if before is not None and not before.refused and before.mono > last.mono:
                continue  # this site was answered after the other's 429
            self._together[site_id] = Together(other, last.at)
            self._together[other] = Together(site_id, at)

    def refused_with(self, site_id: str) -> Together | None:
        """The last other site of the key refused together with ``site_id``, if any."""
        return self._together.get(site_id)
