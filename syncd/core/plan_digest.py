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
from collections.abc import Callable, Iterable, Sequence

from syncd.core.plan import StockChange

SHORT_LEN = 12
"""Hex digits of the short form people compare (48 bits: no accidental match in practice)."""


def _change_key(change: StockChange) -> list[object]:
    v = change.variant
    return [v.product_id, v.variant_id, v.location_id or "", v.sku,
            [v.tracked, v.quantity, v.in_stock],
            [change.track, change.quantity, change.in_stock, change.reason.value]]


def plan_digest(site: str, source_digest: str, changes: Iterable[StockChange]) -> str:
    """The SHA-256 (hex) of ``site``, ``source_digest`` and ``changes``, in canonical form:

        json.dumps({"site": site, "source": source_digest, "changes": rows}, sort_keys=True,
                   separators=(",", ":"), ensure_ascii=True)

    with ``rows`` sorted by ``json.dumps(row)``. Written out by hand, each row encoded once
    by an encoder made once: a plan of 100,000 changes is digested before its first write,
    and ``json.dumps`` makes an encoder per call. Rows are sorted by their compact text,
    which orders them as their ``json.dumps`` text does: the two differ only by a space
    after each separator, and two rows first differ before or at a separator, never after.
    """
    rows = sorted(_encode(key) for key in map(_change_key, changes))
    canonical = (f'{{"changes":[{",".join(rows)}],'
                 f'"site":{_encode(site)},"source":{_encode(source_digest)}}}')
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


def _compact_encoder() -> Callable[[object, int], Sequence[str]]:
    """``json.dumps(separators=(",", ":"))``'s own encoder (ASCII only), made once."""
    encoder = json.JSONEncoder(separators=(",", ":"))
    made = json.encoder.c_make_encoder  # type: ignore[attr-defined]
    if made is None:  # no C accelerator: the encoder's own iterator
        return lambda obj, level: list(encoder.iterencode(obj))
    return made(None, encoder.default, json.encoder.encode_basestring_ascii,  # type: ignore[no-any-return]
                None, ":", ",", False, False, True)


_COMPACT = _compact_encoder()


def _encode(obj: object) -> str:
    return "".join(_COMPACT(obj, 0))


def short_digest(digest: str) -> str:
    """The digest's short form, as the console and the terminal show it."""
    return digest[:SHORT_LEN]
