"""Settings of one emulator instance, and parsing of the ``N/S`` rate-limit notation.

``EmulatorConfig`` is what both the ``syncd emulator`` command and the tests build; it is
checked once here so the server never has to second-guess its own settings. Faults that may
change while the emulator runs (``POST /__emulator/faults``) live in ``faults.FaultSettings``,
which starts as a copy of these values.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from syncd_emulator.timestamps import check_stock_timestamps
from syncd_emulator.variants import READ_LAG_S, WixVariants

CATALOGS = ("v1", "v3", "none")
"""``none`` emulates a site without Wix Stores (catalog version ``STORES_NOT_INSTALLED``)."""

ADJUST_BAD_ENTRY = ("fail_call", "skip_entry")
ADJUST_BELOW_ZERO = ("refuse", "clamp", "allow")
ADJUST_UNTRACKED = ("refuse", "apply")
"""The readings of V2 Increment/Decrement the emulator can play (``adjust.py``)."""

STALE_STATUSES = (409, 428)
"""Statuses a stale V3 revision may be answered with (Wix does not document which one)."""


@dataclass(frozen=True, slots=True)
class EmulatorConfig:
    """Everything one emulated Wix site needs.

    ``rate_limit`` is ``(requests, window_s)``: at most that many accepted requests in any
    window of ``window_s`` seconds per site, or None for no limit. Rates are probabilities
    per request (0..1); ``shopper_rate`` is simulated orders per second.
    """

    catalog: str = "v1"
    """``v1`` (Catalog V1 + Inventory V2), ``v3``, or ``none`` (Stores not installed)."""
    site_id: str = "demo-site"
    """The only value of ``wix-site-id`` accepted (others: 403)."""
    api_key: str = "demo-key"
    """The only value of ``Authorization`` accepted (others: 401)."""
    host: str = "127.0.0.1"
    """Address to bind; loopback by default because the demo key is public."""
    port: int = 0
    """TCP port; 0 picks a free one (``RunningEmulator.url`` tells which)."""
    store_path: str | None = None
    """YAML/JSON store file; None with ``generate_products == 0`` means the demo store."""
    generate_products: int = 0
    """Generate a store of this many products instead of reading a file."""
    seed: int = 1
    """Seed of the generator, the fault dice and the shopper: same seed, same store."""
    rate_limit: tuple[int, float] | None = (200, 60.0)
    """``(requests, window_s)`` per site, sliding window; Wix's documented 200/minute."""
    retry_after_s: float | None = None
    """``Retry-After`` seconds sent with 429s; None sends none, as Wix documents none."""
    fail_rate: float = 0.0
    """Probability (0..1) that a request gets an empty 500/503 instead of an answer."""
    drop_rate: float = 0.0
    """Probability (0..1) that a request's connection is closed without an answer."""
    latency_ms: int = 0
    """Each request is held 50%..150% of this many milliseconds."""
    shopper_rate: float = 0.0
    """Simulated orders per second, each taking one unit of tracked stock."""
    stale_status: int = 409
    """Status of a V3 Update with a stale revision: 409 (default) or 428."""
    variants: WixVariants = field(default_factory=WixVariants)
    """Unconfirmed behaviours played the other way (``syncd_emulator.variants``)."""
    stock_timestamps: str = "move"
    """``move``: stock changes move ``lastUpdated``/``updatedDate``; ``ignore``: they do not
    (see ``syncd_emulator.timestamps``)."""
    drop_after_rate: float = 0.0
    """Probability (0..1) that a write is applied and its connection then closed without an
    answer: the client cannot tell it landed."""
    adjust_bad_entry: str = "fail_call"
    """V2 Increment/Decrement with a bad entry: ``fail_call`` or ``skip_entry`` (adjust.py)."""
    adjust_below_zero: str = "refuse"
    """A V2 decrement below zero: ``refuse``, ``clamp`` (to 0) or ``allow``."""
    adjust_untracked: str = "refuse"
    """A V2 increment/decrement of an untracked product: ``refuse`` or ``apply``."""
    read_lag_s: float | None = None
    """Seconds ``stores-reader`` reads lag writes under the ``read_lag`` switch (None:
    ``variants.READ_LAG_S``); ignored while the switch is off."""

    @property
    def effective_read_lag_s(self) -> float:
        """How far reads lag writes: 0 unless the ``read_lag`` switch is on."""
        if not self.variants.read_lag:
            return 0.0
        return READ_LAG_S if self.read_lag_s is None else self.read_lag_s

    def __post_init__(self) -> None:
        if self.catalog not in CATALOGS:
            raise ValueError(f"catalog must be one of {', '.join(CATALOGS)}, not {self.catalog!r}")
        if not self.site_id or not self.api_key:
            raise ValueError("site_id and api_key must not be empty")
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port must be 0..65535, not {self.port}")
        if self.store_path is not None and self.generate_products:
            raise ValueError(
                "give either a store file or a number of products to generate, not both"
            )
        if self.generate_products < 0:
            raise ValueError("generate_products must not be negative")
        if self.stale_status not in STALE_STATUSES:
            raise ValueError(f"stale_status must be 409 or 428, not {self.stale_status}")
        check_stock_timestamps(self.stock_timestamps)
        if self.read_lag_s is not None and not 0 <= self.read_lag_s <= 3600:
            raise ValueError(f"read_lag_s must be 0..3600 seconds, not {self.read_lag_s}")
        check_adjust_readings(bad_entry=self.adjust_bad_entry,
                              below_zero=self.adjust_below_zero,
                              untracked=self.adjust_untracked)
        check_faults(
            fail_rate=self.fail_rate,
            drop_rate=self.drop_rate,
            drop_after_rate=self.drop_after_rate,
            latency_ms=self.latency_ms,
            shopper_rate=self.shopper_rate,
            rate_limit=self.rate_limit,
            retry_after_s=self.retry_after_s,
        )


def check_adjust_readings(*, bad_entry: str, below_zero: str, untracked: str) -> None:
    """ValueError naming the first Increment/Decrement reading that is not a known one."""
    for name, value, known in (("adjust_bad_entry", bad_entry, ADJUST_BAD_ENTRY),
                               ("adjust_below_zero", below_zero, ADJUST_BELOW_ZERO),
                               ("adjust_untracked", untracked, ADJUST_UNTRACKED)):
        if value not in known:
            raise ValueError(f"{name} must be one of {', '.join(known)}, not {value!r}")


def check_faults(
    *,
    fail_rate: float,
    drop_rate: float,
    drop_after_rate: float = 0.0,
    latency_ms: int,
    shopper_rate: float,
    rate_limit: tuple[int, float] | None,
    retry_after_s: float | None,
) -> None:
    """Raise ValueError naming the first fault setting that is out of range."""
    for name, rate in (("fail_rate", fail_rate), ("drop_rate", drop_rate),
                       ("drop_after_rate", drop_after_rate)):
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"{name} must be between 0 and 1, not {rate}")
    if latency_ms < 0:
        raise ValueError(f"latency_ms must not be negative, not {latency_ms}")
    if shopper_rate < 0:
        raise ValueError(f"shopper_rate must not be negative, not {shopper_rate}")
    if rate_limit is not None and (rate_limit[0] < 1 or rate_limit[1] <= 0):
        raise ValueError(
            f"rate_limit needs at least 1 request per positive window, not {rate_limit}"
        )
    if retry_after_s is not None and retry_after_s < 0:
        raise ValueError(f"retry_after_s must not be negative, not {retry_after_s}")


def parse_rate_limit(text: str) -> tuple[int, float] | None:
    """``"200/60"`` -> ``(200, 60.0)``; ``"off"`` -> None. Raises ValueError otherwise."""
    text = text.strip().lower()
    if text in ("off", "none", "0"):
        return None
    requests, sep, window = text.partition("/")
    try:
        limit = (int(requests), float(window) if sep else 60.0)
    except ValueError:
        raise ValueError(
            f"rate limit must look like 200/60 (requests per seconds) or 'off', not {text!r}"
        ) from None
    if limit[0] < 1 or limit[1] <= 0:
        raise ValueError(f"rate limit needs at least 1 request per positive window, not {text!r}")
    return limit


def format_rate_limit(limit: tuple[int, float] | None) -> str:
    """The inverse of ``parse_rate_limit``: ``(200, 60.0)`` -> ``"200/60"``."""
    if limit is None:
        return "off"
    return f"{limit[0]}/{limit[1]:g}"
