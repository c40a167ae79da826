"""Each test here runs once per state backend: the local directory and PostgreSQL (a
migrated, empty database on the session's cluster; skipped without the binaries)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from support.backends import BackendUnderTest, migrated
from syncd.edges.backend import LocalBackend, StateBackend


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
    from syncd.edges.backend.postgres import open_postgres

    async with open_postgres(backend.dsn) as opened:
        yield opened
