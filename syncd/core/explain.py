"""Why a SKU says what it says, and whether the next sync will change it.

``explain_sku`` is pure: the plan a sync would make (``syncd.core.diff.plan_changes``) with the
snapshot and source rows it was made from, the policy, and the site's journal entries go
in; an ``Explanation`` comes out: every store variant carrying the SKU, every source row
naming it (by SKU, or by the ids of one of those variants), the rules that shape the value
(buffer, cap, untracked, unmatched), the current and desired values, the last journaled
writes, and one sentence per variant saying why it will or will not be written. The
sentence is taken from what the plan itself decided, so it cannot disagree with a sync.

A plan kept for later (the console's latest plan) is older than the writes its own cycle
made: given the time of the read it comes from, an explanation whose SKU was written since
says so, with the time of that write, and does not present the old plan as the next one.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from syncd.base.model import DesiredStock, StoreSnapshot, StoreVariant
from syncd.core.journal import JournalEntry, Outcome
from syncd.core.plan import ChangeReason, Plan, StockChange
from syncd.core.policy import Policy, Unmatched, Untracked

MAX_WRITES = 10

JOURNAL_LINES = 10_000
"""The newest journal lines searched for a SKU's last writes (``syncd explain``, the
console's SKU page): an explanation costs the same on a day-old journal and a year-old
one."""

JOURNAL_FOUND = 200
"""Lines about the SKU kept from them: its last writes, pending and outcome lines."""


def sku_needles(sku: str, snapshot: StoreSnapshot) -> list[str]:
    """The text a journal line about ``sku`` holds (``StateBackend.read_recent_about``):
    the SKU, or the id of a variant carrying it; ``explain_sku`` checks the fields of the
    lines found."""
    ids = sorted({v.variant_id for v in snapshot.variants if v.sku == sku})
    return ([f'"sku":{json.dumps(sku, ensure_ascii=False)}']
            + [f'"variant_id":{json.dumps(v, ensure_ascii=False)}' for v in ids])


@dataclass(frozen=True, slots=True)
class VariantVerdict:
    """One store variant carrying the SKU, and what the next sync does to it."""

    variant: StoreVariant
    current: str
    """The value the store holds now, in words ("7", "in stock")."""
    desired: str | None
    """What the source (after buffer and cap) asks for; None when no row names it."""
    change: StockChange | None
    """The planned write, None when the variant is left alone."""
    why: str


@dataclass(frozen=True, slots=True)
class Explanation:
    """Everything syncd knows about one SKU."""

    sku: str
    variants: tuple[VariantVerdict, ...]
    rows: tuple[DesiredStock, ...]
    rules: tuple[str, ...]
    writes: tuple[JournalEntry, ...]
    """The latest settled journal entries for these variants, newest first."""
    summary: str
    read_at: datetime | None = None
    """When the read of the store the plan comes from started (None: not known)."""
    written_since: JournalEntry | None = None
    """The latest journal line for these variants recorded after ``read_at``: the plan
    is older than that write, so what it says about them may no longer hold."""

    @property
    def stale(self) -> bool:
        """True when a write of these variants was journaled after the plan's read."""
        return self.written_since is not None

    @property
    def will_write(self) -> bool:
        return any(v.change is not None for v in self.variants)

    def to_dict(self) -> dict[str, object]:
        return {
            "sku": self.sku, "summary": self.summary, "will_write": self.will_write,
            "read_at": self.read_at.isoformat() if self.read_at else None,
            "stale": self.stale,
            "written_since": None if self.written_since is None else {
                "run_id": self.written_since.run_id,
                "time": self.written_since.time.isoformat(),
                "outcome": self.written_since.outcome.value},
            "variants": [{
                "product_id": v.variant.product_id, "variant_id": v.variant.variant_id,
                "product_name": v.variant.product_name, "location_id": v.variant.location_id,
                "inventory_item_id": v.variant.inventory_item_id,
                "tracked": v.variant.tracked, "hidden": v.variant.hidden,
                "current": v.current, "desired": v.desired, "why": v.why,
                "write": None if v.change is None else {
                    "quantity": v.change.quantity, "in_stock": v.change.in_stock,
                    "track": v.change.track, "reason": v.change.reason.value},
            } for v in self.variants],
            "rows": [{"source": r.source, "line": r.line, "key": r.key, "quantity": r.quantity,
                      "in_stock": r.in_stock} for r in self.rows],
            "rules": list(self.rules),
            "writes": [{"run_id": w.run_id, "time": w.time.isoformat(),
                        "outcome": w.outcome.value, "before": w.before.to_dict(),
                        "after": w.after.to_dict(), "error": w.error} for w in self.writes],
        }


def current_value(v: StoreVariant) -> str:
    """What the store says about ``v``, in words."""
    if v.tracked:
        return "quantity unknown" if v.quantity is None else f"quantity {v.quantity}"
    return "untracked, in stock" if v.in_stock else "untracked, out of stock"


def _row_value(row: DesiredStock, policy: Policy) -> str:
    if row.quantity is None:
        return "in stock" if row.in_stock else "out of stock"
    q = max(0, row.quantity - policy.buffer)
    if policy.cap is not None:
        q = min(q, policy.cap)
    return f"quantity {q}"


def _change_value(c: StockChange) -> str:
    if c.quantity is not None:
        return f"quantity {c.quantity}" + ("" if c.variant.tracked else " (start tracking)")
    return "in stock" if c.in_stock else "out of stock"


def _rules(policy: Policy) -> tuple[str, ...]:
    rules = [f"buffer: {policy.buffer} unit(s) held back from every source quantity"
             if policy.buffer else "buffer: none"]
    rules.append(f"cap: quantities above {policy.cap} are written as {policy.cap}"
                 if policy.cap is not None else "cap: none")
    rules.append("untracked: quantities switch untracked variants to tracking"
                 if policy.untracked is Untracked.TRACK
                 else "untracked: untracked variants get in/out of stock from the source")
    rules.append("unmatched: variants missing from the source are zeroed"
                 if policy.unmatched is Unmatched.ZERO
                 else "unmatched: variants missing from the source are left alone")
    return tuple(rules)


def explain_sku(
    sku: str,
    *,
    plan: Plan,
    snapshot: StoreSnapshot,
    rows: Sequence[DesiredStock],
    policy: Policy,
    journal: Iterable[JournalEntry] = (),
    max_writes: int = MAX_WRITES,
    read_at: datetime | None = None,
) -> Explanation:
    """Everything about ``sku``: see the module docstring. ``read_at``: when the read of
    the store the plan comes from started; a write of the SKU journaled after it makes
    the explanation say that the plan predates it instead of presenting it as current."""
    carriers = tuple(v for v in snapshot.variants if v.sku == sku)
    ids = {(v.product_id, v.variant_id) for v in carriers}
    products = {v.product_id for v in carriers}
    named = tuple(r for r in rows if r.sku == sku or (
        r.sku is None and r.product_id in products
        and (r.variant_id is None or (r.product_id, r.variant_id) in ids)))
    changes = {id(c.variant): c for c in plan.changes if c.variant.sku == sku}
    ambiguous = next((a for a in plan.ambiguous if a.sku == sku), None)
    verdicts = tuple(
        _verdict(v, changes.get(id(v)), named, plan, policy, ambiguous_with=(
            len(ambiguous.variants) if ambiguous is not None else 0))
        for v in carriers)
    mine = [e for e in journal if e.sku == sku or (e.product_id, e.variant_id) in ids]
    since = [e for e in mine if read_at is not None and e.time > read_at]
    written_since = since[-1] if since else None
    writes = [e for e in mine if e.outcome is not Outcome.PENDING]
    writes.reverse()
    summary = _summary(sku, verdicts, named)
    if written_since is not None and read_at is not None:
        verdicts = tuple(replace(v, why=f"as planned from the read at {_clock(read_at)}: "
                                         f"{v.why}") for v in verdicts)
        summary = (f"SKU {sku}: planned before the last write at "
                   f"{_clock(written_since.time)} ({written_since.outcome.value}, run "
                   f"{written_since.run_id}); this plan comes from the read at "
                   f"{_clock(read_at)} and may no longer hold: the next cycle re-plans "
                   "from the store")
    return Explanation(sku, verdicts, named, _rules(policy), tuple(writes[:max_writes]), summary,
                       read_at=read_at, written_since=written_since)


def _clock(at: datetime) -> str:
    return f"{at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"


def _verdict(v: StoreVariant, change: StockChange | None, rows: Sequence[DesiredStock],
             plan: Plan, policy: Policy, *, ambiguous_with: int) -> VariantVerdict:
    current = current_value(v)
    mine = [r for r in rows if r.sku == v.sku or (
        r.sku is None and r.product_id == v.product_id
        and r.variant_id in (None, v.variant_id))]
    desired = _row_value(mine[-1], policy) if mine else None
    if change is not None:
        where = f" ({change.row.source}:{change.row.line})" if change.row is not None else ""
        extra = ""
        if change.held_back:
            extra += f", {change.held_back} held back by the buffer"
        if change.capped_at is not None:
            extra += f", capped at {change.capped_at}"
        reason = ("it is not in the source and unmatched: zero"
                  if change.reason is ChangeReason.UNMATCHED_ZERO
                  else f"the source asks for it{where}{extra}")
        why = f"will be written: {current} -> {_change_value(change)}, because {reason}"
        return VariantVerdict(v, current, desired or _change_value(change), change, why)
    skipped = next((s for s in plan.skipped if s.variant is v), None)
    blocked = next((b for b in plan.tracking_blocked if v in b.variants), None)
    if ambiguous_with and any(r.sku == v.sku for r in mine):
        why = (f"will not be written: {ambiguous_with} store variants carry SKU {v.sku}, so "
               "a row naming it by SKU is never applied (target it by product_id/variant_id, "
               "or make the SKU unique)")
    elif skipped is not None:
        why = (f"will not be written: {skipped.row.source}:{skipped.row.line} is skipped "
               f"({skipped.reason.value}): {skipped.detail}")
    elif not mine:
        why = ("will not be written: no source row names it, and unmatched: ignore leaves "
               "such variants alone" if policy.unmatched is Unmatched.IGNORE
               else "will not be written: it is not in the source and is already zero "
                    "(unmatched: zero)")
        if ambiguous_with and policy.unmatched is Unmatched.ZERO:
            why = (f"will not be written: {ambiguous_with} store variants carry SKU "
                   f"{v.sku}, and unmatched: zero never zeroes a SKU the source cannot name")
    else:
        row = mine[-1]
        why = (f"will not be written: it already holds what {row.source}:{row.line} asks "
               f"for ({desired})")
        if not v.tracked and row.quantity is not None and policy.untracked is Untracked.IN_STOCK:
            why += ("; it is untracked, so the quantity only decides in/out of stock "
                    "(policy.untracked: track would switch it to tracking)")
    if blocked is not None:
        why += ("; its product cannot switch to quantity tracking because other variants "
                "have no quantity in the source")
    return VariantVerdict(v, current, desired, None, why)


def _summary(sku: str, verdicts: Sequence[VariantVerdict], rows: Sequence[DesiredStock]) -> str:
    if not verdicts:
        if rows:
            where = ", ".join(f"{r.source}:{r.line}" for r in rows[:3])
            return (f"no store variant carries SKU {sku}: the source row(s) at {where} match "
                    "nothing and are reported as unmatched")
        return f"no store variant carries SKU {sku}, and no source row names it"
    writing = sum(1 for v in verdicts if v.change is not None)
    if writing:
        return f"SKU {sku}: the next sync writes {writing} of {len(verdicts)} variant(s)"
    return f"SKU {sku}: the next sync writes nothing ({verdicts[0].why})"
