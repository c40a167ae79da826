"""What the tests run on both backends share: the backend under test, and ``syncd`` as a
process pointed at it."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from syncd.edges.config.fleet import ENV_DATABASE_URL

API_KEY_ENV = "WIX_API_KEY"


async def migrated(dsn: str) -> None:
    """Bring the database at ``dsn`` to this syncd's schema."""
    asyncpg = pytest.importorskip("asyncpg")
    from syncd.edges.backend.schema import migrate

    conn = await asyncpg.connect(dsn)
    try:
        await migrate(conn)
    finally:
        await conn.close()


@dataclass(frozen=True)
class BackendUnderTest:
    """One backend, and how a configuration file and a ``syncd`` process reach it."""

    kind: str
    """``local`` or ``postgres``."""
    dsn: str | None
    """The database (postgres only)."""
    config: Mapping[str, Any] = field(default_factory=dict)
    """Top-level keys a configuration file needs for this backend."""

    @property
    def env(self) -> dict[str, str]:
        """Environment a ``syncd`` process needs for this backend."""
        return {ENV_DATABASE_URL: self.dsn} if self.dsn else {}

    def config_lines(self) -> str:
        """The ``config`` keys as YAML lines (appended to a written syncd.yaml)."""
        return "".join(f"{k}: {v}\n" for k, v in self.config.items())


async def syncd_cli(*args: str, backend: BackendUnderTest, key: str,
                    key_env: str = API_KEY_ENV) -> tuple[int, str, str]:
    """``python -m syncd ARGS`` with the backend's environment and the API key in
    ``key_env``."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "syncd", *args,
        env={**os.environ, key_env: key, "SYNCD_LOG_FORMAT": "json", **backend.env},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), timeout=90)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()
