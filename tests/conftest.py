"""Fixtures every test package may use."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from syncd.emulator import EmulatorConfig, RunningEmulator, serve

StartEmulator = Callable[..., Awaitable[RunningEmulator]]


def pytest_addoption(parser: pytest.Parser) -> None:
    # Declared here, not in tests/faults/conftest.py: pytest only reads options from the
    # conftest files it loads at start-up, and that one is not among them for `pytest tests`.
    parser.addoption("--long-faults", action="store_true", default=False,
                     help="run the fault-tolerance suite (tests/faults) in its long form: "
                          "more kills, bigger stores, both catalogs")


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
