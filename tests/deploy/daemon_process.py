"""A ``syncd run`` child process for end-to-end tests: start it, follow its JSON log, stop it.

The emulator runs in the test's own event loop (``tests/conftest.py``), so everything here
is async: reading the child's log, polling HTTP and waiting for exit never block the loop
that serves the emulator the child talks to.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml


def write_config(
    directory: Path,
    *,
    emulator_url: str,
    source: Path,
    key_file: Path,
    settle_s: float = 0.2,
    grace_s: float = 10.0,
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """A daemon configuration for one emulated site, written to ``directory/syncd.yaml``."""
    config: dict[str, Any] = {
        "sites": [{"name": "demo", "site_id": "demo-site", "api_key_file": str(key_file),
                   "base_url": emulator_url, "catalog": "v1"}],
        "source": {"path": str(source)},
        "policy": {"max_changed_fraction": 1.0, "max_zeroed": 1000},
        "schedule": {"interval_seconds": 3600, "jitter_seconds": 0, "watch_source": True,
                     "settle_seconds": settle_s},
        "http": {"listen": "127.0.0.1:0", "ready_max_age_seconds": 600},
        "shutdown_grace_seconds": grace_s,
        "log": {"level": "info", "format": "json"},
        **(extra or {}),
    }
    path = directory / "syncd.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


class DaemonProcess:
    """One child process; ``events`` are its parsed JSON log lines, in order."""

    def __init__(self, argv: Sequence[str], *, env: Mapping[str, str], cwd: Path) -> None:
        self.argv = list(argv)
        self.env = dict(env)
        self.cwd = cwd
        self.events: list[dict[str, Any]] = []
        self.proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None
        self._new_event = asyncio.Event()

    async def start(self) -> DaemonProcess:
        self.proc = await asyncio.create_subprocess_exec(
            *self.argv, env=self.env, cwd=self.cwd, stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
        self._reader = asyncio.create_task(self._read(), name="read daemon log")
        return self

    async def _read(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        async for raw in self.proc.stderr:
            line = raw.decode("utf-8", "replace").strip()
            if not line:
                continue
            try:
                event = json.loads(line)
            except ValueError:
                event = {"event": "non_json_output", "line": line}
            self.events.append(event)
            self._new_event.set()

    def find(self, event: str, **fields: Any) -> dict[str, Any] | None:
        """The first logged event named ``event`` whose fields include ``fields``."""
        for e in self.events:
            if e.get("event") == event and all(e.get(k) == v for k, v in fields.items()):
                return e
        return None

    async def wait_for(self, event: str, *, timeout_s: float = 30.0, **fields: Any
                       ) -> dict[str, Any]:
        """Wait until ``event`` is logged; fails with the log so far if the child exits."""
        async with asyncio.timeout(timeout_s):
            while True:
                found = self.find(event, **fields)
                if found is not None:
                    return found
                assert self.proc is not None
                if self.proc.returncode is not None and self._reader and self._reader.done():
                    raise AssertionError(f"daemon exited ({self.proc.returncode}) before "
                                         f"{event!r}; log: {self.log_text()}")
                self._new_event.clear()
                try:
                    async with asyncio.timeout(0.5):
                        await self._new_event.wait()
                except TimeoutError:
                    pass

    @property
    def port(self) -> int:
        started = self.find("daemon_started")
        assert started is not None, "daemon_started not logged yet"
        return int(str(started["listen"]).rsplit(":", 1)[1])

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def signal(self, signum: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(signum)

    async def wait(self, *, timeout_s: float = 30.0) -> int:
        """Wait for the exit status (and the whole log)."""
        assert self.proc is not None and self._reader is not None
        async with asyncio.timeout(timeout_s):
            code = await self.proc.wait()
            await self._reader
        return code

    async def kill(self) -> None:
        """Last resort in a test's cleanup: SIGKILL and reap."""
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)

    def log_text(self) -> str:
        return "\n".join(json.dumps(e) for e in self.events[-40:])


def uid_of(pid: int) -> int:
    """The real uid of a running process, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            return int(line.split()[1])
    raise AssertionError(f"no Uid line for pid {pid}")


def base_env(**extra: str) -> dict[str, str]:
    """A small, explicit environment: what a service manager would give the daemon."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8",
           "PYTHONUNBUFFERED": "1"}
    env.update(extra)
    return env


SIGTERM = signal.SIGTERM
