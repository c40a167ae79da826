"""Approving a refused plan while a daemon holds the site's lock.

``syncd sync --force`` cannot take the lock of a site a daemon is syncing, and stopping the
service just to approve one plan is the wrong answer. So the command leaves an approval
request for the site (``<state_dir>/<site>.force``, the approval of the plan the command
showed: ``syncd.edges.backend.local.console_files``) and sends the daemon, whose pid the
lock file names, ``SIGUSR2``. On that signal the daemon runs one full cycle of each of its
sites with a request; that cycle takes the request and overrides the safety guards only
if it plans the approved plan (the same digest); sites without a request are not affected.

The signal's default action ends a process, so it is sent only to a process the lock file
says is a daemon, that belongs to this user and whose command line is syncd's
(``is_syncd_process``): a pid reused by another program, or a one-shot sync, is never
signalled.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

from syncd.edges.backend.console_state import Approval

APPROVE_SIGNAL = signal.SIGUSR2
"""What a daemon listens to for approval requests."""


def approval_path(state_dir: Path, site: str) -> Path:
    """Where the request to force one cycle of ``site`` is left."""
    return state_dir / f"{site}.force"


def is_syncd_process(pid: int) -> bool:
    """True when ``pid`` runs as this user and is syncd itself: the ``syncd`` program
    (``syncd run``, or ``python .../bin/syncd run``) or ``python -m syncd ...``. A program
    that merely has "syncd" among its arguments (``less syncd``, a script given a file
    named so) is not. Where ``/proc`` cannot tell, False."""
    proc = Path("/proc") / str(pid)
    try:
        if proc.stat().st_uid != os.getuid():
            return False
        argv = [os.fsdecode(a) for a in (proc / "cmdline").read_bytes().split(b"\0")]
    except OSError:
        return False
    return is_syncd_command_line(argv)


def is_syncd_command_line(argv: list[str]) -> bool:
    """Whether ``argv`` (a ``/proc/PID/cmdline``) starts syncd: its program is ``syncd``,
    or a Python interpreter whose first argument is ``-m syncd`` or the ``syncd`` script."""
    if not argv or not argv[0]:
        return False
    program = Path(argv[0]).name
    if program == "syncd":
        return True
    if not program.startswith("python"):
        return False
    args = iter(argv[1:])
    for arg in args:
        if arg == "-m":
            return next(args, None) == "syncd"
        if arg in ("-X", "-W", "--check-hash-based-pycs"):
            next(args, None)  # the option's value
        elif not arg.startswith("-"):
            return Path(arg).name == "syncd"  # the script: pip's bin/syncd
        elif arg == "-c":
            return False
    return False


def request_forced_cycle(state_dir: Path, site: str, pid: int, approval: Approval) -> None:
    """Leave ``approval`` for ``site`` and signal the daemon ``pid``; raises ``OSError``
    (nothing left, nothing sent) when ``pid`` is not a syncd process of this user."""
    from syncd.edges.backend.local.console_files import write_approval

    if not is_syncd_process(pid):
        raise OSError(f"process {pid} is not a syncd process of this user: not signalled")
    write_approval(state_dir, site, approval)
    os.kill(pid, APPROVE_SIGNAL)


def approval_waits(state_dir: Path, site: str) -> bool:
    """True when a request to force a cycle of ``site`` was left (and not yet taken)."""
    return approval_path(state_dir, site).exists()
