"""The digest of a plan: what an approval is an approval of.

An operator who approves a refused plan approves *those* changes, computed from *that*
source, on *that* site. The digest names exactly that: a SHA-256 over a canonical JSON of
the site, the source's digest and every planned change (the variant it writes, the value
it finds and the value it writes), sorted so that neither the store's walk order nor the
source's row order changes it. Two cycles that would write the same values from the same
source have the same digest; anything else (another quantity, one more change, a source
that changed without changing the plan) gives another one.

This module is pure: no clock, no I/O. Who approved what, and when, is kept by the state
backend (``syncd.edges.backend``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable

from syncd.core.plan import StockChange

SHORT_LEN = 12
"""Hex digits of the short form people compare (48 bits: no accidental match in practice)."""


def _change_key(change: StockChange) -> list[object]:
    v = change.variant
    return [v.product_id, v.variant_id, v.location_id or "", v.sku,
            [v.tracked, v.quantity, v.in_stock],
            [change.track, change.quantity, change.in_stock, change.reason.value]]


def plan_digest(site: str, source_digest: str, changes: Iterable[StockChange]) -> str:
    """The SHA-256 (hex) of ``site``, ``source_digest`` and ``changes``, in canonical form."""
    rows = sorted((_change_key(c) for c in changes), key=lambda r: json.dumps(r))
    canonical = json.dumps({"site": site, "source": source_digest, "changes": rows},
                           sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


def short_digest(digest: str) -> str:
    """The digest's short form, as the console and the terminal show it."""
    return digest[:SHORT_LEN]
