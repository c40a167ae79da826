"""The per-site lock file: one writer per store."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from pathlib import Path

import pytest

from syncd.base.errors import SyncdError
from syncd.edges.backend import SiteLocked
from syncd.edges.backend.local.lock import acquire_site_lock, lock_path


def test_second_holder_is_refused_with_the_pid_and_lock_file(tmp_path: Path):
    with acquire_site_lock(tmp_path, "shop-a") as lock:
        assert lock.path == tmp_path / "shop-a.lock"
        assert lock.path.read_text().split() == [str(os.getpid()), "sync"]
        with pytest.raises(SiteLocked) as caught:
            with acquire_site_lock(tmp_path, "shop-a"):
                pass
    error = caught.value
    assert error.pid == os.getpid() and error.role == "sync"
    assert error.lock_path == tmp_path / "shop-a.lock"
    assert str(os.getpid()) in str(error)
    assert str(tmp_path / "shop-a.lock") in str(error)
    assert isinstance(error, SyncdError)


def test_a_daemons_lock_says_so_and_an_old_lock_file_names_no_role(tmp_path: Path):
    with acquire_site_lock(tmp_path, "shop", role="daemon"):
        with pytest.raises(SiteLocked, match="the syncd daemon") as caught:
            with acquire_site_lock(tmp_path, "shop"):
                pass
    assert caught.value.role == "daemon"
    # A lock file written by an older version names a pid only: not taken for a daemon.
    path = lock_path(tmp_path, "old")
    path.write_text(f"{os.getpid()}\n")
    with path.open() as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        with pytest.raises(SiteLocked) as caught:
            with acquire_site_lock(tmp_path, "old"):
                pass
    assert caught.value.pid == os.getpid() and caught.value.role is None


def test_lock_is_free_again_after_release(tmp_path: Path):
    with acquire_site_lock(tmp_path, "shop-a"):
        pass
    with acquire_site_lock(tmp_path, "shop-a") as lock:
        assert lock.path.exists()


def test_sites_lock_independently(tmp_path: Path):
    with acquire_site_lock(tmp_path, "shop-a"), acquire_site_lock(tmp_path, "shop-b"):
        assert (tmp_path / "shop-b.lock").exists()


def test_lock_held_by_another_process_names_that_process(tmp_path: Path):
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, pathlib\n"
         "from syncd.edges.backend.local.lock import acquire_site_lock\n"
         "with acquire_site_lock(pathlib.Path(sys.argv[1]), 'shop'):\n"
         "    print('held', flush=True)\n"
         "    sys.stdin.readline()\n",
         str(tmp_path)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(SiteLocked, match=f"syncd command \\(process {holder.pid}\\)"):
            with acquire_site_lock(tmp_path, "shop"):
                pass
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=10)
        assert holder.stdout is not None
        holder.stdout.close()
    # The holder exited: the kernel released its lock.
    with acquire_site_lock(tmp_path, "shop"):
        pass


def test_site_names_become_safe_file_names(tmp_path: Path):
    assert lock_path(tmp_path, "../etc/passwd").parent == tmp_path
    assert lock_path(tmp_path, "my shop/eu").name == "my_shop_eu.lock"


def test_state_directory_is_created(tmp_path: Path):
    state = tmp_path / "state" / "nested"
    with acquire_site_lock(state, "shop") as lock:
        assert lock.path.parent == state


def test_unwritable_state_directory_is_a_clear_error(tmp_path: Path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(SyncdError, match="cannot create lock file"):
        with acquire_site_lock(blocker / "state", "shop"):
            pass
