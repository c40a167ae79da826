"""How a site's Wix client and store walkers behave: frozen values with units and reasons.

Part of the configuration schema: each site's ``SiteSettings`` carries one ``WixSettings``
and one ``WalkSettings``, and the loader takes its defaults from these classes, so every
default is written once, here. Nothing here reads files or the environment. Tests pass
small or zero delays and compressed rate windows.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal
from urllib.parse import urlsplit

DEFAULT_BASE_URL = "https://www.wixapis.com"

DEFAULT_IN_FLIGHT = 8
"""Requests in flight per site (and V1 resolver workers): enough to hide latency at 200/min,
small enough not to look like a flood to Wix's edge."""


class CatalogChoice(StrEnum):
    """Which Wix catalog a site runs."""

    AUTO = "auto"
    """Ask Wix once per start (one request)."""
    V1 = "v1"
    V3 = "v3"


RefreshMode = Literal["query", "seed"]
"""How a V1 targeted read works: one Query Products per 100 ids, or the seed's per-variant flow."""


def plain_http_problem(url: str) -> str | None:
    """Why ``url`` would send the API key in clear text over a network (plain ``http`` to a
    host that is not loopback: 127.0.0.0/8, ::1 or ``localhost``), or None."""
    parts = urlsplit(url)
    if parts.scheme.lower() != "http":
        return None
    host = (parts.hostname or "").rstrip(".").lower()
    if host == "localhost":
        return None
    try:
        if ipaddress.ip_address(host).is_loopback:
            return None
    except ValueError:
        pass
    return f"plain http to {host or 'no host'} would send the API key in clear text"


@dataclass(frozen=True, slots=True)
class WixSettings:
    """How one site's client talks to Wix: timeouts, pacing and retries."""

    base_url: str = DEFAULT_BASE_URL
    """Root of the Wix REST API; the emulator's URL in tests. Plain ``http`` only to a
    loopback host (``plain_http_problem``) unless ``allow_insecure_http``."""

    allow_insecure_http: bool = False
    """The site's ``allow_insecure_http``: ``base_url`` may be plain ``http`` to any host
    (an emulator on another container), so the API key travels in clear text; logged as
    ``wix_plain_http`` when a client starts."""

    timeout_s: float = 30.0
    """Whole-request deadline (connect, send, wait, read). Wix answers in well under a second;
    30 s leaves room for a 1000-item bulk write without letting a dead peer hang a cycle."""

    connect_timeout_s: float = 10.0
    """Deadline for opening the TCP/TLS connection alone."""

    rate_limit: int = 200
    """Requests allowed per ``rate_period_s`` for this site, reads and writes together. Wix
    documents 200 per minute per app instance."""

    rate_period_s: float = 60.0
    """Length of the rate window in seconds."""

    rate_shared_by_key: bool = False
    """Sites whose API key is the same share one budget (``rate_limit.shared_key: true``):
    whether Wix counts per site or per key is unconfirmed, and an agency may use one key
    for many sites. Such sites should state the same ``requests``/``per_seconds``."""

    rate_margin_s: float = 0.05
    """Added to ``rate_period_s`` by the local throttle, for what the arrival-safe pacing
    cannot see: clocks that tick at different rates, and a server that counts a request a
    little after reading it. Requests are already counted from their answer (see
    ``syncd.edges.wix.ratelimit``), so a small margin suffices."""

    max_in_flight: int = DEFAULT_IN_FLIGHT
    """Concurrent requests per site (the configuration's ``concurrency``)."""

    retry_delays_s: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0, 8.0)
    """Pauses before each retry of a 5xx, timeout or dropped connection; its length is the
    number of retries. Only idempotent requests are retried."""

    rate_limited_delays_s: tuple[float, ...] = (5.0, 10.0, 20.0, 40.0, 60.0)
    """Pauses after a 429 without ``Retry-After`` (Wix does not document one). Indexed by the
    request's 429 count so far; the last entry repeats. The whole site waits, not one request."""

    retry_after_max_s: float = 120.0
    """Longest ``Retry-After`` believed (twice Wix's one-minute window). Its unit is not
    documented: a larger value (milliseconds read as seconds, a day from a misconfigured
    proxy, a date far ahead) is an anomaly: it is logged, counted, and the pause falls back
    to ``rate_limited_delays_s`` instead of stalling the site for hours."""

    jitter: float = 0.2
    """Each pause is scaled by a random factor in ``[1 - jitter, 1 + jitter]`` so that
    concurrent requests that failed together do not retry together."""

    slowdown_factor: float = 0.5
    """After a 429 the site's budget is multiplied by this for ``slowdown_s``."""

    slowdown_s: float = 60.0
    """How long the reduced budget lasts after the last 429 before the full budget returns."""

    error_body_max_chars: int = 500
    """Wix error bodies are cut to this length before they reach exceptions and logs."""

    throttle_poll_s: float = 0.01
    """How often a request waiting for the rate window re-checks it (asyncio-throttle polls)."""

    def __post_init__(self) -> None:
        if self.rate_limit < 1 or self.rate_period_s <= 0:
            raise ValueError("rate_limit must be >= 1 and rate_period_s > 0")
        if self.max_in_flight < 1:
            raise ValueError("max_in_flight must be >= 1")
        if not 0 <= self.jitter < 1:
            raise ValueError("jitter must be in [0, 1)")
        if not 0 < self.slowdown_factor <= 1:
            raise ValueError("slowdown_factor must be in (0, 1]")
        if not self.rate_limited_delays_s:
            raise ValueError("rate_limited_delays_s needs at least one delay")
        if self.retry_after_max_s < 0:
            raise ValueError("retry_after_max_s must be >= 0")


@dataclass(frozen=True, slots=True)
class WalkSettings:
    """How the walkers read a store."""

    workers: int = DEFAULT_IN_FLIGHT
    """Tasks resolving V1 products whose page lacked stock data (one request each)."""

    queue_size: int = 200
    """Products waiting for a worker; bounds memory when workers fall behind the pages."""

    parallel_pages: bool = True
    """V1 only: fetch the pages of a numericId window by offset, concurrently, once the first
    page has told how many products follow (see ``walk_v1``). Off = strictly sequential crawl."""

    window_pages: int = 20
    """V1 only: pages per concurrent offset window (offsets up to 100 * (n - 1), far below
    the 10,000 where Wix's offsets are known to fail; shrunk when an offset is refused)."""

    refresh_mode: RefreshMode = "query"
    """V1 targeted reads: ``query`` (Query Products by id, 100 per call) or ``seed`` (Get
    Product, its inventory item, its variants, and each variant's inventory)."""

    location_id: str | None = None
    """V3 only: read and write only this stock location; None = every location."""

    v3_product_visibility: bool = False
    """V3 only. An inventory item says whether its *variant* is visible
    (``product.variantVisible``), not whether its product is hidden. True = the full walk also
    lists hidden products (Query Products ``visible = false``, one call per 100 hidden
    products, run alongside the item pages) and marks their variants hidden."""

    v3_segments: int = 16
    """V3 only: full walks after the first read up to this many ``productId`` ranges side by
    side instead of one sequential cursor (1 = always one cursor), about four pages each.
    Costs up to one partly filled page per segment more (113 calls instead of 107 on a
    105,000-item store) and cut a 300 ms-latency walk of it from 42 s to 9-18 s on a shared
    2-core machine; falls back to one cursor when Wix refuses the range filter."""

    change_overlap_s: float = 30.0
    """Incremental reads ask for changes stamped from this long before the newest timestamp
    already seen: room for clock skew between Wix's servers and for writes committed with
    an earlier timestamp than one already read. Re-read items are de-duplicated."""

    refresh_chunk: int = 100
    """Ids per targeted query (``$hasSome``/``$in``). Wix documents no list limit; 100 matches
    the V1 page size and keeps request bodies small."""

    def __post_init__(self) -> None:
        if min(self.workers, self.queue_size, self.refresh_chunk, self.window_pages,
               self.v3_segments) < 1:
            raise ValueError("workers, queue_size, refresh_chunk, window_pages and v3_segments "
                             "must be >= 1")
        if self.change_overlap_s < 0:
            raise ValueError("change_overlap_s must not be negative")
