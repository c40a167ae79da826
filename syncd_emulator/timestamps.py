"""Whether a stock change moves the change timestamps (V1 ``lastUpdated``, V3 ``updatedDate``).

Wix documents ``updatedDate`` on V3 inventory items as moving on every write, and V1
products carry a ``lastUpdated``, but whether a checkout, a dashboard edit or an Inventory V2
write moves them is not confirmed for every path. A client that reads "what changed since"
by these timestamps must work, or notice that it cannot, under either answer, so the
emulator plays both:

- ``move`` (default): every stock change (writes, increments, decrements, the simulated
  shopper) stamps the product (V1) or the inventory item (V3) with the current time.
- ``ignore``: stock changes leave the timestamps where they were. V3 revisions still go up
  (they are documented); only the timestamps stand still.
"""

from __future__ import annotations

STOCK_TIMESTAMPS = ("move", "ignore")
"""Values of ``EmulatorConfig.stock_timestamps`` and ``syncd emulator --stock-timestamps``."""


def check_stock_timestamps(value: str) -> None:
    """ValueError unless ``value`` is one of ``STOCK_TIMESTAMPS``."""
    if value not in STOCK_TIMESTAMPS:
        raise ValueError(f"stock_timestamps must be one of {', '.join(STOCK_TIMESTAMPS)}, "
                         f"not {value!r}")
