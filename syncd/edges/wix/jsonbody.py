"""Decoding Wix's answers into dicts: with orjson when it is installed (``syncd[fast]``),
else with the standard library.

The large answers of a walk (Query Products, Query Inventory, Query Inventory Items) do not
come here: ``syncd.edges.wix.answers`` decodes them straight into typed structs of the few
fields syncd reads, which is several times cheaper again. What is left here are the answers
read as dicts (writes, timestamp reads, error bodies), where orjson still decodes a large
body several times faster than the standard library. Its rules are stricter than
the standard library's (no ``NaN`` or ``Infinity``, UTF-8 only), so a body it refuses is
decoded again by the standard library: what counts as JSON is the same with or without it,
and so is what it decodes to, but for one thing no Wix field holds: an integer past 64 bits
decodes as the nearest float (which ``int()`` in the parsers turns back into a number as
absurd as the one sent).
"""

from __future__ import annotations

import json
from types import ModuleType

_orjson: ModuleType | None
try:
    import orjson as _orjson
except ImportError:  # the base install: the standard library only
    _orjson = None


def fast_decoder() -> bool:
    """True when orjson decodes the answers."""
    return _orjson is not None


def loads(body: bytes) -> object:
    """``body`` decoded; raises ``ValueError`` (``json.JSONDecodeError`` or
    ``UnicodeDecodeError``) when it is not JSON."""
    if _orjson is not None:
        try:
            return _orjson.loads(body)
        except ValueError:
            pass  # stricter than the standard library: let it decide
    return json.loads(body)
