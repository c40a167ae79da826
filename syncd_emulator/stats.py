"""Counters behind ``GET /__emulator/stats``: what clients asked for and what it cost.

An endpoint is the HTTP method plus the route template (``POST /stores/v3/inventory-items/
query``), so tests can assert call counts per endpoint, e.g. that a sync of an unchanged
store made no writes. Every request to a Wix route counts, including those the rate limiter
refused and those a fault swallowed.
"""

from __future__ import annotations

from collections import Counter


class Stats:
    """Request, status, fault and write counters of one emulator."""

    requests: Counter[str]
    statuses: Counter[int]
    faults: Counter[str]
    rate_limited: int
    write_calls: int
    variants_written: int
    shopper_sales: int
    deltas: dict[tuple[str, str], list[int]]
    """(product id, variant id) -> [entries applied, units added, units removed] by V2
    Increment/Decrement: what proves no unit was ever added or removed twice."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Zero every counter."""
        self.requests = Counter()
        self.statuses = Counter()
        self.faults = Counter()
        self.rate_limited = 0
        self.write_calls = 0
        self.variants_written = 0
        self.shopper_sales = 0
        self.deltas = {}

    def count_request(self, endpoint: str) -> None:
        """One request reached ``endpoint`` (before auth, limits and faults)."""
        self.requests[endpoint] += 1

    def count_status(self, status: int) -> None:
        """One answer was sent with ``status``."""
        self.statuses[status] += 1
        if status == 429:
            self.rate_limited += 1

    def count_fault(self, kind: str) -> None:
        """A fault was injected: ``drop``, ``500`` or ``503``."""
        self.faults[kind] += 1

    def count_write(self, variants: int) -> None:
        """One write call succeeded (at least in part) and changed ``variants`` variants."""
        self.write_calls += 1
        self.variants_written += variants

    def count_delta(self, product_id: str, variant_id: str, units: int) -> None:
        """One Increment/Decrement entry applied ``units`` (signed) to a variant."""
        row = self.deltas.setdefault((product_id, variant_id), [0, 0, 0])
        row[0] += 1
        row[1 if units > 0 else 2] += abs(units)

    def snapshot(self) -> dict[str, object]:
        """The counters as plain JSON-ready data."""
        return {
            "requests_total": sum(self.requests.values()),
            "requests": dict(sorted(self.requests.items())),
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "rate_limited": self.rate_limited,
            "faults_injected": sum(self.faults.values()),
            "faults": dict(sorted(self.faults.items())),
            "writes": {"calls": self.write_calls, "variants": self.variants_written},
            "shopper_sales": self.shopper_sales,
            "deltas": {
                "entries": sum(r[0] for r in self.deltas.values()),
                "units_added": sum(r[1] for r in self.deltas.values()),
                "units_removed": sum(r[2] for r in self.deltas.values()),
                "by_variant": {f"{p}/{v}": r for (p, v), r in sorted(self.deltas.items())},
            },
        }
