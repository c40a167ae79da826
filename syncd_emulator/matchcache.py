"""Remembered query matches, so the pages of one query do not each rescan the whole store.

Every page of a cursor-paged query re-runs its filter and sort over every record (the
cursor holds the query, not the matches). On a 105,000-item store that is a full scan per
page, which makes a store read side by side in filtered segments cost the emulator far
more CPU than the one unfiltered cursor it replaces. The matches of the last few queries
are kept, keyed by the query and a store counter, so a query's later pages are slices of
its first page's work. A query that filters and sorts only on fields no write can change
(``IMMUTABLE``) is keyed by the counter of created items, so the simulated shopper selling
several units a second does not void it (the records are live objects: a page always shows
their current stock); any other query by the counter of every change.

Several sites of one emulator may share a cache: an entry holds the list of records it was
computed over, so a key naming that list by ``id`` can never name another site's list (the
id is not reused while the entry lives), and sites still reading the shared catalog share
their entries.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

IMMUTABLE = frozenset({"id", "productId", "variantId", "locationId", "createdDate"})
"""Fields whose value never changes after an item is created."""

KEEP = 64
"""Queries remembered (a 16-segment walk plus a few incremental reads fit easily)."""


class MatchCache:
    """An LRU of ``(records, filter, sort, store change count) -> matching records``."""

    def __init__(self, keep: int = KEEP) -> None:
        self._keep = keep
        self._entries: OrderedDict[tuple[Any, ...], tuple[list[Any], list[Any]]] = (
            OrderedDict())

    def get(self, records: list[T], query: tuple[object, object], changes: int,
            compute: Callable[[], list[T]]) -> list[T]:
        """The matches of ``query`` over ``records``, computed once per store state."""
        key = (id(records), json.dumps(query, sort_keys=True, default=str), changes)
        found = self._entries.get(key)
        if found is not None and found[0] is records:
            self._entries.move_to_end(key)
            return found[1]
        matches = compute()
        self._entries[key] = (records, matches)
        while len(self._entries) > self._keep:
            self._entries.popitem(last=False)
        return matches

    def clear(self) -> None:
        self._entries.clear()


def only_immutable(filter_doc: object, sort: object) -> bool:
    """True when ``filter_doc`` and ``sort`` name only ``IMMUTABLE`` fields."""
    return _fields(filter_doc) <= IMMUTABLE and _fields(sort) <= IMMUTABLE


def _fields(value: object) -> set[str]:
    if isinstance(value, dict):
        found: set[str] = set()
        for key, inner in value.items():
            if key == "fieldName" and isinstance(inner, str):
                found.add(inner)
            elif key.startswith("$") or key == "order":
                found |= _fields(inner)
            else:
                found.add(key)
        return found
    if isinstance(value, list):
        return set().union(*(_fields(v) for v in value)) if value else set()
    return set()
