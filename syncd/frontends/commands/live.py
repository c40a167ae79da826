"""What a one-shot command does while it runs: honour Ctrl-C at once, and show progress.

- ``stop_on_signals``: the first SIGINT/SIGTERM sets the stop event (nothing more is sent;
  requests on the wire finish, bounded by their timeout; the account follows); a second
  one ends the process at once with ``ExitCode.ABORTED`` and no traceback. SIGUSR1 and
  SIGUSR2, which a daemon takes as requests (a resync, an approval) and whose default
  action would end a one-shot command mid-write, are noted and otherwise ignored.
- ``progress_display``: the progress line on a terminal, or a ``sync_progress`` log line
  every 10 s when stderr is not one; nothing else is printed when output is piped.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator, Iterator

import structlog

from syncd.cycle.progress import ProgressLine, SyncProgress, log_progress
from syncd.frontends.commands.common import ExitCode

log = structlog.get_logger("syncd.live")

DAEMON_REQUESTS = (signal.SIGUSR1, signal.SIGUSR2)
"""Signals a daemon takes as requests; a one-shot command must not die of them."""

STOPPING = ("\nsyncd: stopping: nothing more is sent, requests already on the wire finish "
            "(Ctrl-C again to quit at once)")
ABORTING = ("\nsyncd: quitting at once; writes that were on the wire stay journaled "
            "'pending' (they may have landed)")


@contextlib.contextmanager
def stop_on_signals(stop: asyncio.Event) -> Iterator[None]:
    """SIGINT/SIGTERM stop sending at once; a second one exits (code 130) without a
    traceback."""
    loop = asyncio.get_running_loop()

    def abort(*_: object) -> None:
        with contextlib.suppress(OSError, ValueError):
            print(ABORTING, file=sys.stderr, flush=True)
            sys.stdout.flush()
        os._exit(ExitCode.ABORTED)

    def request_stop() -> None:
        if stop.is_set():
            abort()
        with contextlib.suppress(OSError, ValueError):
            print(STOPPING, file=sys.stderr, flush=True)
        stop.set()

    def not_a_daemon(sig: signal.Signals) -> None:
        log.warning("signal_ignored", signal=sig.name,
                    why="a one-shot command takes no daemon requests; it goes on")

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, request_stop)
    for sig in DAEMON_REQUESTS:
        loop.add_signal_handler(sig, not_a_daemon, sig)
    try:
        yield
    finally:
        for sig in DAEMON_REQUESTS:
            loop.remove_signal_handler(sig)
            signal.signal(sig, signal.SIG_IGN)
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
            if stop.is_set():
                # Still winding down (the account, closing connections): a second signal
                # must quit at once here too, not raise KeyboardInterrupt.
                signal.signal(sig, abort)


def quit_quietly_on_signals() -> None:
    """Once the run is over and the process only has to exit: ignore further signals, so
    that a late Ctrl-C neither prints a traceback nor kills the interpreter half-way
    through its exit (Python resets its own handlers to the default while finalising;
    an ignored signal stays ignored)."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)


@contextlib.asynccontextmanager
async def progress_display(progress: SyncProgress, *,
                           enabled: bool = True) -> AsyncIterator[ProgressLine | None]:
    """Show ``progress`` while the body runs: a live line on a terminal (yielded, so that
    the caller can clear it before printing), a log line every 10 s otherwise."""
    if not enabled:
        yield None
        return
    line = ProgressLine(progress, sys.stderr) if sys.stderr.isatty() else None
    task = asyncio.create_task(line.run() if line is not None else log_progress(progress),
                               name=f"progress {progress.site}")
    try:
        yield line
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
