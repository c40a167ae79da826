"""The policy: how a site's source is applied to its store, and the safety guards' limits.

Plain values, read by the differ (``syncd.core.diff``) and the guards (``syncd.core.guards``); the
configuration loader builds one per site, taking its defaults from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from syncd.base.model import MAX_QUANTITY


class Unmatched(StrEnum):
    """What happens to store variants the source does not mention."""

    IGNORE = "ignore"
    ZERO = "zero"


class Untracked(StrEnum):
    """How a desired quantity is applied to a variant whose quantity is not tracked."""

    IN_STOCK = "in_stock"
    """Keep it untracked; set ``inStock`` from ``quantity > 0``."""

    TRACK = "track"
    """Switch quantity tracking on and write the quantity."""


class WriteMode(StrEnum):
    """How a Catalog V1 store's quantity changes are written (V3 always writes absolute)."""

    AUTO = "auto"
    """Deltas where they need fewer calls than one absolute write per product."""
    ABSOLUTE = "absolute"
    """One Update Inventory Variants call per changed product (idempotent, never deltas)."""
    DELTA = "delta"
    """Increment/Decrement for every change that can take one, however few."""


@dataclass(frozen=True, slots=True)
class Policy:
    """How the source is applied to the store, and the limits the safety guards enforce."""

    unmatched: Unmatched = Unmatched.IGNORE
    """``ignore`` (default): variants missing from the source are not touched, so a partial
    file (one supplier's products) is safe. ``zero``: the file is the whole truth."""

    untracked: Untracked = Untracked.IN_STOCK
    """``in_stock`` (default) respects the merchant's choice not to count some products;
    ``track`` switches them to counted stock."""

    buffer: int = 0
    """Units held back from every desired quantity (safety stock against overselling while
    the store lags the warehouse); 0 by default so that numbers are written as given."""

    cap: int | None = None
    """Highest quantity ever written, applied after ``buffer``; None = no cap (up to 99999)."""

    max_changed_fraction: float = 0.5
    """Guard: refuse a plan that changes more than this fraction of the managed variants. A
    normal cycle changes a few percent; half the store at once is usually a wrong file."""

    max_zeroed: int = 50
    """Guard: refuse a plan that makes more than this many variants unavailable (quantity 0
    or out of stock). 50 lets real sell-outs through and stops a truncated export."""

    max_source_shrink: float = 0.3
    """Guard: refuse when the source has lost more than this fraction of its rows since the
    last successful run (a cut-off download looks exactly like that)."""

    fail_on_no_match: bool = True
    """A full run whose source rows match no store variant (or far fewer than at the last
    good run, see ``min_matched_fraction``) is an error, not "nothing to change": a wrong
    store, or SKUs in another case, must not look like success."""

    min_matched_fraction: float = 0.5
    """With ``fail_on_no_match``: fail when fewer source rows match than this fraction of
    those that matched at the last good run; 0 checks only for "nothing matched"."""

    write_mode: WriteMode = WriteMode.AUTO
    """Catalog V1 only: ``auto`` (default) batches quantity changes of tracked products as
    Increment/Decrement calls (300 entries each) when that needs fewer calls than one write
    per product; ``absolute`` never does; ``delta`` always does where it can."""

    def __post_init__(self) -> None:
        if not 0 <= self.buffer <= MAX_QUANTITY:
            raise ValueError(f"buffer must be within 0..{MAX_QUANTITY}")
        if self.cap is not None and not 0 <= self.cap <= MAX_QUANTITY:
            raise ValueError(f"cap must be within 0..{MAX_QUANTITY}")
        for name in ("max_changed_fraction", "max_source_shrink", "min_matched_fraction"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be within 0..1")
        if self.max_zeroed < 0:
            raise ValueError("max_zeroed must not be negative")
