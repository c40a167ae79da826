"""Approving a refused plan while a daemon holds the site's lock.

``syncd sync --force`` cannot take the lock of a site a daemon is syncing, and stopping the
service just to approve one plan is the wrong answer. So the command leaves an approval
request for the site (``<state_dir>/<site>.force``) and sends the daemon, whose pid the
lock file names, ``SIGUSR2``. On that signal the daemon takes the requests of its own sites
and runs one full cycle of each with the safety guards overridden, as ``--force`` would;
sites without a request are not affected.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

APPROVE_SIGNAL = signal.SIGUSR2
"""What a daemon listens to for approval requests."""


def approval_path(state_dir: Path, site: str) -> Path:
    """Where the request to force one cycle of ``site`` is left."""
    return state_dir / f"{site}.force"


def request_forced_cycle(state_dir: Path, site: str, pid: int) -> None:
    """Leave the request for ``site`` and signal the daemon ``pid`` (raises ``OSError``)."""
    approval_path(state_dir, site).write_text(f"requested by pid {os.getpid()}\n")
    os.kill(pid, APPROVE_SIGNAL)


def take_approval(state_dir: Path, site: str) -> bool:
    """True (once) when a forced cycle of ``site`` was requested."""
    try:
        approval_path(state_dir, site).unlink()
    except FileNotFoundError:
        return False
    return True
