"""Approving a refused plan while a daemon holds the site's lock.

``syncd sync --force`` cannot take the lock of a site a daemon is syncing, and stopping the
service just to approve one plan is the wrong answer. So the command leaves an approval
request for the site (``<state_dir>/<site>.force``) and sends the daemon, whose pid the
lock file names, ``SIGUSR2``. On that signal the daemon takes the requests of its own sites
and runs one full cycle of each with the safety guards overridden, as ``--force`` would;
sites without a request are not affected.

The signal's default action ends a process, so it is sent only to a process the lock file
says is a daemon, that belongs to this user and whose command line is syncd's
(``is_syncd_process``): a pid reused by another program, or a one-shot sync, is never
signalled.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

from syncd.base.private_files import write_private

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


def request_forced_cycle(state_dir: Path, site: str, pid: int) -> None:
    """Leave the request for ``site`` and signal the daemon ``pid``; raises ``OSError``
    (nothing left, nothing sent) when ``pid`` is not a syncd process of this user."""
    if not is_syncd_process(pid):
        raise OSError(f"process {pid} is not a syncd process of this user: not signalled")
    write_private(approval_path(state_dir, site), f"requested by pid {os.getpid()}\n".encode())
    os.kill(pid, APPROVE_SIGNAL)


def take_approval(state_dir: Path, site: str) -> bool:
    """True (once) when a forced cycle of ``site`` was requested."""
    try:
        approval_path(state_dir, site).unlink()
    except FileNotFoundError:
        return False
    return True
