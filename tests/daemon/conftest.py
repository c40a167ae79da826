"""Fakes shared by the daemon tests: a site and a scriptable cycle runner."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from syncd.frontends.daemon.cycle import CycleKind, CycleOutcome, CycleResult


@dataclass(frozen=True)
class FakeSite:
    name: str
    setting: str = ""
    """Stands for the rest of a site's settings: a reload that changes it restarts the site."""


@dataclass
class Call:
    site: str
    kind: CycleKind
    changed_keys: frozenset[str] | None


@dataclass
class FakeRunner:
    """Records calls; each call returns ``results`` in turn (then ``ok``), taking ``delay_s``.

    With ``gate`` set, a call waits for the gate (or the stop event) before returning, which
    lets a test act while a cycle is in flight. ``started`` is set when a call begins.
    """

    results: list[CycleResult | Exception] = field(default_factory=list)
    delay_s: float = 0.0
    gate: asyncio.Event | None = None
    honour_stop: bool = True
    calls: list[Call] = field(default_factory=list)
    started: asyncio.Event = field(default_factory=asyncio.Event)
    finished: list[CycleOutcome] = field(default_factory=list)
    on_call: Callable[[Call], None] | None = None

    async def __call__(self, site, *, kind, changed_keys, stop) -> CycleOutcome:
        call = Call(site.name, kind, changed_keys)
        self.calls.append(call)
        if self.on_call:
            self.on_call(call)
        self.started.set()
        if self.gate is not None:
            waiters = [asyncio.ensure_future(self.gate.wait())]
            if self.honour_stop:
                waiters.append(asyncio.ensure_future(stop.wait()))
            try:
                await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for w in waiters:
                    w.cancel()
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        result = self.results.pop(0) if self.results else CycleResult.OK
        if isinstance(result, Exception):
            raise result
        outcome = CycleOutcome(site=site.name, kind=kind, result=result, planned=2,
                               written=2 if result is CycleResult.OK else 0,
                               summary=f"{kind} {result}",
                               error=None if result is CycleResult.OK else "boom")
        self.finished.append(outcome)
        return outcome


@pytest.fixture
def runner() -> FakeRunner:
    return FakeRunner()


async def until(predicate: Callable[[], bool], *, timeout_s: float = 5.0) -> None:
    """Wait until ``predicate()`` holds, polling; fail the test after ``timeout_s``."""
    async with asyncio.timeout(timeout_s):
        while not predicate():  # noqa: ASYNC110 - polls plain state owned by the code under test
            await asyncio.sleep(0.005)
