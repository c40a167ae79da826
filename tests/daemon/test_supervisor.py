"""The whole daemon with a fake cycle runner: lifecycle, signals, reloads, locks, notify."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import signal
import socket
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families
from structlog.testing import capture_logs

from syncd.base.errors import ConfigError, SourceError
from syncd.cycle.metrics import Metrics
from syncd.edges.backend import SiteLocked
from syncd.edges.config import HttpSettings, ListenAddress, ScheduleSettings
from syncd.frontends.daemon.config import DaemonConfig, DaemonSetup, WatchedSource
from syncd.frontends.daemon.cycle import CycleKind, CycleResult
from syncd.frontends.daemon.notify import SystemdNotifier
from syncd.frontends.daemon.source_changes import SourceTracker
from syncd.frontends.daemon.supervisor import Daemon

from .conftest import FakeRunner, FakeSite, until

LOOPBACK_ANY_PORT = ListenAddress("127.0.0.1", 0)


SCHEDULE_FIELDS = {f.name for f in dataclasses.fields(ScheduleSettings)}


def config(tmp_path: Path, *sites: str | FakeSite, ready_max_age_s: float = 900.0,
           **kw) -> DaemonConfig[FakeSite]:
    """A config of ``sites`` (names or sites); keywords naming a ``ScheduleSettings`` field
    go to the schedule (hourly, no jitter, no watching by default), the others to
    ``DaemonConfig``."""
    schedule = {"interval_s": 3600.0, "jitter_s": 0.0, "watch_source": False}
    schedule.update({key: kw.pop(key) for key in list(kw) if key in SCHEDULE_FIELDS})
    kw.setdefault("shutdown_grace_s", 5.0)
    kw.setdefault("backoff_initial_s", 0.01)
    kw.setdefault("backoff_max_s", 0.05)
    return DaemonConfig(
        sites=tuple(FakeSite(s) if isinstance(s, str) else s for s in sites or ("shop",)),
        state_dir=tmp_path / "state", schedule=ScheduleSettings(**schedule),
        http=HttpSettings(listen=LOOPBACK_ANY_PORT, ready_max_age_s=ready_max_age_s), **kw)


def setup_for(cfg: DaemonConfig[FakeSite], runner: FakeRunner, *, sources=(),
              closed: list[str] | None = None) -> DaemonSetup[FakeSite]:
    @contextlib.asynccontextmanager
    async def open_runner():
        try:
            yield runner
        finally:
            if closed is not None:
                closed.append("closed")  # where the real runner flushes its journal

    return DaemonSetup(config=cfg, open_runner=open_runner, sources=tuple(sources))


class Harness:
    """A daemon running in a task, with its loader's next answer settable by the test."""

    def __init__(self, setup: DaemonSetup[FakeSite], *, notifier=None, env=None) -> None:
        self.next_setup: DaemonSetup[FakeSite] | Exception = setup
        self.daemon = Daemon(self.load, metrics=Metrics(), notifier=notifier, env=env or {})
        self.setup = setup
        self.task: asyncio.Task[None] | None = None

    def load(self) -> DaemonSetup[FakeSite]:
        if isinstance(self.next_setup, Exception):
            raise self.next_setup
        return self.next_setup

    async def __aenter__(self) -> Harness:
        self.task = asyncio.create_task(self.daemon.run(self.setup), name="daemon under test")
        started = asyncio.create_task(self.daemon.started.wait())
        await asyncio.wait([self.task, started], timeout=5,
                           return_when=asyncio.FIRST_COMPLETED)
        started.cancel()
        if self.task.done():
            self.task.result()  # re-raise a start-up failure
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.task is not None
        if not self.task.done():
            self.daemon.request_stop("test over")
        await asyncio.wait_for(self.task, timeout=10)

    @property
    def base_url(self) -> str:
        assert self.daemon.http_address is not None
        return f"http://127.0.0.1:{self.daemon.http_address.port}"


async def test_sigterm_mid_cycle_lets_the_write_finish_then_exits_cleanly(tmp_path):
    gate = asyncio.Event()
    runner = FakeRunner(gate=gate, honour_stop=False)  # a write that must not be cut
    closed: list[str] = []
    harness = Harness(setup_for(config(tmp_path), runner, closed=closed))
    with capture_logs() as logs:
        async with harness:
            await until(lambda: len(runner.calls) == 1)
            os.kill(os.getpid(), signal.SIGTERM)
            await until(lambda: harness.daemon.stop.is_set())
            await asyncio.sleep(0.05)
            assert not harness.task.done(), "exited while a write was in flight"
            gate.set()  # the write completes within the grace period
            await asyncio.wait_for(harness.task, timeout=5)
    assert harness.task.exception() is None  # run() returned: the process exits 0
    assert len(runner.finished) == 1 and runner.finished[0].result is CycleResult.OK
    assert closed == ["closed"]
    events = [e["event"] for e in logs]
    assert "shutdown_requested" in events and "shutdown_complete" in events
    assert "shutdown_grace_expired" not in events


async def test_work_still_running_after_the_grace_period_is_cancelled(tmp_path):
    runner = FakeRunner(gate=asyncio.Event(), honour_stop=False)  # never finishes
    closed: list[str] = []
    harness = Harness(setup_for(config(tmp_path, shutdown_grace_s=0.1), runner, closed=closed))
    with capture_logs() as logs:
        async with harness:
            await until(lambda: len(runner.calls) == 1)
            harness.daemon.request_stop("test")
            await asyncio.wait_for(harness.task, timeout=5)
    assert runner.finished == []
    expired = [e for e in logs if e["event"] == "shutdown_grace_expired"]
    assert expired and expired[0]["cancelled"] == ["site shop"]
    assert any(e["event"] == "cycle_cancelled" for e in logs)
    assert closed == ["closed"]  # the journal is still flushed


async def test_a_second_signal_skips_the_rest_of_the_grace_period(tmp_path):
    runner = FakeRunner(gate=asyncio.Event(), honour_stop=False)
    harness = Harness(setup_for(config(tmp_path, shutdown_grace_s=60), runner))
    async with harness:
        await until(lambda: len(runner.calls) == 1)
        os.kill(os.getpid(), signal.SIGINT)
        await until(lambda: harness.daemon.stop.is_set())
        os.kill(os.getpid(), signal.SIGINT)
        await asyncio.wait_for(harness.task, timeout=5)


async def test_stop_between_cycles_exits_at_once(tmp_path, runner):
    harness = Harness(setup_for(config(tmp_path), runner))
    async with harness:
        await until(lambda: len(runner.finished) == 1)
        harness.daemon.request_stop("test")
        await asyncio.wait_for(harness.task, timeout=5)


async def test_every_site_runs_in_its_own_named_task(tmp_path, runner):
    harness = Harness(setup_for(config(tmp_path, "eu", "us"), runner))
    async with harness:
        await until(lambda: len(runner.finished) == 2)
        names = {t.get_name() for t in asyncio.all_tasks()}
        assert {"site eu", "site us"} <= names
    assert {c.site for c in runner.calls} == {"eu", "us"}


async def test_sighup_with_a_valid_config_starts_the_new_site_and_leaves_the_others_be(
        tmp_path, runner):
    harness = Harness(setup_for(config(tmp_path, "eu", "fr"), runner))
    with capture_logs() as logs:
        async with harness:
            await until(lambda: len(runner.finished) == 2)
            eu_task = next(t for t in asyncio.all_tasks() if t.get_name() == "site eu")
            harness.next_setup = setup_for(config(tmp_path, "eu", "us"), runner)
            os.kill(os.getpid(), signal.SIGHUP)
            await until(lambda: len(runner.finished) == 3)
            await asyncio.sleep(0.05)
            statuses = harness.daemon.statuses
            assert set(statuses) == {"eu", "us"}
            assert statuses["eu"].cycles == 1  # its status and its loop survived the reload
            assert not eu_task.done()
    assert "config_reloaded" in [e["event"] for e in logs]
    assert [(c.site, c.kind) for c in runner.calls][2:] == [("us", CycleKind.FULL)]


async def test_sighup_with_an_invalid_config_keeps_the_running_one(tmp_path, runner):
    harness = Harness(setup_for(config(tmp_path, "eu", interval_s=0.05), runner))
    with capture_logs() as logs:
        async with harness:
            await until(lambda: len(runner.finished) == 1)
            harness.next_setup = ConfigError("syncd.yaml:4: schedule.cron: bad minute")
            os.kill(os.getpid(), signal.SIGHUP)
            await until(lambda: any(e["event"] == "config_reload_rejected" for e in logs))
            done_at_rejection = len(runner.finished)
            # The old configuration keeps running: its schedule still produces cycles.
            await until(lambda: len(runner.finished) >= done_at_rejection + 2)
    rejected = next(e for e in logs if e["event"] == "config_reload_rejected")
    assert "bad minute" in rejected["error"]
    assert rejected["error_type"] == "ConfigError"
    assert "config_reloaded" not in [e["event"] for e in logs]
    assert {c.site for c in runner.calls} == {"eu"}


async def test_a_second_daemon_on_the_same_state_dir_is_refused(tmp_path, runner):
    first = Harness(setup_for(config(tmp_path, "shop"), runner))
    async with first:
        second = Daemon(lambda: first.setup, metrics=Metrics(), env={})
        with pytest.raises(SiteLocked, match=f"process {os.getpid()}"):
            await second.run(setup_for(config(tmp_path, "shop"), FakeRunner()))


async def test_a_reload_adding_a_site_locked_elsewhere_is_rejected(tmp_path, runner):
    from syncd.edges.backend.local.lock import acquire_site_lock

    harness = Harness(setup_for(config(tmp_path, "eu"), runner))
    with capture_logs() as logs, acquire_site_lock(tmp_path / "state", "us"):
        async with harness:
            await until(lambda: len(runner.finished) == 1)
            harness.next_setup = setup_for(config(tmp_path, "eu", "us"), runner)
            harness.daemon.request_reload("test")
            await until(lambda: any(e["event"] == "config_reload_rejected" for e in logs))
            assert set(harness.daemon.statuses) == {"eu"}


async def test_readyz_and_metrics_follow_the_cycles(tmp_path):
    runner = FakeRunner(results=[CycleResult.FAILED], gate=asyncio.Event())
    harness = Harness(setup_for(config(tmp_path, ready_max_age_s=60), runner))
    async with harness, aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http:
        async with http.get(f"{harness.base_url}/healthz") as r:
            assert r.status == 200
        async with http.get(f"{harness.base_url}/readyz") as r:
            assert r.status == 503
        runner.gate.set()
        await until(lambda: len(runner.finished) == 1)
        async with http.get(f"{harness.base_url}/readyz") as r:
            assert r.status == 503  # the first cycle failed
            assert "failed" in (await r.json())["sites"]["shop"]["reason"]
        await until(lambda: len(runner.finished) == 2)  # the backoff retry succeeds
        async with http.get(f"{harness.base_url}/readyz") as r:
            assert r.status == 200
        async with http.get(f"{harness.base_url}/metrics") as r:
            text = await r.text()
    values = {(s.name, s.labels.get("result")): s.value
              for f in text_string_to_metric_families(text) for s in f.samples
              if s.name == "syncd_cycles_total"}
    assert values == {("syncd_cycles_total", "failed"): 1, ("syncd_cycles_total", "ok"): 1}


async def test_systemd_hears_ready_status_watchdog_and_stopping(tmp_path, runner):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(tmp_path / "notify"))
    sock.setblocking(False)
    notifier = SystemdNotifier(str(tmp_path / "notify"))
    env = {"WATCHDOG_USEC": "40000", "WATCHDOG_PID": str(os.getpid())}
    harness = Harness(setup_for(config(tmp_path), runner), notifier=notifier, env=env)
    try:
        async with harness:
            await until(lambda: len(runner.finished) == 1)
            await asyncio.sleep(0.1)
        messages = []
        while True:
            try:
                messages.append(sock.recv(4096).decode())
            except BlockingIOError:
                break
    finally:
        sock.close()
    assert messages[0].startswith("READY=1")
    assert any(m.startswith("STATUS=shop: full ok") for m in messages)
    assert messages.count("WATCHDOG=1") >= 2
    # Pings go on while in-flight work drains: systemd watches a stopping unit too.
    assert messages.count("STOPPING=1") == 1
    assert messages.index("STOPPING=1") > messages.index(
        next(m for m in messages if m.startswith("STATUS=shop")))


async def test_a_settled_source_edit_runs_a_fast_cycle_for_the_edited_rows(tmp_path, runner):
    source_file = tmp_path / "stock.csv"
    source_file.write_text("A,1\nB,2\n")

    def load() -> dict[str, str]:
        rows = dict(line.split(",") for line in source_file.read_text().splitlines())
        if "bad" in rows.values():
            raise SourceError("stock.csv: bad quantity")
        return rows

    def diff(old, new):
        return {k for k in old.keys() | new.keys() if old.get(k) != new.get(k)}

    cfg = config(tmp_path, "eu", "us", "other", watch_source=True, settle_s=0.1)
    watched = WatchedSource(source_file, ("eu", "us"), SourceTracker(load=load, diff=diff))
    harness = Harness(setup_for(cfg, runner, sources=[watched]))
    with capture_logs() as logs:
        async with harness:
            await until(lambda: len(runner.finished) == 3)
            source_file.write_text("A,1\nB,7\n")
            await until(lambda: len(runner.finished) == 5)
            source_file.write_text("A,1\nB,bad\n")  # invalid: reported, no cycle
            await until(lambda: any(e["event"] == "source_invalid" for e in logs))
            source_file.write_text("A,1\nB,8\n")  # valid again: a full cycle
            await until(lambda: len(runner.finished) == 7)
            await asyncio.sleep(0.05)
    fast = runner.calls[3:5]
    assert {c.site for c in fast} == {"eu", "us"}  # "other" reads another source
    assert all(c.kind is CycleKind.FAST and c.changed_keys == {"B"} for c in fast)
    again = runner.calls[5:]
    assert {c.site for c in again} == {"eu", "us"}
    assert all(c.kind is CycleKind.FULL for c in again)
    assert len(runner.calls) == 7
