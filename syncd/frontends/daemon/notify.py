"""The systemd notify protocol (``Type=notify``), without a dependency.

systemd passes ``$NOTIFY_SOCKET``, a unix datagram socket (a path, or an abstract name
starting with ``@``), and reads ``KEY=value`` lines from it: ``READY=1`` once start-up is
done, ``STATUS=...`` for ``systemctl status``, ``WATCHDOG=1`` at least every
``$WATCHDOG_USEC`` microseconds when the unit sets ``WatchdogSec=``, ``RELOADING=1`` around a
reload and ``STOPPING=1`` when shutting down. The protocol is one ``sendto`` per message,
which is all this module does; outside systemd (no ``$NOTIFY_SOCKET``) every call is a
no-op, so the daemon needs no special case for Docker or a terminal.

Sending never blocks the event loop (non-blocking socket) and never raises: a lost
notification is logged, because failing the daemon over it would be worse.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections.abc import Mapping

import structlog

log = structlog.get_logger("syncd.frontends.daemon.notify")


def _address(raw: str) -> str:
    # An abstract socket is named with a leading NUL byte; systemd writes it as "@".
    return "\0" + raw[1:] if raw.startswith("@") else raw


def watchdog_interval_s(env: Mapping[str, str], *, pid: int | None = None) -> float | None:
    """How often to send ``WATCHDOG=1`` (half of ``$WATCHDOG_USEC``), or None if not asked.

    ``$WATCHDOG_PID``, when set, must be this process: the variables may have been inherited
    from a parent that systemd watches instead.
    """
    usec = env.get("WATCHDOG_USEC", "")
    if not usec.isdigit() or int(usec) == 0:
        return None
    owner = env.get("WATCHDOG_PID", "")
    if owner and owner != str(pid if pid is not None else os.getpid()):
        return None
    return int(usec) / 1_000_000 / 2


class SystemdNotifier:
    """Sends notify messages to ``socket_path``; does nothing when it is None."""

    def __init__(self, socket_path: str | None) -> None:
        self.socket_path = socket_path or None
        self._sock: socket.socket | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> SystemdNotifier:
        """A notifier for ``$NOTIFY_SOCKET`` (disabled when it is unset)."""
        return cls((env if env is not None else os.environ).get("NOTIFY_SOCKET"))

    @property
    def enabled(self) -> bool:
        return self.socket_path is not None

    def send(self, *lines: str) -> bool:
        """Send one datagram of ``KEY=value`` lines; True if it was handed to the kernel."""
        if self.socket_path is None:
            return False
        payload = "\n".join(lines).encode("utf-8", "replace")
        try:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
                self._sock.setblocking(False)
            self._sock.sendto(payload, _address(self.socket_path))
        except OSError as e:
            log.warning("systemd_notify_failed", socket=self.socket_path, error=str(e))
            return False
        return True

    def ready(self, status: str | None = None) -> bool:
        """Start-up finished: systemd considers the unit started from now on."""
        return self.send("READY=1", *([f"STATUS={_one_line(status)}"] if status else []))

    def status(self, text: str) -> bool:
        """Set the free-text status shown by ``systemctl status``."""
        return self.send(f"STATUS={_one_line(text)}")

    def watchdog(self) -> bool:
        """Tell the service manager the daemon is still alive."""
        return self.send("WATCHDOG=1")

    def reloading(self) -> bool:
        """A reload started; ``ready()`` ends it. MONOTONIC_USEC is required by systemd 253+."""
        return self.send("RELOADING=1", f"MONOTONIC_USEC={time.monotonic_ns() // 1000}")

    def stopping(self) -> bool:
        """Shutdown started: systemd shows the unit as deactivating."""
        return self.send("STOPPING=1")

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def _one_line(text: str) -> str:
    # A newline would start a new KEY=value assignment in the datagram.
    return " ".join(text.split())


async def run_watchdog(notifier: SystemdNotifier, *, interval_s: float) -> None:
    """Send ``WATCHDOG=1`` every ``interval_s`` until cancelled by the owner.

    A ping proves the event loop still turns: a blocked loop (the failure the watchdog is
    for) stops the pings and systemd restarts the service.
    """
    while True:
        notifier.watchdog()
        await asyncio.sleep(interval_s)
