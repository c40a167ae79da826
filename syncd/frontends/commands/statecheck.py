"""Running a one-shot command on its state backend: an unusable backend is an exit code."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Coroutine
from typing import Any

from syncd.base.errors import StateError
from syncd.base.logs import SECRETS
from syncd.frontends.commands.common import ExitCode


def run_on_state(command: Coroutine[Any, Any, int]) -> int:
    """``asyncio.run(command)``; a state backend that cannot be used (a schema to migrate,
    a database that cannot be reached) prints why and returns ``ExitCode.CONFIG``."""
    try:
        return asyncio.run(command)
    except StateError as e:
        print(f"syncd: state backend: {SECRETS.redact(str(e))}", file=sys.stderr)
    except OSError as e:
        print(f"syncd: state backend unreachable: {SECRETS.redact(str(e))}", file=sys.stderr)
    return ExitCode.CONFIG
