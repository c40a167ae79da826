"""Each test here runs once per state backend: the local directory and PostgreSQL (a
migrated, empty database on the session's cluster; skipped without the binaries)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from syncd.backend import LocalBackend, StateBackend
from syncd.config.fleet import ENV_DATABASE_URL


async def migrated(dsn: str) -> None:
    """Bring the database at ``dsn`` to this syncd's schema."""
    asyncpg = pytest.importorskip("asyncpg")
    from syncd.backend.schema import migrate

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


@pytest.fixture(params=["local", "postgres"])
def backend(request: pytest.FixtureRequest) -> BackendUnderTest:
    if request.param == "local":
        return BackendUnderTest("local", None)
    return BackendUnderTest("postgres", request.getfixturevalue("pg_dsn"),
                            {"state_backend": "postgres"})


@pytest.fixture(autouse=True)
async def _schema(backend: BackendUnderTest) -> None:
    """PostgreSQL: the database migrated to this syncd's schema before the test."""
    if backend.dsn is not None:
        await migrated(backend.dsn)


@pytest.fixture
async def state_backend(backend: BackendUnderTest, tmp_path: Path
                        ) -> AsyncIterator[StateBackend]:
    """The backend itself, open for the test (local: ``tmp_path/state``)."""
    if backend.dsn is None:
        yield LocalBackend(tmp_path / "state")
        return
    from syncd.backend.postgres import open_postgres

    async with open_postgres(backend.dsn) as opened:
        yield opened
