"""Schedules and backoff: pure time arithmetic, checked with tables of cases."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone

import pytest

from syncd.base.errors import ConfigError
from syncd.frontends.daemon.backoff import Backoff, backoff_delay_s
from syncd.frontends.daemon.schedule import (
    CronSchedule,
    IntervalSchedule,
    add_jitter,
    make_schedule,
)

T0 = datetime(2024, 3, 10, 12, 7, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("expression", "now", "expected"),
    [
        ("*/15 * * * *", T0, datetime(2024, 3, 10, 12, 15, tzinfo=UTC)),
        ("0 * * * *", T0, datetime(2024, 3, 10, 13, 0, tzinfo=UTC)),
        ("30 2 * * *", T0, datetime(2024, 3, 11, 2, 30, tzinfo=UTC)),
        ("0 0 * * MON", T0, datetime(2024, 3, 11, 0, 0, tzinfo=UTC)),  # T0 is a Sunday
        ("0 0 1 * *", T0, datetime(2024, 4, 1, 0, 0, tzinfo=UTC)),
        # Exactly on a matching minute: the next one, never "now" again.
        ("*/15 * * * *", datetime(2024, 3, 10, 12, 15, tzinfo=UTC),
         datetime(2024, 3, 10, 12, 30, tzinfo=UTC)),
        # Another time zone in, the same instant out (cron is evaluated in UTC).
        ("0 13 * * *", T0.astimezone(timezone(timedelta(hours=2))),
         datetime(2024, 3, 10, 13, 0, tzinfo=UTC)),
    ],
)
def test_cron_schedule_gives_the_next_matching_minute_in_utc(expression, now, expected):
    assert CronSchedule(expression).next_after(now) == expected


def test_cron_schedule_iterates_strictly_forward():
    schedule = CronSchedule("*/20 * * * *")
    times = [T0]
    for _ in range(4):
        times.append(schedule.next_after(times[-1]))
    assert [t.minute for t in times[1:]] == [20, 40, 0, 20]


@pytest.mark.parametrize("expression", ["", "* * *", "61 * * * *", "* * * * FUNDAY", "hourly"])
def test_invalid_cron_expression_is_a_config_error_naming_it(expression):
    with pytest.raises(ConfigError, match="cron expression"):
        CronSchedule(expression)


@pytest.mark.parametrize(("interval_s", "expected"), [(60, 60.0), (0.25, 0.25), (3600, 3600.0)])
def test_interval_schedule_is_due_one_interval_after_now(interval_s, expected):
    due = IntervalSchedule(interval_s).next_after(T0)
    assert (due - T0).total_seconds() == expected


@pytest.mark.parametrize("interval_s", [0, -5])
def test_non_positive_interval_is_refused(interval_s):
    with pytest.raises(ConfigError, match="positive"):
        IntervalSchedule(interval_s)


@pytest.mark.parametrize(
    ("interval_s", "cron", "kind"),
    [(60.0, None, IntervalSchedule), (None, "0 * * * *", CronSchedule)],
)
def test_make_schedule_picks_the_configured_kind(interval_s, cron, kind):
    assert isinstance(make_schedule(interval_s=interval_s, cron=cron), kind)


@pytest.mark.parametrize(("interval_s", "cron"), [(None, None), (60.0, "0 * * * *")])
def test_make_schedule_wants_exactly_one_of_interval_and_cron(interval_s, cron):
    with pytest.raises(ConfigError, match="exactly one"):
        make_schedule(interval_s=interval_s, cron=cron)


@pytest.mark.parametrize("jitter_s", [0.5, 10.0, 300.0])
def test_jitter_only_delays_and_stays_within_its_bound(jitter_s):
    rng = random.Random(1)
    delays = [(add_jitter(T0, jitter_s=jitter_s, rng=rng) - T0).total_seconds()
              for _ in range(500)]
    assert all(0.0 <= d <= jitter_s for d in delays)
    # Spread over the range, not a constant: the point of jitter.
    assert max(delays) - min(delays) > jitter_s / 2


def test_zero_jitter_keeps_the_due_time():
    assert add_jitter(T0, jitter_s=0.0) == T0


@pytest.mark.parametrize(
    ("failures", "expected_s"),
    [(0, 0.0), (1, 5.0), (2, 10.0), (3, 20.0), (6, 160.0), (7, 300.0), (50, 300.0),
     (10_000, 300.0)],
)
def test_backoff_doubles_from_five_seconds_up_to_five_minutes(failures, expected_s):
    assert backoff_delay_s(failures, initial_s=5.0, max_s=300.0) == expected_s


class TestBackoff:
    def test_delays_grow_with_consecutive_failures(self):
        backoff = Backoff(jitter_ratio=0.0)
        assert [backoff.next_delay_s() for _ in range(5)] == [5.0, 10.0, 20.0, 40.0, 80.0]

    def test_delays_are_bounded_even_with_jitter(self):
        backoff = Backoff(initial_s=5.0, max_s=300.0, jitter_ratio=0.5, rng=random.Random(7))
        delays = [backoff.next_delay_s() for _ in range(40)]
        assert max(delays) <= 300.0
        assert all(d > 0 for d in delays)

    def test_jitter_spreads_delays_around_the_base(self):
        delays = {Backoff(jitter_ratio=0.2, rng=random.Random(seed)).next_delay_s()
                  for seed in range(20)}
        assert all(4.0 <= d <= 6.0 for d in delays)
        assert len(delays) > 1

    def test_success_resets_the_backoff(self):
        backoff = Backoff(jitter_ratio=0.0)
        for _ in range(4):
            backoff.next_delay_s()
        backoff.reset()
        assert backoff.failures == 0
        assert backoff.next_delay_s() == 5.0
