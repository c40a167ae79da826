"""Compact JSON text, as every emulator response is written."""

from __future__ import annotations

import json


def dumps(data: object) -> str:
    """Compact JSON, as every emulator response is written."""
    return json.dumps(data, separators=(",", ":"))
