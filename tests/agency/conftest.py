"""A PostgreSQL cluster per test session (skipped, with the reason, without the binaries),
and a fresh database per test."""

from __future__ import annotations

import uuid

import pytest
from pgsupport import missing_reason, postgres_cluster


@pytest.fixture(scope="session")
def pg_cluster():
    reason = missing_reason()
    if reason:
        pytest.skip(reason)
    with postgres_cluster() as dsn:
        yield dsn


@pytest.fixture
async def pg_dsn(pg_cluster):
    asyncpg = pytest.importorskip("asyncpg")
    name = f"t_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(pg_cluster)
    try:
        await conn.execute(f"CREATE DATABASE {name}")
    finally:
        await conn.close()
    yield pg_cluster.rsplit("/", 1)[0] + f"/{name}"
