"""Plumbing of the benchmark (``tests/bench/run.py``): emulator process, drifted sources,
``syncd sync`` runs, and the end-state check.

The emulator runs as ``python -m syncd emulator`` in its own process so that its CPU is not
shared with the client's event loop; the harness talks to it over HTTP only (the Wix routes
through syncd or the seed peer, ``/__emulator/*`` for counters, state and faults). syncd
runs through its real entry point, ``python -m syncd sync --output json``, with a
configuration file written per scenario. Nothing here is collected by pytest.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import random
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from syncd.edges.wix.walk_v3 import FIRST_WALK_RANGES
from syncd_emulator.generate import HIDDEN_SHARE

KEY = "bench-api-key-0001"
"""The emulator's API key in every benchmark (long enough for syncd's secret redaction)."""
SITE = "bench-site"
KEY_ENV = "SYNCD_BENCH_API_KEY"
SITE_NAME = "bench"
"""The site's name in the configuration (its state files are named after it)."""

Row = dict[str, Any]
"""One line of ``GET /__emulator/state``."""


# -- the emulator process ---------------------------------------------------------------------


@contextlib.contextmanager
def emulator_process(
    *,
    catalog: str,
    products: int,
    seed: int,
    rate_limit: str,
    latency_ms: int = 0,
    variants: str = "none",
    startup_timeout_s: float = 120.0,
) -> Iterator[str]:
    """Serve a generated store from ``syncd emulator`` on a free loopback port; yield its URL.
    ``variants`` is the ``--wix-variants`` profile (``none``, ``all`` or a comma list)."""
    command = [
        sys.executable, "-m", "syncd", "emulator", "--host", "127.0.0.1", "--port", "0",
        "--catalog", catalog, "--generate-products", str(products), "--seed", str(seed),
        "--rate-limit", rate_limit, "--latency-ms", str(latency_ms),
        "--api-key", KEY, "--site-id", SITE, "--wix-variants", variants,
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                               text=True)
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + startup_timeout_s
        url = None
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            if " on http://" in line:
                url = line.rsplit(" ", 1)[1].strip()
                break
        if url is None:
            raise RuntimeError(f"the emulator did not start (exit status {process.poll()})")
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def admin(url: str, path: str, body: Mapping[str, Any] | None = None) -> Any:
    """GET (or POST ``body`` to) ``/__emulator/<path>`` and return the decoded JSON."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        f"{url}/__emulator/{path}", data=data, method="GET" if data is None else "POST",
        headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as answer:
        return json.load(answer)


def reset(url: str, **faults: Any) -> None:
    """Initial store, zero counters and a fresh rate budget; then set ``faults`` if any."""
    admin(url, "reset", {})
    if faults:
        admin(url, "faults", faults)


def state(url: str) -> list[Row]:
    return list(admin(url, "state"))


def stats(url: str) -> dict[str, Any]:
    return dict(admin(url, "stats"))


# -- the source of truth ----------------------------------------------------------------------


def variant_key(row: Row) -> tuple[str, str, str]:
    """(product, variant, inventory item): one state row per key on both catalogs."""
    return (str(row["product_id"]), str(row["variant_id"]), str(row["inventory_item_id"]))


@dataclass(frozen=True, slots=True)
class Drift:
    """A source derived from the store: every tracked unique-SKU variant, some changed."""

    desired: dict[str, int]
    """SKU -> quantity for every tracked variant with a non-empty, store-unique SKU."""
    changed_variants: int
    """C: variants whose desired quantity differs from the store's."""
    changed_products: int
    """K: products with at least one changed variant."""
    changed_hidden: int
    """Changed variants on hidden products (the seed peer never sees them)."""
    increments: int = 0
    """C+: changed variants whose desired quantity is above the store's."""
    decrements: int = 0
    """C-: changed variants whose desired quantity is below the store's."""


def drifted_source(rows: Sequence[Row], *, drift: float, seed: int) -> Drift:
    """Desired stock equal to the store except for ``drift`` of the eligible variants.

    Eligible: tracked, with an inventory item, and a non-empty SKU no other variant shares
    (syncd refuses ambiguous SKUs, by design). Exactly ``round(drift * eligible)`` of them,
    drawn with ``seed``, get another quantity (never 0, so the zeroing guard stays quiet).
    """
    skus = Counter(str(r["sku"]) for r in rows)
    eligible = [r for r in rows if r["tracked"] and r["inventory_item_id"] and r["sku"]
                and skus[str(r["sku"])] == 1 and r["quantity"] is not None]
    rng = random.Random(f"bench-drift/{seed}/{drift}")
    chosen = {id(r) for r in rng.sample(eligible, round(drift * len(eligible)))}
    desired: dict[str, int] = {}
    products: set[str] = set()
    hidden = up = 0
    for r in eligible:
        quantity = int(r["quantity"])
        if id(r) in chosen:
            up += quantity < 99_000
            quantity = quantity + 1 + rng.randrange(50) if quantity < 99_000 else quantity - 1
            products.add(str(r["product_id"]))
            hidden += bool(r["hidden"])
        desired[str(r["sku"])] = quantity
    return Drift(desired, len(chosen), len(products), hidden, up, len(chosen) - up)


def write_csv(path: Path, desired: Mapping[str, int]) -> None:
    """The source file: ``sku,quantity`` per line."""
    lines = ["sku,quantity", *(f"{sku},{q}" for sku, q in desired.items())]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


# -- the minimum of the contract (wix-api.md section 9) ---------------------------------------


def minimum_calls(catalog: str, rows: Sequence[Row], drift: Drift,
                  write_mode: str = "absolute") -> int:
    """V1 absolute: 1 + ceil(P/100) + K, plus the empty page §9 adds when P is a multiple
    of 100 (a crawl may not end on a short page).  V1 with deltas (every change of the
    source is a tracked quantity, so deltas can take them all): 1 + ceil(P/100) +
    ceil(C+/300) + ceil(C-/300) + ceil(K/100) for the verification re-read; ``auto`` takes
    the smaller of the two write costs, as syncd does.  V3: 1 + ceil(I/1000) + ceil(C/1000)."""
    if catalog == "v1":
        products = len({r["product_id"] for r in rows})
        absolute = drift.changed_products
        deltas = (math.ceil(drift.increments / 300) + math.ceil(drift.decrements / 300)
                  + math.ceil(drift.changed_products / 100))
        writes = {"absolute": absolute, "delta": deltas if drift.changed_variants else 0,
                  "auto": deltas if 0 < deltas < absolute else absolute}[write_mode]
        return 1 + v1_read_calls(products) + writes
    items = sum(1 for r in rows if r["inventory_item_id"])
    return 1 + math.ceil(items / 1000) + math.ceil(drift.changed_variants / 1000)


def v1_read_calls(products: int) -> int:
    """Contract §9: ceil(P/100) pages, +1 empty page when P is a multiple of 100."""
    return math.ceil(products / 100) + (1 if products % 100 == 0 else 0)


WINDOW_PAGES = 20
"""syncd's V1 offset window (``WalkSettings.window_pages``)."""


def safe_reading_calls(catalog: str, variants: Sequence[str], products: int) -> int:
    """Upper bound of the calls syncd's safe readings add to the minimum of one full cycle
    when the emulator plays ``variants`` (``syncd_emulator.variants``); 0 by default.

    V1 (V3's safe readings cost nothing unless a bulk write fails, or a switch priced by
    ``_proof_and_hint_calls`` is on, on either catalog): a page cut short inside an offset
    window leaves a gap that costs one call (at most one per page);
    a lower offset limit costs one window's refused pages, once per process; missing
    ``variants[].stock`` costs a Query Inventory crawl, ceil((P + 1) / 100), and where that
    crawl leaves hidden products out, one Get Inventory Variants per hidden product.
    """
    if catalog != "v1":
        return _proof_and_hint_calls(catalog, variants)
    pages = v1_read_calls(products)
    extra = 0
    if "short_pages" in variants:
        extra += pages
    if "low_offset_cap" in variants:
        extra += WINDOW_PAGES
    if "no_variant_stock" in variants:
        extra += pages + 1
        if "inventory_hides_hidden" in variants:
            # Hidden products Query Inventory leaves out: one Get Inventory Variants each.
            extra += hidden_products_bound(products)
    return extra + _proof_and_hint_calls(catalog, variants)


def hidden_products_bound(products: int) -> int:
    """At most how many of a generated store's ``products`` are hidden (the generator hides
    each with probability ``HIDDEN_SHARE``; twice that plus a margin is never reached)."""
    return math.ceil(2 * HIDDEN_SHARE * products) + 5


PROVOKED_429 = ("retry_after_ms", "retry_after_huge", "text_429")
"""Switches that shape a 429: a run under them starts on a spent budget so that one comes."""

REFUSED_BURST = 8
"""Requests a spent budget refuses before the back-off holds the site: at most the ones in
flight together (``concurrency``, 8 by default)."""


def _proof_and_hint_calls(catalog: str, variants: Sequence[str]) -> int:
    """What learning the numericId bound type, reading V3 cursors to a safe end and a
    provoked 429 add to one full cycle:

    - a bound type that fails (``numeric_bound_string_only``, ``numeric_bound_type_refused``):
      one second look per crawled V1 endpoint, learned for the process: Query Products, and
      Query Inventory too when ``no_variant_stock`` sends the walk there;
    - ``cursor_on_last_page``: V3 follows the kept cursor once, to an empty page, in each
      cursor query: a first walk reads up to ``FIRST_WALK_RANGES`` productId ranges, each
      its own query;
    - ``expiring_cursor``: V3's refused follow-up and the first page asked again, in each
      of those queries;
    - a provoked 429 (``PROVOKED_429``): the requests it refuses, ``REFUSED_BURST`` at most.
    """
    extra = REFUSED_BURST if any(v in PROVOKED_429 for v in variants) else 0
    if catalog == "v1":
        if {"numeric_bound_string_only", "numeric_bound_type_refused"} & set(variants):
            extra += 2 if "no_variant_stock" in variants else 1
        return extra
    if "cursor_on_last_page" in variants:
        extra += FIRST_WALK_RANGES
    if "expiring_cursor" in variants:
        extra += 2 * FIRST_WALK_RANGES
    return extra


def write_reading_calls(catalog: str, variants: Sequence[str], *,
                        changed_products: int, products: int = 0) -> int:
    """Upper bound of the calls the write-side readings (``read_lag``, ``applied_5xx``,
    ``ignored_writes``) add to one full V1 cycle that changes K products.

    - ``read_lag``: the re-read after the deltas may show the values before them, which
      proves nothing; their products are read once more after a pause
      (``syncd.apply.applier.SECOND_LOOK_S``, longer than the emulator's lag), ceil(K/100)
      calls. Under a lag longer than that pause every such product is also written
      absolutely, K calls more;
    - ``applied_5xx``: every third write call is answered 5xx after it landed; an absolute
      write is sent again by the client (idempotent), a delta never (its re-read settles
      it): at most ceil(K/2) + 1 calls more;
    - ``ignored_writes``: nothing; the write is sent once and not again;
    - ``no_variant_stock``: the re-read that verifies deltas finds no stock in Query
      Products either: each pass of it (two under ``read_lag``) costs one Query Inventory
      crawl, min(K, ceil((P + 1) / 100)), and with ``inventory_hides_hidden`` one Get
      Inventory Variants per hidden product among the K (the bound of hidden products).

    V3 writes carry revisions and echo what they stored: 0 there.
    """
    if catalog != "v1":
        return 0
    extra = 0
    if "read_lag" in variants:
        extra += math.ceil(changed_products / 100)
    if "applied_5xx" in variants:
        extra += math.ceil(changed_products / 2) + 1
    if "no_variant_stock" in variants:
        passes = 2 if "read_lag" in variants else 1
        crawl = min(changed_products, math.ceil((products + 1) / 100))
        hidden = (min(changed_products, hidden_products_bound(products))
                  if "inventory_hides_hidden" in variants else 0)
        extra += passes * (crawl + hidden)
    return extra


def budget_floor_s(calls: int, limit: tuple[int, float] | None) -> float:
    """The earliest moment the last of ``calls`` requests may be sent under a sliding window
    of ``limit = (R, W)``: floor((N - 1) / R) * W. Zero without a limit."""
    if limit is None or calls <= 0:
        return 0.0
    requests, window_s = limit
    return ((calls - 1) // requests) * window_s


# -- the end state ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EndState:
    """How the store after a run compares with what it should be."""

    matched: int
    """Variants the source names (by unique SKU)."""
    wrong: int
    """Named variants whose quantity (or tracking) is not the desired one."""
    wrong_hidden: int
    """Of ``wrong``, those on hidden products."""
    disturbed: int
    """Variants the source does not name whose stock changed anyway (a wrong write)."""

    @property
    def ok(self) -> bool:
        return self.wrong == 0 and self.disturbed == 0

    def describe(self) -> str:
        if self.ok:
            return f"ok ({self.matched:,} matched)"
        parts = []
        if self.wrong:
            hidden = f", {self.wrong_hidden} hidden" if self.wrong_hidden else ""
            parts.append(f"{self.wrong} wrong{hidden}")
        if self.disturbed:
            parts.append(f"{self.disturbed} disturbed")
        return " + ".join(parts)


def compare_end_state(before: Sequence[Row], after: Sequence[Row],
                      desired: Mapping[str, int]) -> EndState:
    """Every variant: named ones equal the source, all others exactly as they were."""
    initial = {variant_key(r): r for r in before}
    matched = wrong = wrong_hidden = disturbed = 0
    for row in after:
        sku = str(row["sku"])
        want = desired.get(sku) if sku else None
        if want is not None:
            matched += 1
            if not (row["tracked"] and row["quantity"] == want):
                wrong += 1
                wrong_hidden += bool(row["hidden"])
            continue
        old = initial.get(variant_key(row))
        if old is None or any(old[k] != row[k] for k in ("tracked", "quantity", "in_stock")):
            disturbed += 1
    return EndState(matched, wrong, wrong_hidden, disturbed)


# -- syncd through its command line -----------------------------------------------------------


def write_config(directory: Path, *, url: str, limit: tuple[int, float] | None,
                 source: Path, write_mode: str = "auto") -> Path:
    """A one-site configuration for ``syncd sync`` (client budget = ``limit``)."""
    requests, window_s = limit if limit is not None else (1_000_000, 1.0)
    config = directory / "syncd.yaml"
    config.write_text(
        "sites:\n"
        "  - name: bench\n"
        f"    site_id: {SITE}\n"
        f"    api_key_env: {KEY_ENV}\n"
        f"    base_url: {url}\n"
        "    catalog: auto\n"
        f"    rate_limit: {{requests: {requests}, per_seconds: {window_s:g}}}\n"
        "source:\n"
        f"  path: {source.name}\n"
        f"policy: {{write_mode: {write_mode}}}\n"
        "state_dir: state\n"
        "log: {level: warning, format: json}\n",
        encoding="utf-8")
    return config


@dataclass(frozen=True, slots=True)
class CliRun:
    """One ``syncd sync --output json`` process."""

    exit_code: int
    wall_s: float
    """From starting the process to its exit (interpreter start-up included)."""
    document: dict[str, Any] | None
    """The site's entry of the run's JSON object (None when the run printed none)."""
    stderr: str

    @property
    def account(self) -> dict[str, Any]:
        """What the sync wrote and the calls it made (empty when it wrote nothing)."""
        return dict((self.document or {}).get("account") or {})

    @property
    def cycle_s(self) -> float | None:
        """The cycle as syncd timed it: source read, walk, plan, writes (no start-up)."""
        duration = self.account.get("duration_s")
        return float(duration) if isinstance(duration, int | float) else None


def store_probe_findings(config: Path, *, read_lag_s: float | None = None) -> None:
    """Run ``syncd probe`` on ``config``'s site; with ``read_lag_s``, add the read lag a
    write test would measure to the stored report."""
    import asyncio
    from dataclasses import replace

    from syncd.core.findings import Finding
    from syncd.edges.backend.local.backend import LocalBackend

    done = subprocess.run([sys.executable, "-m", "syncd", "probe", "--config", str(config)],
                          capture_output=True, text=True, env={**os.environ, KEY_ENV: KEY},
                          timeout=300, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"syncd probe failed (exit {done.returncode}): {done.stderr[-300:]}")
    if read_lag_s is None:
        return
    backend = LocalBackend(config.parent / "state")
    report = asyncio.run(backend.read_probe(SITE_NAME))
    assert report is not None
    report = replace(report, findings=(*(f for f in report.findings if f.point != "read_lag"),
                                       Finding("read_lag", "lag", "a write test's measure",
                                               {"seconds": read_lag_s})))
    asyncio.run(backend.write_probe(SITE_NAME, report))


def run_sync_cli(config: Path, *, force: bool = False, timeout_s: float = 1800.0) -> CliRun:
    """Run ``syncd sync`` once, as a user would, and time it."""
    command = [sys.executable, "-m", "syncd", "sync", "--config", str(config),
               "--output", "json", "--log-level", "warning"]
    if force:
        command.append("--force")
    env = {**os.environ, KEY_ENV: KEY}
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout_s,
                          check=False)
    wall_s = time.perf_counter() - started
    document = None
    with contextlib.suppress(json.JSONDecodeError, IndexError, TypeError, AttributeError):
        sites = json.loads(done.stdout).get("sites")  # one object per run, a site each
        document = sites[0] if sites else None
    return CliRun(done.returncode, wall_s, document, done.stderr)
