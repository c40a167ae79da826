"""Fault injection and the simulated shopper: the emulator's ways of being a bad day at Wix.

``FaultSettings`` holds the knobs that may change while the emulator runs (``POST
/__emulator/faults``). Per request, ``draw_fault`` decides whether the request fails with an
empty 500/503 or loses its connection, and ``latency_s`` how long it is held first: uniform
jitter between 50% and 150% of ``latency_ms``. ``draw_drop_after`` decides whether a request
that was handled (a write applied) loses its answer all the same: the case that makes a
non-idempotent write dangerous to send again. Faults hit only Wix routes, never the
``/__emulator/`` ones.

``Shopper`` plays customers: at ``shopper_rate`` orders per second it takes one unit of a
random tracked variant that still has stock (V3: bumping the item's revision), so a sync
always races real sales, as it does on a live store.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import asdict, dataclass
from typing import Any

from syncd_emulator.config import (
    STALE_STATUSES,
    EmulatorConfig,
    check_adjust_readings,
    check_faults,
    format_rate_limit,
    parse_rate_limit,
)
from syncd_emulator.stats import Stats
from syncd_emulator.store import Store

SHOPPER_MIN_TICK_S = 0.02
"""Shortest pause of the shopper loop; faster rates sell several units per tick."""


@dataclass(slots=True)
class FaultSettings:
    """Runtime-adjustable faults and limits (see ``EmulatorConfig`` for their meaning)."""

    fail_rate: float = 0.0
    drop_rate: float = 0.0
    latency_ms: int = 0
    shopper_rate: float = 0.0
    rate_limit: tuple[int, float] | None = (200, 60.0)
    retry_after_s: float | None = None
    stale_status: int = 409
    drop_after_rate: float = 0.0
    adjust_bad_entry: str = "fail_call"
    adjust_below_zero: str = "refuse"
    adjust_untracked: str = "refuse"

    @classmethod
    def from_config(cls, config: EmulatorConfig) -> FaultSettings:
        """The start-up settings of ``config``."""
        return cls(
            fail_rate=config.fail_rate,
            drop_rate=config.drop_rate,
            latency_ms=config.latency_ms,
            shopper_rate=config.shopper_rate,
            rate_limit=config.rate_limit,
            retry_after_s=config.retry_after_s,
            stale_status=config.stale_status,
            drop_after_rate=config.drop_after_rate,
            adjust_bad_entry=config.adjust_bad_entry,
            adjust_below_zero=config.adjust_below_zero,
            adjust_untracked=config.adjust_untracked,
        )

    def updated(self, changes: dict[str, Any]) -> FaultSettings:
        """A copy with ``changes`` applied; ValueError names an unknown or bad setting.

        ``rate_limit`` may be given as ``"200/60"``, ``"off"``, ``None`` or ``[200, 60]``.
        """
        unknown = set(changes) - set(self.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown fault setting(s): {', '.join(sorted(unknown))}")
        values = asdict(self)
        values.update(changes)
        limit = values["rate_limit"]
        if isinstance(limit, str):
            values["rate_limit"] = parse_rate_limit(limit)
        elif isinstance(limit, list | tuple):
            values["rate_limit"] = (int(limit[0]), float(limit[1]))
        elif limit is not None:
            raise ValueError(f"rate_limit must be like '200/60' or 'off', not {limit!r}")
        try:
            new = FaultSettings(
                fail_rate=float(values["fail_rate"]),
                drop_rate=float(values["drop_rate"]),
                latency_ms=int(values["latency_ms"]),
                shopper_rate=float(values["shopper_rate"]),
                rate_limit=values["rate_limit"],
                retry_after_s=None if values["retry_after_s"] is None
                else float(values["retry_after_s"]),
                stale_status=int(values["stale_status"]),
                drop_after_rate=float(values["drop_after_rate"]),
                adjust_bad_entry=str(values["adjust_bad_entry"]),
                adjust_below_zero=str(values["adjust_below_zero"]),
                adjust_untracked=str(values["adjust_untracked"]),
            )
        except (TypeError, ValueError) as e:
            raise ValueError(f"bad fault setting: {e}") from None
        check_adjust_readings(bad_entry=new.adjust_bad_entry, below_zero=new.adjust_below_zero,
                              untracked=new.adjust_untracked)
        check_faults(fail_rate=new.fail_rate, drop_rate=new.drop_rate,
                     drop_after_rate=new.drop_after_rate, latency_ms=new.latency_ms,
                     shopper_rate=new.shopper_rate, rate_limit=new.rate_limit,
                     retry_after_s=new.retry_after_s)
        if new.stale_status not in STALE_STATUSES:
            raise ValueError(f"stale_status must be 409 or 428, not {new.stale_status}")
        return new

    def as_dict(self) -> dict[str, object]:
        """JSON-ready view; ``rate_limit`` in its ``"200/60"`` spelling."""
        data = asdict(self)
        data["rate_limit"] = format_rate_limit(self.rate_limit)
        return data


def latency_s(settings: FaultSettings, rng: random.Random) -> float:
    """How long to hold this request: 50%..150% of ``latency_ms``, uniformly."""
    if settings.latency_ms <= 0:
        return 0.0
    return settings.latency_ms * rng.uniform(0.5, 1.5) / 1000.0


def draw_drop_after(settings: FaultSettings, rng: random.Random) -> bool:
    """True when this request, once handled, loses its answer (``drop_after_rate``)."""
    return bool(settings.drop_after_rate) and rng.random() < settings.drop_after_rate


def draw_fault(settings: FaultSettings, rng: random.Random) -> str | None:
    """``"drop"``, ``"500"``, ``"503"`` or None for this request."""
    if settings.drop_rate and rng.random() < settings.drop_rate:
        return "drop"
    if settings.fail_rate and rng.random() < settings.fail_rate:
        return rng.choice(("500", "503"))
    return None


class Shopper:
    """Sells stock in the background at the current ``shopper_rate`` (orders per second).

    The loop sleeps on an event while the rate is zero, so an idle shopper costs nothing;
    ``wake()`` is called whenever the settings change.
    """

    def __init__(self, store: Store, *, settings: FaultSettings, stats: Stats,
                 rng: random.Random) -> None:
        self.store = store
        self.settings = settings
        self.stats = stats
        self.rng = rng
        self._changed = asyncio.Event()

    def wake(self, settings: FaultSettings) -> None:
        """Pick up new settings (the rate may have changed)."""
        self.settings = settings
        self._changed.set()

    async def run(self) -> None:
        """Sell until cancelled."""
        loop = asyncio.get_running_loop()
        owed = 0.0
        last = loop.time()
        while True:
            rate = self.settings.shopper_rate
            if rate <= 0:
                self._changed.clear()
                await self._changed.wait()
                owed, last = 0.0, loop.time()
                continue
            await asyncio.sleep(max(1.0 / rate, SHOPPER_MIN_TICK_S))
            now = loop.time()
            owed += (now - last) * self.settings.shopper_rate
            last = now
            sales, owed = int(owed), owed - int(owed)
            for _ in range(sales):
                if self.store.sell_one(self.rng):
                    self.stats.shopper_sales += 1
