"""How a soak run's series are judged: the least-squares slope per hour, its noise, a verdict.

A series (RSS, open files, tasks, journal size, a console page's load time) is sampled every
few seconds over the run. A leak shows as a slope that stands out of the noise; a flat
series wobbles around its mean. ``judge`` fits a straight line by least squares, gives the
slope per hour with its standard error, and the means of the first and last thirds of the
run (robust against one spike), and calls the series "growing" only when both say so:

- the slope is positive and at least ``SIGNIFICANCE`` standard errors from zero, and
- the last third's mean is above the first third's by more than ``tolerance`` (a share of
  the first third's mean: 5% by default), so a statistically clear but tiny drift (a few
  kilobytes of RSS over an hour) is not called a leak.

A series that is meant to grow (the journal appends every write) is judged the same way;
the benchmark says which ones are expected to grow.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

SIGNIFICANCE = 3.0
"""Standard errors a slope must stand from zero to count as a trend."""

SECONDS_PER_HOUR = 3600.0


@dataclass(frozen=True, slots=True)
class Trend:
    """One series over the run."""

    samples: int
    slope_per_h: float
    """Least-squares slope, in the series' unit per hour (0 with fewer than 2 samples)."""
    stderr_per_h: float
    """Standard error of the slope (inf with fewer than 3 samples: no noise estimate)."""
    first_third: float
    last_third: float
    growing: bool

    @property
    def verdict(self) -> str:
        if self.samples < 3:
            return "too few samples to judge"
        if self.growing:
            return "growing"
        return "flat within noise"


def least_squares(times_s: Sequence[float], values: Sequence[float]) -> tuple[float, float]:
    """Slope per second of ``values`` against ``times_s`` and its standard error.

    The slope is 0 when the times do not vary; the error is inf with fewer than 3 points.
    """
    n = len(times_s)
    if n != len(values):
        raise ValueError(f"{n} times but {len(values)} values")
    if n < 2:
        return 0.0, math.inf
    mean_t = sum(times_s) / n
    mean_v = sum(values) / n
    sxx = sum((t - mean_t) ** 2 for t in times_s)
    if sxx == 0:
        return 0.0, math.inf
    slope = sum((t - mean_t) * (v - mean_v) for t, v in zip(times_s, values, strict=True)) / sxx
    if n < 3:
        return slope, math.inf
    intercept = mean_v - slope * mean_t
    residuals = sum((v - intercept - slope * t) ** 2
                    for t, v in zip(times_s, values, strict=True))
    return slope, math.sqrt(residuals / (n - 2) / sxx)


def thirds(values: Sequence[float]) -> tuple[float, float]:
    """Means of the first and the last third of ``values`` (at least one value each)."""
    if not values:
        return 0.0, 0.0
    size = max(1, len(values) // 3)
    return sum(values[:size]) / size, sum(values[-size:]) / size


def judge(times_s: Sequence[float], values: Sequence[float], *,
          tolerance: float = 0.05) -> Trend:
    """The trend of one series sampled at ``times_s`` (seconds from the start)."""
    slope_s, stderr_s = least_squares(times_s, values)
    first, last = thirds(values)
    significant = slope_s > 0 and (stderr_s == 0 or slope_s >= SIGNIFICANCE * stderr_s)
    if math.isinf(stderr_s):
        significant = False
    risen = last - first > tolerance * abs(first)
    return Trend(samples=len(values), slope_per_h=slope_s * SECONDS_PER_HOUR,
                 stderr_per_h=stderr_s * SECONDS_PER_HOUR, first_third=first,
                 last_third=last, growing=significant and risen)
