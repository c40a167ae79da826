"""One writer per store: a lock file per site in the state directory.

Two daemons (or a daemon and a manual ``syncd sync``) writing the same store would fight
over every change and double the API budget. ``acquire_site_lock`` takes a non-blocking
``flock`` on ``<state_dir>/<site>.lock`` and writes the holder's pid and role (``daemon``
for ``syncd run``, ``sync`` for a one-shot command) into it, so the second process fails at
once with an error naming that process and the file, and ``syncd sync --force`` knows
whether the holder is a daemon it may ask for a forced cycle (``approve``). The kernel drops
the lock when its holder dies, even on SIGKILL, so a crash never leaves a stale lock behind;
the file itself stays (deleting it would race with a process opening it).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from syncd.base.errors import StateError
from syncd.base.private_files import open_private
from syncd.edges.backend.base import SiteLocked


@dataclass(frozen=True, slots=True)
class SiteLock:
    """A held lock: released when the ``acquire_site_lock`` context exits."""

    site: str
    path: Path


def lock_path(state_dir: Path, site: str) -> Path:
    """``<state_dir>/<site>.lock``, with any character unsafe in a file name replaced."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", site) or "_"
    return state_dir / f"{safe}.lock"


ROLES = ("daemon", "sync")
"""Who holds a lock: the daemon (it takes approval requests) or a one-shot command."""


def _read_holder(fd: int) -> tuple[int | None, str | None]:
    """The pid and role a lock file names (a file of an older version names a pid only)."""
    try:
        words = os.pread(fd, 64, 0).decode("ascii", "replace").split()
    except OSError:
        return None, None
    pid = int(words[0]) if words and words[0].isdigit() else None
    role = words[1] if len(words) > 1 and words[1] in ROLES else None
    return pid, role


@contextlib.contextmanager
def acquire_site_lock(state_dir: Path, site: str, *, role: str = "sync"
                      ) -> Iterator[SiteLock]:
    """Hold the site's lock for the ``with`` block as ``role`` (``ROLES``); raises
    ``SiteLocked`` if it is taken.

    Blocking-free: the lock is tried once, never waited for. Raises ``StateError`` if the
    state directory cannot be created or written, or the lock file is a link.
    """
    path = lock_path(state_dir, site)
    # The file is truncated below: opened through a link planted in its place, that would
    # empty whatever file the link names (open_private refuses links).
    try:
        fd = open_private(path, os.O_RDWR | os.O_CREAT)
    except StateError as e:
        raise StateError(f"cannot create lock file {path}: {e}") from e
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid, held_as = _read_holder(fd)
            holder = f"process {pid}" if pid else "another process"
            if held_as == "daemon":
                holder = f"the syncd daemon (process {pid})"
            elif held_as == "sync":
                holder = f"another syncd command (process {pid})"
            raise SiteLocked(
                f"site {site!r} is already being synced by {holder} (lock file {path}); "
                "two writers would fight over the same store. Stop the other syncd "
                "process, or wait for it to finish.",
                site=site, lock_path=path, pid=pid, role=held_as,
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {role}\n".encode(), 0)
        try:
            yield SiteLock(site=site, path=path)
        finally:
            # Empty the file first so a reader never sees a pid that no longer holds it.
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
