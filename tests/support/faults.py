"""What the fault-tolerance tests share: a site on an emulated store, and the checks.

The checks are the suite's definition of "no wrong write":

- ``end_state_errors``: every variant the source names holds the desired quantity, and
  every other variant is exactly as it was before the first sync;
- ``journal_errors``: the journal parses (at most a torn last line), every entry targets
  a variant the source names with the desired after-value, every applied write is what
  the store holds, a write with no outcome either landed or did not (store = before or
  after), and no variant changed without a journal entry recorded before the write.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from syncd.base.errors import SyncdError
from syncd.core.journal import BadLine, JournalEntry, Outcome
from syncd.cycle.results import SyncResult
from syncd.cycle.sync import SiteSync
from syncd.edges.backend.local.journal import journal_path, read_journal
from syncd.edges.config import Settings

API_KEY = "faults-api-key-7c1e9a"
SITE_ID = "fault-site"
SITE = "shop"
KEY_ENV = "SYNCD_FAULTS_API_KEY"

Row = dict[str, Any]
Key = tuple[str, str, str]


def key_of(row: Row) -> Key:
    """(product, variant, inventory item) of a ``/__emulator/state`` row."""
    return (str(row["product_id"]), str(row["variant_id"]), str(row["inventory_item_id"]))


def entry_key(entry: JournalEntry) -> Key:
    return (entry.product_id, entry.variant_id, entry.inventory_item_id)


def make_desired(rows: Sequence[Row], *, drift: float, seed: int) -> dict[str, int]:
    """Every tracked variant with a store-unique SKU, ``drift`` of them given a new quantity
    (never 0: the tests are about faults, not about the zeroing guard)."""
    skus = Counter(str(r["sku"]) for r in rows)
    rng = random.Random(f"faults/{seed}")
    desired: dict[str, int] = {}
    for r in rows:
        sku = str(r["sku"])
        if not (sku and skus[sku] == 1 and r["tracked"] and r["inventory_item_id"]):
            continue
        quantity = int(r["quantity"] or 0)
        if rng.random() < drift:
            quantity += 1 + rng.randrange(40)
        desired[sku] = quantity
    return desired


@dataclass(frozen=True, slots=True)
class SiteFiles:
    """A configuration, its source and its state directory for one emulated site."""

    config: Path
    source: Path
    state_dir: Path

    @property
    def journal(self) -> Path:
        return journal_path(self.state_dir, SITE)

    def settings(self) -> Settings:
        return Settings.from_file(self.config, env={KEY_ENV: API_KEY})


def write_site(directory: Path, *, url: str, desired: Mapping[str, int],
               rate_limit: tuple[int, float] | None = None, timeout_s: float = 4.0,
               write_mode: str = "auto") -> SiteFiles:
    """Write ``stock.csv`` and ``syncd.yaml`` (guards opened wide: faults are the subject).

    The request timeout is short: a delta whose call got no answer or a 5xx is followed by
    nothing for twice that long (``syncd.apply.recent_writes.lost_settle_s``), and the
    emulator here answers in milliseconds."""
    directory.mkdir(parents=True, exist_ok=True)
    source = directory / "stock.csv"
    source.write_text("sku,quantity\n" + "".join(f"{s},{q}\n" for s, q in desired.items()),
                      encoding="utf-8")
    requests, window_s = rate_limit or (100_000, 1.0)
    config = directory / "syncd.yaml"
    config.write_text(
        "sites:\n"
        f"  - name: {SITE}\n"
        f"    site_id: {SITE_ID}\n"
        f"    api_key_env: {KEY_ENV}\n"
        f"    base_url: {url}\n"
        "    catalog: auto\n"
        f"    rate_limit: {{requests: {requests}, per_seconds: {window_s:g}}}\n"
        f"    timeout_seconds: {timeout_s:g}\n"
        "source:\n"
        "  path: stock.csv\n"
        "policy: {max_changed_fraction: 1.0, max_zeroed: 100000, "
        f"write_mode: {write_mode}}}\n"
        "state_dir: state\n"
        "log: {level: error, format: json}\n",
        encoding="utf-8")
    return SiteFiles(config=config, source=source, state_dir=directory / "state")


async def sync_once(files: SiteFiles) -> SyncResult | SyncdError:
    """One in-process sync, as ``syncd sync`` runs it; a run-level failure is returned."""
    settings = files.settings()
    try:
        async with SiteSync(settings.sites[0], state_dir=settings.state_dir) as site:
            return await site.sync()
    except SyncdError as exc:  # e.g. the walk gave up after its retries: the run failed
        return exc


async def sync_until_converged(files: SiteFiles, *, max_runs: int) -> list[SyncResult | SyncdError]:
    """Sync until a run finds nothing to change; every run's result, in order."""
    runs: list[SyncResult | SyncdError] = []
    for _ in range(max_runs):
        result = await sync_once(files)
        runs.append(result)
        if isinstance(result, SyncResult) and not result.planned.plan.changes:
            return runs
    raise AssertionError(f"no convergence in {max_runs} runs: {_describe(runs)}")


def _describe(runs: Iterable[SyncResult | SyncdError]) -> str:
    parts = []
    for r in runs:
        if isinstance(r, SyncdError):
            parts.append(f"failed: {type(r).__name__}: {r}")
        else:
            applied = r.applied
            parts.append(f"{len(r.planned.plan.changes)} planned, "
                         f"{applied.written if applied else 0} written, "
                         f"{applied.failed if applied else 0} failed")
    return "; ".join(parts)


def end_state_errors(initial: Sequence[Row], final: Sequence[Row],
                     desired: Mapping[str, int]) -> list[str]:
    """Named variants hold the desired quantity; all others are untouched."""
    before = {key_of(r): r for r in initial}
    errors = []
    for row in final:
        want = desired.get(str(row["sku"])) if row["sku"] else None
        if want is not None:
            if not (row["tracked"] and row["quantity"] == want):
                errors.append(f"{row['sku']}: holds {row['quantity']}, source says {want}")
            continue
        old = before.get(key_of(row))
        if old is None or any(old[k] != row[k] for k in ("tracked", "quantity", "in_stock")):
            errors.append(f"{row['sku'] or key_of(row)}: not in the source, yet changed "
                          f"from {old and old['quantity']} to {row['quantity']}")
    return errors


def read_entries(files: SiteFiles) -> tuple[list[JournalEntry], list[BadLine]]:
    bad: list[BadLine] = []
    entries = list(read_journal(files.journal, bad_lines=bad))
    return entries, bad


def journal_errors(files: SiteFiles, *, initial: Sequence[Row], final: Sequence[Row],
                   desired: Mapping[str, int]) -> list[str]:
    """The journal parses and agrees with the store (see the module docstring)."""
    entries, bad = read_entries(files)
    errors: list[str] = []
    total_lines = len(files.journal.read_bytes().splitlines()) if files.journal.exists() else 0
    for line in bad:
        if not (line.torn and line.line == total_lines):
            errors.append(f"journal line {line.line} unreadable and not a torn last line: "
                          f"{line.reason}")
    store = {key_of(r): r for r in final}
    outcome_of: dict[str, Outcome] = {}
    last_applied: dict[Key, JournalEntry] = {}
    for e in entries:
        want = desired.get(e.sku)
        if want is None or e.after.quantity != want or e.after.tracked is not True:
            errors.append(f"journal {e.write_id} ({e.outcome.value}) writes {e.sku} "
                          f"{e.after.quantity}; the source says {want}")
        if e.outcome is not Outcome.PENDING:
            outcome_of[e.write_id] = e.outcome
        if e.outcome is Outcome.APPLIED:
            last_applied[entry_key(e)] = e
    for key, e in last_applied.items():
        row = store.get(key)
        if row is None or row["quantity"] != e.after.quantity:
            errors.append(f"journal says {e.sku} was set to {e.after.quantity}; the store "
                          f"holds {row and row['quantity']}")
    for e in entries:
        if e.outcome is Outcome.PENDING and e.write_id not in outcome_of:
            row = store.get(entry_key(e))
            held = row and row["quantity"]
            if entry_key(e) not in last_applied and held not in (e.before.quantity,
                                                                 e.after.quantity):
                errors.append(f"unsettled write {e.write_id} of {e.sku}: store holds {held}, "
                              f"neither before {e.before.quantity} nor after "
                              f"{e.after.quantity}")
    journaled = {entry_key(e) for e in entries}
    for row in initial:
        now = store.get(key_of(row))
        if now is not None and now["quantity"] != row["quantity"] \
                and key_of(row) not in journaled:
            errors.append(f"{row['sku']} changed from {row['quantity']} to {now['quantity']} "
                          "with no journal entry")
    return errors


def double_applied_errors(stats: Mapping[str, Any], initial: Sequence[Row],
                          desired: Mapping[str, int],
                          sold: Mapping[tuple[str, str], int] | None = None) -> list[str]:
    """No unit added or removed twice: per variant, the units the emulator's
    Increment/Decrement applied (added plus removed) never exceed what the variant needed,
    ``|desired - initial|``, plus the units shoppers took from it (which a later write may
    rightly put back). A delta applied twice moves twice the units and fails this."""
    by_variant = stats["deltas"]["by_variant"]
    start = {f"{r['product_id']}/{r['variant_id']}": r for r in initial}
    errors = []
    for key, (entries, added, removed) in by_variant.items():
        row = start[key]
        want = desired.get(str(row["sku"]))
        if want is None:
            errors.append(f"{key}: {entries} deltas applied to a variant the source does not "
                          "name")
            continue
        product_id, variant_id = key.split("/", 1)
        allowed = abs(want - int(row["quantity"] or 0)) + (sold or {}).get(
            (product_id, variant_id), 0)
        if added + removed > allowed:
            errors.append(f"{row['sku']}: deltas moved {added} up and {removed} down in "
                          f"{entries} entries; it needed {allowed}")
    return errors


async def wait_for(condition: Any, *, timeout_s: float, poll_s: float = 0.002) -> bool:
    """Poll ``condition()`` until true (True) or the deadline (False)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while loop.time() < deadline:
        if condition():
            return True
        await asyncio.sleep(poll_s)
    return bool(condition())
