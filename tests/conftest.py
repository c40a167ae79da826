"""Fixtures every test package may use."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest

from support.pg import missing_reason, postgres_cluster
from syncd_emulator import EmulatorConfig, RunningEmulator, serve

StartEmulator = Callable[..., Awaitable[RunningEmulator]]


def pytest_addoption(parser: pytest.Parser) -> None:
    # Declared here, not in tests/faults/conftest.py: pytest only reads options from the
    # conftest files it loads at start-up, and that one is not among them for `pytest tests`.
    parser.addoption("--long-faults", action="store_true", default=False,
                     help="run the fault-tolerance suite (tests/faults) in its long form: "
                          "more kills, bigger stores, both catalogs")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Items marked ``long_run`` are skipped unless ``--long-faults`` was given."""
    if config.getoption("--long-faults"):
        return
    skip = pytest.mark.skip(reason="part of the long fault run (--long-faults)")
    for item in items:
        if item.get_closest_marker("long_run") is not None:
            item.add_marker(skip)


@pytest.fixture
async def emulator() -> AsyncIterator[StartEmulator]:
    """Factory serving Wix emulators on 127.0.0.1 (free port) for the test's duration.

    ``emu = await emulator(catalog="v3", generate_products=200, rate_limit=None)`` takes
    ``EmulatorConfig`` fields; talk to ``emu.url``, assert on ``emu.state()``/``emu.stats()``.
    """
    async with contextlib.AsyncExitStack() as stack:

        async def start(**config: Any) -> RunningEmulator:
            return await stack.enter_async_context(serve(EmulatorConfig(**config)))

        yield start


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[str]:
    """A PostgreSQL cluster per test session (skipped, with the reason, without the
    binaries); yields the DSN of its ``postgres`` database."""
    reason = missing_reason()
    if reason:
        pytest.skip(reason)
    with postgres_cluster() as dsn:
        yield dsn


@pytest.fixture
async def pg_dsn(pg_cluster: str) -> str:
    """The DSN of a fresh, empty database on the session's cluster."""
    asyncpg = pytest.importorskip("asyncpg")
    name = f"t_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(pg_cluster)
    try:
        await conn.execute(f"CREATE DATABASE {name}")
    finally:
        await conn.close()
    return pg_cluster.rsplit("/", 1)[0] + f"/{name}"
