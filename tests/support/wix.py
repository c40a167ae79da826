"""Helpers shared by the Wix client tests: controlled time, fast settings, a fake host."""

from __future__ import annotations

import asyncio

from syncd.edges.config import WixSettings

BASE = "https://wix.test"
API_KEY = "IST.secret-api-key-0123456789"
SITE_ID = "site-1111"


class FakeTime:
    """A clock that only moves when code sleeps; records every pause asked for."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, delay_s: float) -> None:
        self.sleeps.append(delay_s)
        self.now += delay_s
        await asyncio.sleep(0)


def fast_settings(**overrides: object) -> WixSettings:
    """Settings for unit tests: no jitter, a generous budget, the default retry schedule."""
    values: dict[str, object] = {
        "base_url": BASE,
        "jitter": 0.0,
        "rate_limit": 1000,
        "rate_period_s": 1.0,
        "rate_margin_s": 0.0,
    }
    values.update(overrides)
    return WixSettings(**values)  # type: ignore[arg-type]
