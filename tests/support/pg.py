"""A throwaway PostgreSQL cluster for tests and benchmarks, started from the system's
binaries (``apt-get install postgresql``) in a temporary directory on a free loopback
port, as a non-root user (PostgreSQL refuses to run as root), and removed afterwards."""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

SUPERUSER = "syncd"


def find_bin(name: str) -> str | None:
    """``initdb``/``pg_ctl`` on PATH or in Debian's versioned directory."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def missing_reason() -> str | None:
    """Why a cluster cannot be started here, or None when it can."""
    if find_bin("initdb") is None or find_bin("pg_ctl") is None:
        return "PostgreSQL binaries (initdb, pg_ctl) not found: apt-get install postgresql"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no 'postgres' user to run the server as"
        if shutil.which("runuser") is None:
            return "running as root without runuser to drop to the 'postgres' user"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def postgres_cluster() -> Iterator[str]:
    """Start a cluster; yields the DSN of its ``postgres`` database (trust auth)."""
    reason = missing_reason()
    if reason:
        raise RuntimeError(reason)
    as_user: list[str] = []
    tmp = Path(tempfile.mkdtemp(prefix="syncd-pg-"))
    if os.geteuid() == 0:
        pw = pwd.getpwnam("postgres")
        os.chown(tmp, pw.pw_uid, pw.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    data, port = tmp / "data", _free_port()
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8",
           "LC_ALL": "C.UTF-8"}
    run = lambda *argv: subprocess.run([*as_user, *argv], check=True, env=env,  # noqa: E731
                                       capture_output=True, cwd=tmp)
    try:
        run(str(find_bin("initdb")), "-D", str(data), "-U", SUPERUSER, "--auth=trust",
            "-E", "UTF8", "--no-sync")
        options = (f"-p {port} -k {tmp} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
        run(str(find_bin("pg_ctl")), "-D", str(data), "-o", options, "-l",
            str(tmp / "server.log"), "-w", "-t", "60", "start")
        try:
            yield f"postgresql://{SUPERUSER}@127.0.0.1:{port}/postgres"
        finally:
            with contextlib.suppress(subprocess.CalledProcessError):
                run(str(find_bin("pg_ctl")), "-D", str(data), "-m", "immediate", "-w", "stop")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
