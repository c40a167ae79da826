"""The soak benchmark's verdicts: a leak is called growing, noise around a level is not."""

from __future__ import annotations

import math
import random
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.bench.soak_stats import judge, least_squares, thirds


def hour_of_samples(every_s: float = 30.0) -> list[float]:
    return [i * every_s for i in range(int(3600 / every_s))]


def test_a_steady_leak_under_noise_is_called_growing_with_its_hourly_rate():
    rng = random.Random(1)
    times = hour_of_samples()
    # 100 MB, +20 MB an hour, +-2 MB of noise.
    values = [100.0 + 20.0 * t / 3600 + rng.uniform(-2, 2) for t in times]
    trend = judge(times, values)
    assert trend.verdict == "growing"
    assert trend.slope_per_h == pytest.approx(20.0, abs=1.0)
    assert 0 < trend.stderr_per_h < 1.0


def test_noise_around_a_level_is_flat_within_noise():
    rng = random.Random(2)
    times = hour_of_samples()
    values = [100.0 + rng.uniform(-5, 5) for _ in times]
    trend = judge(times, values)
    assert trend.verdict == "flat within noise"
    assert abs(trend.slope_per_h) < 3 * trend.stderr_per_h


def test_a_clear_but_tiny_drift_is_not_a_leak():
    # +0.1% over the hour: significant to least squares, below the 5% tolerance.
    times = hour_of_samples()
    values = [1000.0 + t / 3600 for t in times]
    trend = judge(times, values)
    assert trend.slope_per_h == pytest.approx(1.0)
    assert trend.verdict == "flat within noise"


def test_a_series_that_shrinks_is_not_growing():
    times = hour_of_samples()
    trend = judge(times, [500.0 - t / 60 for t in times])
    assert trend.slope_per_h == pytest.approx(-60.0)
    assert not trend.growing


def test_one_slow_sample_at_the_end_does_not_make_a_flat_series_grow():
    times = hour_of_samples()
    values = [50.0] * len(times)
    values[-1] = 500.0  # one slow page at the very end
    trend = judge(times, values)
    assert trend.first_third == 50.0
    assert not trend.growing


def test_too_few_samples_are_not_judged():
    trend = judge([0.0, 30.0], [1.0, 2.0])
    assert trend.verdict == "too few samples to judge"
    assert math.isinf(trend.stderr_per_h)


def test_least_squares_recovers_an_exact_line_and_refuses_mismatched_lengths():
    slope, stderr = least_squares([0, 1, 2, 3], [1, 3, 5, 7])
    assert (slope, stderr) == (2.0, 0.0)
    with pytest.raises(ValueError, match="3 times but 2 values"):
        least_squares([0, 1, 2], [1, 2])


def test_thirds_average_the_ends_of_the_series():
    assert thirds([1, 1, 1, 5, 5, 5, 9, 9, 9]) == (1.0, 9.0)
    assert thirds([4.0]) == (4.0, 4.0)
