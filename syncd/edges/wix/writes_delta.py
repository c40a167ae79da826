"""Increment and Decrement Inventory (Inventory V2, Catalog V1): many products per call.

``POST /stores/v2/inventoryItems/increment`` and ``/decrement`` take 1..300 entries across
products (``productId``, ``variantId``, a positive amount) and answer ``{}``. Unlike every
other write syncd sends, they are **not idempotent**: a call whose answer was lost may or may
not have landed, and sending it again would apply it twice. So these calls are sent with
``idempotent=False`` (the client never repeats them), and whatever fails is raised to the
caller, who journals first and re-reads before planning anything again (``syncd.core.deltas``).

What Wix does with a bad entry (untracked product, below zero) and whether one bad entry
fails the whole call is not documented; nothing here depends on it: the caller verifies
every entry by a re-read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from syncd.edges.wix.client import CallCounter, JSONObject, WixClient

MAX_ENTRIES = 300
"""Entries per Increment/Decrement call (``@maxSize 300``)."""

INCREMENT_PATH = "/stores/v2/inventoryItems/increment"
DECREMENT_PATH = "/stores/v2/inventoryItems/decrement"


@dataclass(frozen=True, slots=True)
class StockDelta:
    """Units to add to (``units > 0``) or take from (``units < 0``) one tracked variant."""

    product_id: str
    variant_id: str
    units: int


async def adjust_inventory(
    client: WixClient,
    deltas: Sequence[StockDelta],
    *,
    counter: CallCounter | None = None,
) -> None:
    """One Increment (all ``units > 0``) or Decrement (all ``< 0``) call; never retried.

    Raises ``ValueError`` for an empty, oversized or mixed-sign batch, and the client's
    ``WixError`` subclasses as they come (a ``WixServerError`` or ``WixUnavailable`` says
    nothing about whether the call landed).
    """
    if not 1 <= len(deltas) <= MAX_ENTRIES:
        raise ValueError(f"an adjust call takes 1..{MAX_ENTRIES} entries, not {len(deltas)}")
    signs = {d.units > 0 for d in deltas}
    if len(signs) != 1 or any(d.units == 0 for d in deltas):
        raise ValueError("one adjust call is all increments or all decrements, none zero")
    increment = signs.pop()
    entries: list[JSONObject] = [
        {"productId": d.product_id, "variantId": d.variant_id,
         ("incrementBy" if increment else "decrementBy"): abs(d.units)}
        for d in deltas
    ]
    await client.request(
        "POST",
        INCREMENT_PATH if increment else DECREMENT_PATH,
        endpoint="v2.inventory.increment" if increment else "v2.inventory.decrement",
        body={"incrementData" if increment else "decrementData": entries},
        idempotent=False,
        counter=counter,
    )
