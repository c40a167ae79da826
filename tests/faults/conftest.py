"""Fixtures of the fault-tolerance suite (``pytest -m faults``; ``--long-faults`` for the
long form, declared in ``tests/conftest.py``)."""

from __future__ import annotations

import pytest


@pytest.fixture
def long_faults(request: pytest.FixtureRequest) -> bool:
    """True when the long form of the suite was asked for with ``--long-faults``."""
    return bool(request.config.getoption("--long-faults"))
