"""Helpers for tests that sync a source file into an emulated store."""

from __future__ import annotations

import asyncio
import csv
import os
import random
import sys
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from syncd.core.journal import JournalEntry, Outcome
from syncd.edges.config import Settings, SiteSettings

API_KEY = "test-key-5f2a9c"


async def run_syncd(*args: str, key: str = API_KEY,
                    timeout_s: float = 90) -> tuple[int, str, str]:
    """``python -m syncd ARGS`` as a user runs it (the API key in WIX_API_KEY, JSON logs):
    its exit code, stdout and stderr."""
    env = {**os.environ, "WIX_API_KEY": key, "SYNCD_LOG_FORMAT": "json"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "syncd", *args, env=env, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), timeout=timeout_s)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def write_config(tmp: Path, *, url: str, source: Path, site_id: str = "demo-site",
                 policy: dict[str, Any] | None = None, catalog: str = "auto",
                 rate_limit: tuple[int, float] | None = None,
                 timeout_s: float | None = None) -> Path:
    """A syncd.yaml for one site on the emulator at ``url`` (``timeout_s``: the request
    timeout, which also sets how long a delta with no answer or a 5xx is waited out)."""
    site: dict[str, Any] = {"name": "shop", "site_id": site_id, "api_key_env": "WIX_API_KEY",
                            "base_url": url, "catalog": catalog}
    if timeout_s is not None:
        site["timeout_seconds"] = timeout_s
    if rate_limit is not None:
        site["rate_limit"] = {"requests": rate_limit[0], "per_seconds": rate_limit[1]}
    doc: dict[str, Any] = {"sites": [site], "source": {"path": str(source)},
                           "state_dir": str(tmp / "state")}
    if policy:
        doc["policy"] = policy
    path = tmp / "syncd.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def load_site(config: Path) -> tuple[Settings, SiteSettings]:
    settings = Settings.from_file(config, env={"WIX_API_KEY": API_KEY})
    return settings, settings.sites[0]


def unique_skus(state: list[dict[str, Any]]) -> set[str]:
    """SKUs carried by exactly one variant (the only ones a SKU row can target)."""
    counts = Counter(str(r["sku"]) for r in state if r["sku"])
    return {sku for sku, n in counts.items() if n == 1}


def drifted_source(state: list[dict[str, Any]], path: Path, *, drift: float, seed: int = 3,
                   extra_rows: list[tuple[str, int]] = ()) -> dict[str, int]:
    """Write a CSV naming every uniquely-SKU'd tracked variant; ``drift`` of them get a new
    quantity. Returns the desired quantity per SKU."""
    rng = random.Random(seed)
    unique = unique_skus(state)
    desired: dict[str, int] = {}
    for row in state:
        sku = str(row["sku"])
        if sku not in unique or not row["tracked"] or row["inventory_item_id"] is None:
            continue
        quantity = int(row["quantity"] or 0)
        if rng.random() < drift:
            quantity = (quantity + rng.randint(1, 50)) % 1000
        desired[sku] = quantity
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["sku", "quantity"])
        for sku, quantity in desired.items():
            writer.writerow([sku, quantity])
        for sku, quantity in extra_rows:
            writer.writerow([sku, quantity])
    return desired


def state_by_key(state: list[dict[str, Any]]) -> dict[tuple[str, str, Any], dict[str, Any]]:
    return {(str(r["product_id"]), str(r["variant_id"]), r["inventory_item_id"]): r
            for r in state}


def unsettled(entries: Iterable[JournalEntry]) -> list[JournalEntry]:
    """Journaled writes with a ``pending`` line and no outcome line: after a crash, those may
    or may not have landed."""
    open_writes: dict[str, JournalEntry] = {}
    for entry in entries:
        if entry.outcome is Outcome.PENDING:
            open_writes[entry.write_id] = entry
        else:
            open_writes.pop(entry.write_id, None)
    return list(open_writes.values())
