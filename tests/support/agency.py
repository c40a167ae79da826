"""Shared by the agency tests and benchmark: a fleet of sites on the multi-site emulator.

``write_fleet`` writes a main configuration with a ``sites_dir`` of one file per site and
a CSV source per site (the store's tracked SKUs, a few of them drifted so that the first
cycle writes); ``cycles_by_site`` reads a daemon's JSON log back into per-site cycles.
"""

from __future__ import annotations

import contextlib
import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

KEY = "agency-shared-key-0001"
"""One key for every emulated site (one Wix app installed on many sites)."""


def stock_of(rows: Iterable[Mapping[str, Any]], *, drift: int = 5) -> dict[str, int]:
    """Source quantities for a store's state rows: every tracked, unique SKU, with the
    first ``drift`` of them moved up by 3 so that the first cycle has writes to make."""
    rows = list(rows)
    counts = Counter(r["sku"] for r in rows)
    stock = {r["sku"]: int(r["quantity"]) for r in rows
             if r["tracked"] and r["sku"] and counts[r["sku"]] == 1}
    for sku in list(stock)[:drift]:
        stock[sku] += 3
    return stock


def write_source(path: Path, stock: Mapping[str, int]) -> None:
    path.write_text("sku,quantity\n" + "".join(f"{s},{q}\n" for s, q in stock.items()))


def write_fleet(directory: Path, *, url: str, stocks: Mapping[str, Mapping[str, int]],
                interval_s: float, extra: Mapping[str, Any] | None = None,
                level: str = "info") -> Path:
    """``directory/syncd.yaml`` with ``sites.d/<site>.yaml`` and ``sources/<site>.csv``."""
    (directory / "sites.d").mkdir(parents=True, exist_ok=True)
    (directory / "sources").mkdir(exist_ok=True)
    key_file = directory / "key"
    key_file.write_text(KEY)
    for site_id, stock in stocks.items():
        source = directory / "sources" / f"{site_id}.csv"
        write_source(source, stock)
        (directory / "sites.d" / f"{site_id}.yaml").write_text(yaml.safe_dump({
            "site_id": site_id, "api_key_file": str(key_file), "base_url": url,
            "catalog": "v1", "source": {"path": str(source)}}))
    config: dict[str, Any] = {
        "sites_dir": "sites.d",
        "policy": {"max_changed_fraction": 1.0, "max_zeroed": 100000},
        "schedule": {"interval_seconds": interval_s, "jitter_seconds": 0,
                     "watch_source": False},
        "http": {"listen": "127.0.0.1:0", "ready_max_age_seconds": 3600},
        "shutdown_grace_seconds": 10,
        "log": {"level": level, "format": "json"},
        **(extra or {}),
    }
    path = directory / "syncd.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


class DaemonLog:
    """A daemon's JSON log, read on from where the last read stopped (re-reading a large
    log every few seconds would take a core of its own). ``only``: keep just the lines
    holding these bytes (parsing every line of a 10,000-store log costs too)."""

    def __init__(self, path: Path, *, only: bytes | None = None) -> None:
        self.path = path
        self.only = only
        self.events: list[dict[str, Any]] = []
        self._offset = 0

    def read(self) -> list[dict[str, Any]]:
        with self.path.open("rb") as f:
            f.seek(self._offset)
            data = f.read()
        end = data.rfind(b"\n") + 1
        self._offset += end
        for line in data[:end].splitlines():
            if self.only is not None and self.only not in line:
                continue
            with contextlib.suppress(ValueError):
                self.events.append(json.loads(line))
        return self.events

    def count(self, event: str, **fields: Any) -> int:
        return sum(1 for e in self.events if e.get("event") == event
                   and all(e.get(k) == v for k, v in fields.items()))


@dataclass(frozen=True)
class Cycle:
    site: str
    late_s: float | None
    result: str | None
    started_at: str


def cycles_by_site(events: Sequence[Mapping[str, Any]]) -> dict[str, list[Cycle]]:
    """Each site's cycles from a daemon's log, in order (result None: still running)."""
    started: dict[str, Mapping[str, Any]] = {}
    out: dict[str, list[Cycle]] = {}
    for e in events:
        cycle = e.get("cycle")
        if e.get("event") == "cycle_started" and cycle:
            started[cycle] = e
        elif e.get("event") == "cycle_finished" and cycle in started:
            s = started.pop(cycle)
            out.setdefault(str(e["site"]), []).append(Cycle(
                site=str(e["site"]), late_s=s.get("late_s"), result=str(e["result"]),
                started_at=str(s.get("timestamp", ""))))
    return out


def proc_usage(pid: int) -> tuple[float, int]:
    """CPU seconds (user + system) and peak RSS in bytes of a running process."""
    import os

    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu_s = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    peak = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            peak = int(line.split()[1]) * 1024
    return cpu_s, peak


def descendants(pid: int) -> list[int]:
    """The processes below ``pid`` (a daemon's source worker and its server process)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def running(pid: int) -> bool:
    """The process exists and has not exited (a zombie waiting to be reaped has)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


async def owners(dsn: str) -> dict[str, str]:
    """Which replica owns each site, from the PostgreSQL backend's ownership table."""
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        return {r["site"]: r["replica"]
                for r in await conn.fetch("SELECT site, replica FROM syncd_site_owners")}
    finally:
        await conn.close()


def converged(running: Any, stocks: Mapping[str, Mapping[str, int]]) -> bool:
    """Every site of a multi-site emulator holds its source's stock."""
    for site_id, stock in stocks.items():
        store = {r["sku"]: r["quantity"] for r in running.site(site_id).store.state_rows()}
        if any(store[sku] != q for sku, q in stock.items()):
            return False
    return True
