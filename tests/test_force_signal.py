"""``syncd sync --force`` signals only a syncd daemon of this user.

The lock file names a pid and a role; the pid may since have been reused by another
program. SIGUSR2 ends a process that does not handle it, so before signalling, the command
checks /proc: same user, and a command line that starts syncd (not one that merely has
"syncd" among its arguments). Here the test holds the site's lock itself and writes the
pid of an unrelated process into it, as a daemon's lock would read.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from syncd.edges.backend.local.approve import approval_path, is_syncd_command_line
from syncd.frontends.commands.common import ExitCode

ROOT = Path(__file__).resolve().parent.parent


def config(tmp_path: Path) -> Path:
    source = tmp_path / "stock.csv"
    source.write_text("sku,quantity\nA-1,3\n")
    path = tmp_path / "syncd.yaml"
    path.write_text(yaml.safe_dump({
        "sites": [{"name": "shop", "site_id": "s1", "api_key_env": "WIX_API_KEY",
                   "base_url": "http://127.0.0.1:9", "catalog": "v1"}],
        "source": {"path": str(source)}, "state_dir": str(tmp_path / "state")}))
    return path


@pytest.fixture
def bystander(request: pytest.FixtureRequest) -> Iterator[subprocess.Popen[bytes]]:
    """A long-running process of this user that is not syncd (``request.param``)."""
    proc = subprocess.Popen(request.param)
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait()


def hold_lock_naming(state: Path, pid: int) -> int:
    """Take the site's lock as a daemon would, naming ``pid``; returns the descriptor."""
    state.mkdir(mode=0o700, exist_ok=True)
    fd = os.open(state / "shop.lock", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    os.pwrite(fd, f"{pid} daemon\n".encode(), 0)
    return fd


@pytest.mark.parametrize("bystander", [
    ["sleep", "300"],
    # "syncd" among its arguments, as a reused pid of an editor or a script might have.
    [sys.executable, "-c", "import time; time.sleep(300)", "syncd", "run"],
], indirect=True, ids=["sleep", "python-with-syncd-argument"])
def test_a_lock_naming_a_process_that_is_not_syncd_never_gets_it_signalled(
        tmp_path: Path, bystander: subprocess.Popen[bytes]):
    path = config(tmp_path)
    fd = hold_lock_naming(tmp_path / "state", bystander.pid)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "syncd", "sync", "--force", "--config", str(path)],
            env={**os.environ, "WIX_API_KEY": "test-key-5f2a9c", "PYTHONPATH": str(ROOT)},
            capture_output=True, text=True, timeout=60, check=False)
    finally:
        os.close(fd)
    assert done.returncode == ExitCode.LOCKED, done.stderr
    assert f"process {bystander.pid} is not a syncd process of this user" in done.stderr
    assert bystander.poll() is None  # still running: not signalled
    assert not approval_path(tmp_path / "state", "shop").exists()


@pytest.mark.parametrize(("argv", "is_syncd"), [
    (["/usr/local/bin/syncd", "run"], True),
    (["/opt/venv/bin/python3", "/opt/venv/bin/syncd", "run"], True),
    (["python3", "-m", "syncd", "run"], True),
    (["python3", "-X", "dev", "-u", "-m", "syncd", "run"], True),
    (["sleep", "300"], False),
    (["less", "syncd"], False),
    (["python3", "-c", "pass", "syncd"], False),
    (["python3", "-m", "syncd_emulator"], False),
    (["python3", "tool.py", "syncd"], False),
    (["syncd-helper", "run"], False),
    ([], False),
])
def test_only_a_command_line_that_starts_syncd_counts_as_syncd(argv: list[str],
                                                                  is_syncd: bool):
    assert is_syncd_command_line(argv) is is_syncd
