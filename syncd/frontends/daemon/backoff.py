"""How long a site waits after a failed cycle before trying again.

Exponential (5 s, 10 s, 20 s ... capped at 5 min by default) so a Wix outage is not hammered
and a broken configuration does not crash-loop, with a little random jitter so several sites
failing together do not retry in lockstep, and reset by the first success so a single
hiccup does not slow the daemon down for good.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field


def backoff_delay_s(
    failures: int, *, initial_s: float, max_s: float, factor: float = 2.0
) -> float:
    """Delay before the next attempt after ``failures`` consecutive failures (no jitter)."""
    if failures <= 0:
        return 0.0
    # Cap the exponent first so a daemon failing for months cannot overflow a float.
    exponent = min(failures - 1, 64)
    return float(min(max_s, initial_s * factor**exponent))


@dataclass(slots=True)
class Backoff:
    """Consecutive-failure counter that turns into bounded, jittered delays.

    ``jitter_ratio`` spreads each delay by up to +/- that fraction, and the result is still
    clamped to ``max_s``: the bound is a promise operators rely on when sizing alerts.
    """

    initial_s: float = 5.0
    """Wait after a first failed cycle; doubled (``factor``) after each further failure."""
    max_s: float = 300.0
    """Longest wait between failed cycles: a Wix outage costs one attempt per 5 minutes."""
    factor: float = 2.0
    jitter_ratio: float = 0.1
    rng: random.Random = field(default_factory=random.Random)
    failures: int = 0

    def next_delay_s(self) -> float:
        """Count one more failure and return how long to wait before retrying."""
        self.failures += 1
        base = backoff_delay_s(
            self.failures, initial_s=self.initial_s, max_s=self.max_s, factor=self.factor
        )
        spread = base * self.jitter_ratio
        return max(0.0, min(self.max_s, base + self.rng.uniform(-spread, spread)))

    def reset(self) -> None:
        """Forget past failures: called after a successful cycle."""
        self.failures = 0
