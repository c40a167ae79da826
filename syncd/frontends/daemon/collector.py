"""How often the cyclic garbage collector runs in a daemon of many stores.

A quiet full cycle of a 300-product store allocates a few thousand objects the collector
tracks (the read's ``StoreVariant`` values, the plan's indexes), nearly all freed by their
reference counts when the cycle ends. At Python's default threshold (a young collection
every 700 net allocations) the collector ran about three young and every ten cycles an
older collection per store cycle, traversing objects a moment from being freed anyway: a
seventh of a quiet cycle's CPU (``tests/bench/bench_cycle_cpu.py``). Young collections
every ``YOUNG_THRESHOLD`` allocations instead leave the reference counts to free most of
them first. What the collector frees is the same; it frees cycles somewhat later, by at
most a few thousand young objects.

``syncd sync`` and ``syncd plan`` pace it the same way: a sync of 100,000 changes builds a
plan, a journal line and an outcome line for each, all alive until it ends, and Python's
threshold spent 1.1 s of such a sync in about 1,900 collections (0.4 s in 130 paced).
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 10_000
"""Net allocations of tracked objects between two young collections (Python's: 700)."""


def pace_collector() -> None:
    """Set the young generation's threshold to ``YOUNG_THRESHOLD``; the older generations
    keep theirs."""
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
