"""When the next scheduled cycle is due: a fixed interval or a cron expression, plus jitter.

Pure time arithmetic, no clock and no sleeping: the site loop passes "now" in and gets a time
out, which keeps every rule here testable with a table of cases. Cron expressions are
evaluated by ``cronsim`` (Debian cron semantics, DST handled) in UTC, so a schedule means the
same on every host and in every container regardless of its local time zone.

Jitter is added, never subtracted: a schedule is a "not before" promise, and several daemons
(or sites) started together spread out instead of hitting Wix in the same second.

A fleet's first round is spread too (``start_offset_s``): each site gets a stable offset
within the first 90% of one period, derived from its name by a hash, so a restart neither
stampedes nor needs anything persisted: the same site starts at the same point of the
period on every host and after every restart.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from cronsim import CronSim, CronSimError

from syncd.base.errors import ConfigError


class Schedule(Protocol):
    """Gives the next due time strictly after ``now`` (aware datetimes, before jitter)."""

    def next_after(self, now: datetime) -> datetime: ...

    def describe(self) -> str: ...


@dataclass(frozen=True, slots=True)
class IntervalSchedule:
    """A full cycle every ``interval_s`` seconds, counted from the start of the previous one."""

    interval_s: float

    def __post_init__(self) -> None:
        if not self.interval_s > 0:
            raise ConfigError(f"schedule interval must be positive, got {self.interval_s}")

    def next_after(self, now: datetime) -> datetime:
        return now + timedelta(seconds=self.interval_s)

    def describe(self) -> str:
        return f"every {self.interval_s:g}s"


@dataclass(frozen=True, slots=True)
class CronSchedule:
    """A full cycle at each time matching a 5-field cron expression, in UTC."""

    expression: str

    def __post_init__(self) -> None:
        try:
            CronSim(self.expression, datetime(2000, 1, 1, tzinfo=UTC))
        except CronSimError as e:
            raise ConfigError(f"invalid cron expression {self.expression!r}: {e}") from e

    def next_after(self, now: datetime) -> datetime:
        # cronsim yields times strictly after the start, at whole minutes.
        try:
            return next(iter(CronSim(self.expression, now.astimezone(UTC))))
        except StopIteration:
            # An expression that matches nothing within 50 years (e.g. "0 0 30 2 *"):
            # treat it as "never", far enough away to never fire.
            return now + timedelta(days=365 * 50)

    def describe(self) -> str:
        return f"cron {self.expression!r} (UTC)"


def make_schedule(*, interval_s: float | None, cron: str | None) -> Schedule:
    """The schedule for exactly one of ``interval_s`` and ``cron``; ConfigError otherwise."""
    if (interval_s is None) == (cron is None):
        raise ConfigError("schedule: set exactly one of interval_seconds and cron")
    if cron is not None:
        return CronSchedule(cron)
    assert interval_s is not None
    return IntervalSchedule(interval_s)


def add_jitter(
    due: datetime, *, jitter_s: float, rng: random.Random | None = None
) -> datetime:
    """``due`` delayed by a uniformly random 0..``jitter_s`` seconds."""
    if jitter_s <= 0:
        return due
    draw = (rng or random).uniform(0.0, jitter_s)
    return due + timedelta(seconds=draw)


def period_s(schedule: Schedule, now: datetime) -> float:
    """How long one period of ``schedule`` lasts around ``now``: the interval, or the gap
    between the next two times a cron expression matches."""
    if isinstance(schedule, IntervalSchedule):
        return schedule.interval_s
    first = schedule.next_after(now)
    return (schedule.next_after(first) - first).total_seconds()


def start_offset_s(name: str, *, window_s: float) -> float:
    """A stable offset within ``0 <= offset < window_s`` for the site ``name``.

    A hash of the name, not Python's ``hash`` (salted per process): the same site gets the
    same offset after a restart and on every replica, and names spread evenly.
    """
    if window_s <= 0:
        return 0.0
    digest = hashlib.blake2b(name.encode(), digest_size=8).digest()
    return window_s * int.from_bytes(digest, "big") / 2**64
