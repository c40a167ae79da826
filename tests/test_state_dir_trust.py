"""A state directory that another user could tamper with is refused before any write.

The real commands run as subprocesses on a configuration whose state directory is owned
by another user, writable by everyone, or holds a link where a state file belongs: each
exits 73 (EX_CANTCREAT) with a message naming the directory, what is wrong and the fix,
and writes nothing there. The check needs no store: it comes before Wix is reached.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from syncd.edges.backend.local.check import state_dir_problem
from syncd.frontends.commands.common import ExitCode

ROOT = Path(__file__).resolve().parent.parent
NOBODY = 65534
COMMANDS = [["sync"], ["rollback"], ["run"]]


def config(tmp_path: Path, state: Path) -> Path:
    source = tmp_path / "stock.csv"
    source.write_text("sku,quantity\nA-1,3\n")
    path = tmp_path / "syncd.yaml"
    path.write_text(yaml.safe_dump({
        "sites": [{"name": "shop", "site_id": "s1", "api_key_env": "WIX_API_KEY",
                   "base_url": "http://127.0.0.1:9"}],
        "source": {"path": str(source)}, "state_dir": str(state),
        "http": {"listen": "127.0.0.1:0"}}))
    return path


def syncd(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "WIX_API_KEY": "test-key-5f2a9c", "PYTHONPATH": str(ROOT),
           "SYNCD_LOG_FORMAT": "json"}
    return subprocess.run([sys.executable, "-m", "syncd", *args], env=env, text=True,
                          capture_output=True, timeout=60, check=False)


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_a_world_writable_state_dir_exits_73_naming_it_and_the_fix(tmp_path: Path,
                                                                   command: list[str]):
    state = tmp_path / "state"
    state.mkdir()
    os.chmod(state, 0o777)
    done = syncd(*command, "--config", str(config(tmp_path, state)))
    assert done.returncode == ExitCode.STATE, done.stderr
    assert f"state_dir {state}: writable by every user" in done.stderr
    assert f"chmod o-w {state}" in done.stderr
    assert list(state.iterdir()) == []  # no lock file, no journal


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a directory away needs root")
@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_a_state_dir_owned_by_another_user_exits_73(tmp_path: Path, command: list[str]):
    # Root can write anywhere, so the directory's permissions would not stop it: only the
    # ownership check does. The directory is 0700, like one syncd made, but not ours.
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    os.chown(state, NOBODY, NOBODY)
    done = syncd(*command, "--config", str(config(tmp_path, state)))
    assert done.returncode == ExitCode.STATE, done.stderr
    assert f"state_dir {state}: owned by uid {NOBODY}, not by this user" in done.stderr
    assert "chown it to this user" in done.stderr
    assert list(state.iterdir()) == []


def test_a_symlink_where_a_state_file_belongs_exits_73(tmp_path: Path):
    state = tmp_path / "state"
    (state / "journal").mkdir(parents=True, mode=0o700)
    os.chmod(state, 0o700)
    victim = tmp_path / "elsewhere.jsonl"
    victim.write_text("")
    (state / "journal" / "shop.jsonl").symlink_to(victim)
    done = syncd("sync", "--config", str(config(tmp_path, state)))
    assert done.returncode == ExitCode.STATE, done.stderr
    assert "shop.jsonl: is a symbolic link" in done.stderr
    assert victim.read_text() == ""


def test_a_group_writable_state_dir_is_accepted_for_kubernetes_fs_group(tmp_path: Path):
    state = tmp_path / "state"
    state.mkdir()
    os.chmod(state, 0o2770)
    assert state_dir_problem(state) is None


def test_a_state_dir_syncd_creates_is_trusted(tmp_path: Path):
    assert state_dir_problem(tmp_path / "new" / "state") is None
    assert (tmp_path / "new" / "state").is_dir()


def test_a_closed_journal_segment_that_is_a_link_or_world_writable_is_refused(tmp_path: Path):
    state = tmp_path / "state"
    segments = state / "journal" / "shop.jsonl.d"
    segments.mkdir(parents=True, mode=0o700)
    os.chmod(state, 0o700)
    os.chmod(state / "journal", 0o700)
    victim = tmp_path / "forged.jsonl"
    victim.write_text("")
    (segments / "000001.jsonl").symlink_to(victim)
    assert "000001.jsonl: is a symbolic link" in (state_dir_problem(state) or "")
    (segments / "000001.jsonl").unlink()
    os.chmod(segments, 0o777)
    assert "shop.jsonl.d: writable by every user" in (state_dir_problem(state) or "")
