"""The systemd notify protocol, spoken to a real unix datagram socket."""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from pathlib import Path

import pytest

from syncd.frontends.daemon.notify import SystemdNotifier, run_watchdog, watchdog_interval_s


@pytest.fixture
def listener(tmp_path: Path):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    path = tmp_path / "notify.sock"
    sock.bind(str(path))
    sock.settimeout(5)
    yield str(path), sock
    sock.close()


def receive(sock: socket.socket) -> list[str]:
    return sock.recv(4096).decode().split("\n")


def test_ready_status_and_stopping_reach_the_socket(listener):
    path, sock = listener
    notifier = SystemdNotifier.from_env({"NOTIFY_SOCKET": path})
    assert notifier.enabled
    assert notifier.ready(status="2 sites")
    assert receive(sock) == ["READY=1", "STATUS=2 sites"]
    assert notifier.status("shop: full ok\nplanned=3")
    assert receive(sock) == ["STATUS=shop: full ok planned=3"]  # one line, always
    assert notifier.watchdog()
    assert receive(sock) == ["WATCHDOG=1"]
    assert notifier.stopping()
    assert receive(sock) == ["STOPPING=1"]
    notifier.close()


def test_reloading_carries_a_monotonic_timestamp(listener):
    path, sock = listener
    notifier = SystemdNotifier(path)
    notifier.reloading()
    lines = receive(sock)
    assert lines[0] == "RELOADING=1"
    assert lines[1].startswith("MONOTONIC_USEC=") and lines[1].split("=")[1].isdigit()
    notifier.close()


def test_abstract_socket_names_starting_with_at_are_supported():
    name = f"syncd-test-{uuid.uuid4().hex}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name)
    sock.settimeout(5)
    try:
        notifier = SystemdNotifier(f"@{name}")
        assert notifier.ready()
        assert receive(sock) == ["READY=1"]
        notifier.close()
    finally:
        sock.close()


def test_without_notify_socket_every_call_is_a_no_op():
    notifier = SystemdNotifier.from_env({})
    assert not notifier.enabled
    assert not notifier.ready()
    assert not notifier.watchdog()


def test_a_vanished_socket_is_logged_not_raised(tmp_path):
    notifier = SystemdNotifier(str(tmp_path / "gone.sock"))
    assert not notifier.ready()
    notifier.close()


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, None),
        ({"WATCHDOG_USEC": "0"}, None),
        ({"WATCHDOG_USEC": "junk"}, None),
        ({"WATCHDOG_USEC": "30000000"}, 15.0),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "4242"}, 15.0),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}, None),  # meant for another pid
    ],
)
def test_watchdog_interval_is_half_of_watchdog_usec_for_this_pid(env, expected):
    assert watchdog_interval_s(env, pid=4242) == expected


def test_watchdog_interval_defaults_to_the_current_pid():
    env = {"WATCHDOG_USEC": "2000000", "WATCHDOG_PID": str(os.getpid())}
    assert watchdog_interval_s(env) == 1.0


async def test_watchdog_task_pings_repeatedly_until_cancelled(listener):
    path, sock = listener
    sock.setblocking(False)
    notifier = SystemdNotifier(path)
    task = asyncio.create_task(run_watchdog(notifier, interval_s=0.02), name="watchdog")
    await asyncio.sleep(0.15)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    pings = 0
    while True:
        try:
            assert sock.recv(64) == b"WATCHDOG=1"
        except BlockingIOError:
            break
        pings += 1
    assert pings >= 3
    notifier.close()
