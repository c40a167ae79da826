"""The container's entry point, run as the image runs it: installed (not editable) into a
fresh venv, started with the Dockerfile's ENTRYPOINT + CMD, as a non-root user.

No container engine runs on CI machines, so this is the nearest honest substitute for
``docker run``. It covers what the image build and the image's user could break: the
package builds as a wheel and installs with its package data, the ``syncd`` script works,
the command line in the Dockerfile is right, the daemon runs under uid 10001 (the image's
user) with nothing but the files it was given, and ``syncd healthcheck`` (the image's
HEALTHCHECK) answers. Dependencies are not resolved again from the registry: the fresh
venv sees the development venv's site-packages through a .pth file, while syncd itself is
built and installed the way the Dockerfile's builder stage does (``pip install --no-deps``
from a copy of the same three paths the image copies). Marked slow: building the wheel takes
about ten seconds.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.sync import unsettled
from syncd.edges.backend.local.journal import read_journal

from .daemon_process import SIGTERM, DaemonProcess, base_env, uid_of, write_config

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

ROOT = Path(__file__).resolve().parents[2]
IMAGE_UID = 10001


def image_command() -> list[str]:
    """ENTRYPOINT + CMD of the Dockerfile's final stage."""
    text = (ROOT / "Dockerfile").read_text()
    entrypoint = json.loads(re.findall(r"^ENTRYPOINT (.+)$", text, re.M)[-1])
    cmd = json.loads(re.findall(r"^CMD (.+)$", text, re.M)[-1])
    return [*entrypoint, *cmd]


def run_as() -> list[str]:
    """The prefix that drops to the image's uid, or nothing when not root."""
    if os.geteuid() != 0:
        return []  # already unprivileged: run as ourselves
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root and setpriv (util-linux) is absent: cannot drop to a "
                    "non-root user")
    return [setpriv, f"--reuid={IMAGE_UID}", f"--regid={IMAGE_UID}", "--clear-groups", "--"]


def interpreter() -> str:
    """A Python of this minor version that an unprivileged user may execute.

    The development venv's base interpreter may live in root's home (pyenv); a system
    Python of the same minor version runs the same compiled dependencies.
    """
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    for candidate in (f"/usr/bin/python{version}", f"/usr/local/bin/python{version}",
                      getattr(sys, "_base_executable", sys.executable)):
        if Path(candidate).is_file() and _world_executable(Path(candidate)):
            return candidate
    pytest.skip(f"no Python {version} executable by an unprivileged user")


def _world_executable(path: Path) -> bool:
    for part in [path, *path.parents]:
        if not part.stat().st_mode & 0o001:
            return False
    return True


@pytest.fixture(scope="module")
def fresh_venv() -> Iterator[Path]:
    """syncd built and installed into a new venv, as the Dockerfile's builder stage does."""
    base = Path(tempfile.mkdtemp(prefix="syncd-image-"))
    try:
        base.chmod(0o755)
        context = base / "context"
        context.mkdir()
        for name in ("pyproject.toml", "README.md"):
            shutil.copy2(ROOT / name, context / name)
        for package in ("syncd", "syncd_emulator"):
            shutil.copytree(ROOT / package, context / package,
                            ignore=shutil.ignore_patterns("__pycache__"))
        venv = base / "venv"
        subprocess.run([interpreter(), "-m", "venv", str(venv)], check=True, timeout=120)
        purelib = Path(sysconfig.get_path("purelib", vars={"base": str(venv)}))
        # The dependencies, from the development venv (see the module docstring).
        (purelib / "syncd-test-deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
        subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet",
                        "--no-deps", "--disable-pip-version-check", str(context)],
                       check=True, timeout=240, capture_output=True)
        yield venv
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_fresh_venv_runs_the_installed_copy_not_the_checkout(fresh_venv: Path):
    found = subprocess.run(
        [str(fresh_venv / "bin" / "python"), "-c", "import syncd; print(syncd.__file__)"],
        capture_output=True, text=True, check=True, cwd="/", timeout=60).stdout.strip()
    assert found.startswith(str(fresh_venv))


async def test_image_command_syncs_applies_an_edit_and_stops_cleanly_as_non_root(
        fresh_venv: Path, emulator):
    prefix = run_as()
    emu = await emulator()  # the packaged demo store, Wix's rate limit
    work = Path(tempfile.mkdtemp(prefix="syncd-run-"))
    try:
        await _run_image_command(fresh_venv, emu, work, prefix)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _prepare(work: Path, emu, prefix: list[str]):
    """The files the image would get as volumes, readable by the image's user."""
    work.chmod(0o755)
    etc, state = work / "etc" / "syncd", work / "state"
    etc.mkdir(parents=True)
    state.mkdir(mode=0o700)
    source = work / "stock.csv"
    shutil.copy2(ROOT / "config" / "stock.example.csv", source)
    key = etc / "wix-api-key"
    key.write_text(f"{emu.config.api_key}\n")
    config = write_config(etc, emulator_url=emu.url, source=source, key_file=key,
                          settle_s=0.5, grace_s=10)
    notify_path = work / "notify.sock"
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(notify_path))
    notify.setblocking(False)
    if prefix:
        for path in (work / "etc", etc, key, config, source, notify_path):
            path.chmod(0o755 if path.is_dir() else 0o644)
        notify_path.chmod(0o666)
        os.chown(state, IMAGE_UID, IMAGE_UID)
    return config, source, state, notify, notify_path


async def _run_image_command(venv: Path, emu, work: Path, prefix: list[str]) -> None:
    config, source, state, notify, notify_path = _prepare(work, emu, prefix)
    command = image_command()
    assert command[-2:] == ["--config", "/etc/syncd/syncd.yaml"]
    command[-1] = str(config)  # where the image has its /etc/syncd volume
    command[0] = str(venv / "bin" / command[0])
    env = base_env(PATH=f"{venv / 'bin'}:/usr/bin:/bin", HOME=str(state),
                   SYNCD_STATE_DIR=str(state), SYNCD_HTTP_LISTEN="127.0.0.1:0",
                   NOTIFY_SOCKET=str(notify_path))
    daemon = DaemonProcess([*prefix, *command], env=env, cwd=state)
    await daemon.start()
    try:
        await daemon.wait_for("cycle_finished", result="ok", kind="full")
        assert uid_of(daemon.pid) == (IMAGE_UID if prefix else os.getuid())
        assert _notifications(notify)[0].startswith("READY=1")

        # The image's HEALTHCHECK command, as the same user.
        probe = await asyncio.create_subprocess_exec(
            *prefix, str(venv / "bin" / "syncd"), "healthcheck", "--ready",
            env={**env, "SYNCD_HTTP_LISTEN": f"0.0.0.0:{daemon.port}"},
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await probe.communicate()
        assert probe.returncode == 0, (out, err)
        assert b'"ready": true' in out

        # A single edited row reaches the store through a fast cycle.
        assert _quantity(emu, "TSHIRT-RED-S") == 12
        edited = source.read_text().replace("TSHIRT-RED-S,12,", "TSHIRT-RED-S,33,", 1)
        started = time.monotonic()
        source.write_text(edited)
        async with asyncio.timeout(15):
            while _quantity(emu, "TSHIRT-RED-S") != 33:  # noqa: ASYNC110 - emulator state
                await asyncio.sleep(0.02)
        latency_s = time.monotonic() - started
        print(f"edit reached the store {latency_s:.2f}s after the write (settle 0.5s)")
        assert daemon.find("cycle_started", kind="fast") is not None

        daemon.signal(SIGTERM)
        assert await daemon.wait(timeout_s=20) == 0, daemon.log_text()
    finally:
        await daemon.kill()
        messages = _notifications(notify)
        notify.close()
    assert "STOPPING=1" in messages
    assert daemon.find("shutdown_complete") is not None
    assert unsettled(list(read_journal(state / "journal" / "demo.jsonl"))) == []


def _quantity(emu, sku: str) -> int:
    return next(int(r["quantity"]) for r in emu.state() if r["sku"] == sku)


def _notifications(sock: socket.socket) -> list[str]:
    messages = []
    while True:
        try:
            messages.append(sock.recv(4096).decode())
        except BlockingIOError:
            return messages
