"""Replicas: each site loop runs within one ownership term and every cycle gets that term's
lease; a stopping replica keeps its leases until its cycles have drained."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Collection

from syncd.cycle.metrics import Metrics
from syncd.edges.backend.fence import SiteLease
from syncd.frontends.daemon.cycle import CycleOutcome
from syncd.frontends.daemon.supervisor import Daemon

from .conftest import FakeRunner, until
from .test_supervisor import Harness, config, setup_for


class FakeOwnership:
    """Leases handed out by the test: ``take`` starts a term, ``lose`` ends it."""

    def __init__(self) -> None:
        self.changed = asyncio.Event()
        self.events: list[str] = []
        self._sites: frozenset[str] = frozenset()
        self._held: dict[str, SiteLease] = {}
        self._epoch = 0

    def take(self, site: str) -> SiteLease:
        self._epoch += 1
        lease = SiteLease(site, replica="r1", epoch=self._epoch,
                          valid_until=time.monotonic() + 3600)
        self._held[site] = lease
        self.changed.set()
        return lease

    def lose(self, site: str) -> None:
        self._held.pop(site).end("lease connection closed")
        self.changed.set()

    def set_sites(self, names: Collection[str]) -> None:
        self._sites = frozenset(names)
        self.changed.set()

    def runnable(self) -> frozenset[str]:
        return frozenset(self._held) & self._sites

    def lease(self, site: str) -> SiteLease | None:
        return self._held.get(site) if site in self.runnable() else None

    async def stopped(self, running: frozenset[str]) -> None:
        if not running:
            self.events.append("released")

    async def run(self, stop: asyncio.Event) -> None:
        await stop.wait()
        self.events.append("ownership ended")


class LeaseRecordingRunner(FakeRunner):
    def __init__(self, events: list[str], **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self.epochs: list[int | None] = []
        self.events = events

    async def __call__(self, site, *, kind, changed_keys, stop, lease=None) -> CycleOutcome:
        self.epochs.append(lease.epoch if lease is not None else None)
        outcome = await super().__call__(site, kind=kind, changed_keys=changed_keys, stop=stop)
        self.events.append("cycle ended")
        return outcome


class ReplicaHarness(Harness):
    def __init__(self, setup, ownership: FakeOwnership) -> None:
        super().__init__(setup)
        self.daemon = Daemon(self.load, metrics=Metrics(), env={}, ownership=ownership)


async def test_a_site_lost_and_taken_back_gets_a_new_loop_fenced_by_the_new_lease(tmp_path):
    own = FakeOwnership()
    runner = LeaseRecordingRunner(own.events)
    own.take("shop")
    async with ReplicaHarness(setup_for(config(tmp_path), runner), own):
        await until(lambda: runner.epochs == [1])
        # Lost and taken back before the daemon looked: the same site, a new term.
        own.lose("shop")
        own.take("shop")
        await until(lambda: runner.epochs == [1, 2])


async def test_a_stopping_replica_keeps_its_leases_until_its_cycles_have_drained(tmp_path):
    own = FakeOwnership()
    runner = LeaseRecordingRunner(own.events, gate=asyncio.Event())  # ends when stopped
    own.take("shop")
    async with ReplicaHarness(setup_for(config(tmp_path), runner), own):
        await until(lambda: runner.epochs == [1])
    assert own.events == ["cycle ended", "released", "ownership ended"]
