"""Plans and sync accounts as people and machines read them (``plan``, ``sync``, ``demo``).

``plan_text`` prints a plan the way ``terraform plan`` does: one line per change (SKU,
product, before -> after, reason), then the counts and everything the plan noticed but will
not write. ``plan_dict`` gives the same facts as JSON-ready data for scripts, and
``account_dict`` what a sync wrote. Nothing here does I/O beyond returning strings.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from syncd.apply.absolute import ApplyReport
from syncd.base.textsafe import safe_text
from syncd.core.guards import GuardResult
from syncd.core.match_coverage import matched_rows
from syncd.core.plan import ChangeReason, Plan, StockChange
from syncd.core.store_hints import StoreHints
from syncd.cycle.results import PlanResult, SyncResult

MAX_LISTED = 20
"""Items listed per report section before the rest is summarised as a count."""


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def state_before(change: StockChange) -> str:
    """The variant's current state, for display."""
    v = change.variant
    if v.tracked:
        return "?" if v.quantity is None else str(v.quantity)
    return "in stock" if v.in_stock else "out of stock"


def state_after(change: StockChange) -> str:
    """The variant's state after the write, for display."""
    if change.quantity is not None:
        return (f"{change.quantity} (start tracking)" if not change.variant.tracked
                else str(change.quantity))
    return "in stock" if change.in_stock else "out of stock"


def explain_change(change: StockChange) -> str:
    """Why the variant is written, in words, including buffer and cap."""
    text = _REASON_TEXT[change.reason]
    row = change.row
    if row is not None and row.quantity is not None:
        text += f": source {row.quantity}"
        if change.held_back:
            text += f" - buffer {change.held_back}"
        if change.capped_at is not None:
            text += f", capped at {change.capped_at}"
    elif row is not None:
        text += f": source in_stock {'true' if row.in_stock else 'false'}"
    if row is not None and row.note:
        text += f" (rule {row.note})"
    return text


_REASON_TEXT = {
    ChangeReason.QUANTITY: "quantity",
    ChangeReason.OUT_OF_STOCK: "out of stock",
    ChangeReason.AVAILABILITY: "availability",
    ChangeReason.START_TRACKING: "start tracking",
    ChangeReason.UNMATCHED_ZERO: "not in the source (unmatched: zero)",
    ChangeReason.ROLLBACK: "rollback",
}


def _label(change: StockChange) -> str:
    v = change.variant
    return v.sku or f"{v.product_id}/{v.variant_id}"


def change_lines(plan: Plan, max_rows: int | None) -> list[str]:
    """One table line per change (SKU, product, before -> after, reason)."""
    lines: list[str] = []
    changes = plan.changes if max_rows is None else plan.changes[:max_rows]
    if changes:
        sku_w = min(max(len(_label(c)) for c in changes), 28)
        name_w = min(max(len(c.variant.product_name) for c in changes), 28)
        for c in changes:
            hidden = " (hidden)" if c.variant.hidden else ""
            sku = _cut(_label(c), sku_w)
            name = _cut(c.variant.product_name, name_w)
            lines.append(f"  ~ {sku:<{sku_w}}  {name:<{name_w}}  {state_before(c):>12} -> "
                         f"{state_after(c):<18} {explain_change(c)}{hidden}")
        if len(changes) < len(plan.changes):
            lines.append(f"  ... and {len(plan.changes) - len(changes)} more changes")
        lines.append("")
    return lines


def plan_text(site: str, result: PlanResult, *, max_rows: int | None = None,
              forced: bool = False, force_asked: bool = False) -> str:
    """The plan of one site as a table and a report; ``forced``: a sync applying it with
    ``--force``, which overrides the guards and the match check; ``force_asked``: a dry
    run given ``--force`` (the guards are named, and what ``--force`` would do with them)."""
    plan = result.plan
    snap = result.snapshot
    lines = [
        f"site {site}: catalog {plan.catalog.value}, {plan.store_variants} variants read "
        f"in {_plural(snap.api_calls, 'API call')} ({result.kind.value} walk)",
        f"source {result.source.path}: {_plural(plan.source_rows, 'valid row')}",
        *findings_lines(result.hints),
        "",
    ]
    lines.extend(change_lines(plan, max_rows))
    products = len({c.variant.product_id for c in plan.changes})
    if result.match_problem is not None and not forced:
        # Not "no changes": the source does not look like this store's, nothing is synced.
        lines.append(f"Nothing will be written: the source does not match this store "
                     f"({matched_rows(plan)} of {_plural(plan.source_rows, 'source row')} "
                     "match a store variant; the reason is on stderr).")
    elif plan.changes:
        hidden = f", {plan.hidden_changes} on hidden products" if plan.hidden_changes else ""
        lines.append(f"Plan: {_plural(len(plan.changes), 'change')} on "
                     f"{_plural(products, 'product')}{hidden}; "
                     f"{plan.matched - len(plan.changes)} matched variants already agree.")
    elif plan.matched == 0:
        lines.append("No changes: the source matches no store variant.")
    else:
        lines.append(f"No changes: all {plan.matched} matched variants already agree "
                     "with the source.")
    lines.extend(_notes(plan))
    if forced and result.match_problem is not None:
        lines.append(f"Source check overridden (--force given, applying the plan anyway): "
                     f"{result.match_problem}")
    lines.extend(_guard_lines(result.guards, forced=forced, force_asked=force_asked))
    return safe_text("\n".join(lines))


def findings_lines(hints: StoreHints) -> list[str]:
    """What the plan used of the store's probe findings (nothing when never probed)."""
    if hints.taken_at is None:
        return []
    age = f"{hints.age_days(datetime.now(UTC)):g} days old"
    if not hints.fresh:
        return [f"probe findings of {hints.taken_at:%Y-%m-%d} ({age}): older than "
                "probe.max_age_days, not used (run `syncd probe` again)"]
    if not hints.used:
        return [f"probe findings of {hints.taken_at:%Y-%m-%d} ({age}): none changes this "
                "plan's path"]
    return [f"probe findings of {hints.taken_at:%Y-%m-%d} ({age}) used: "
            + "; ".join(f"{u.point} {u.reading}: {u.effect}" for u in hints.used)]


def findings_dict(hints: StoreHints) -> dict[str, Any] | None:
    """The ``findings`` field of a plan's JSON (None when the store was never probed)."""
    if hints.taken_at is None:
        return None
    return {"taken_at": hints.taken_at.isoformat(),
            "age_days": hints.age_days(datetime.now(UTC)), "fresh": hints.fresh,
            "used": [{"point": u.point, "reading": u.reading, "effect": u.effect}
                     for u in hints.used]}


def _notes(plan: Plan) -> list[str]:
    lines: list[str] = []
    if plan.unmatched_rows:
        lines.append(f"Not in the store ({_plural(len(plan.unmatched_rows), 'source row')}, "
                     "nothing written for them):")
        lines.extend(f"  {row.source}:{row.line}: {row.key}"
                     for row in plan.unmatched_rows[:MAX_LISTED])
        lines.extend(_more(len(plan.unmatched_rows)))
    if plan.ambiguous:
        lines.append(f"Ambiguous SKUs ({len(plan.ambiguous)}; never written by SKU: give "
                     "product_id and variant_id instead):")
        for amb in plan.ambiguous[:MAX_LISTED]:
            where = ", ".join(f"{v.product_name or v.product_id}" for v in amb.variants[:4])
            rows = f"; source rows {', '.join(str(r.line) for r in amb.rows)}" if amb.rows else ""
            lines.append(f"  {amb.sku}: {len(amb.variants)} variants ({where}){rows}")
        lines.extend(_more(len(plan.ambiguous)))
    if plan.skipped:
        lines.append(f"Skipped rows ({len(plan.skipped)}):")
        lines.extend(f"  {s.row.source}:{s.row.line}: {s.row.key}: {s.detail}"
                     for s in plan.skipped[:MAX_LISTED])
        lines.extend(_more(len(plan.skipped)))
    if plan.tracking_blocked:
        lines.append(f"Products left untracked ({len(plan.tracking_blocked)}): some variants "
                     "have no quantity in the source")
        lines.extend(f"  {t.product_name or t.product_id}" for t in
                     plan.tracking_blocked[:MAX_LISTED])
        lines.extend(_more(len(plan.tracking_blocked)))
    if plan.invalid_rows:
        lines.append(f"Invalid rows skipped ({len(plan.invalid_rows)}):")
        lines.extend(f"  {e}" for e in plan.invalid_rows[:MAX_LISTED])
        lines.extend(_more(len(plan.invalid_rows)))
    return lines


def _more(total: int) -> list[str]:
    """The "... and N more" line of a list cut at ``MAX_LISTED``."""
    return [f"  ... and {total - MAX_LISTED} more"] if total > MAX_LISTED else []


def _guard_lines(guards: tuple[GuardResult, ...], *, forced: bool = False,
                 force_asked: bool = False) -> list[str]:
    failing = [g for g in guards if g.applicable and not g.passed]
    if not failing:
        return []
    names = ", ".join(g.guard.value for g in failing)
    if forced:
        lines = [f"Safety guards overridden: {names} would refuse this plan; --force "
                 "given, applying it:"]
    elif force_asked:
        lines = [f"Safety guards: {names} would refuse this plan; `syncd sync --force` "
                 "would override them and apply it (nothing is written by a dry run):"]
    else:
        lines = ["Safety guards: `syncd sync` would refuse this plan:"]
    lines.extend(f"  {g.guard.value}: {g.message}" for g in failing)
    return lines


def apply_text(site: str, result: SyncResult) -> str:
    """The one-line summary of a sync, plus the products that failed."""
    applied = result.applied
    assert applied is not None
    plan = result.planned.plan
    unconfirmed = (f"{applied.unconfirmed} sent but unconfirmed, " if applied.unconfirmed
                   else "")
    lines = [
        f"site {site}: {_plural(len(plan.changes), 'change')} planned, {applied.written} "
        f"written, {applied.failed} failed, {unconfirmed}{applied.not_attempted} not sent; "
        f"{_plural(result.api_calls, 'API call')} in {result.duration_s:.1f} s "
        f"(run {result.run_id})"
    ]
    if applied.unconfirmed:
        lines.append(f"  {_plural(applied.unconfirmed, 'write')} sent but unconfirmed: "
                     "pending in the journal (`syncd journal --pending` lists them); they "
                     "may have landed, the next sync settles them by re-reading the store")
    if applied.deltas is not None:
        d = applied.deltas
        lines.append(f"  increment/decrement: {_plural(d.adjust_calls, 'call')}, "
                     f"{d.confirmed} confirmed by re-read, {d.moved} moved by a sale since, "
                     f"{d.not_applied} not applied, {d.replanned} planned again, "
                     f"{d.to_absolute} written by the absolute path")
    lines.extend(failure_lines(applied))
    return safe_text("\n".join(lines))


def failure_lines(applied: ApplyReport) -> list[str]:
    bad = [p for p in applied.products if p.failed or p.not_attempted or p.unconfirmed]
    lines = []
    for p in bad[:MAX_LISTED]:
        why = "; ".join(p.errors) or "not sent (stopped)"
        unconfirmed = f"{p.unconfirmed} unconfirmed, " if p.unconfirmed else ""
        lines.append(f"  {p.product_name or p.product_id}: {p.failed} failed, "
                     f"{unconfirmed}{p.not_attempted} not sent: {why}")
    if len(bad) > MAX_LISTED:
        lines.append(f"  ... and {len(bad) - MAX_LISTED} more products")
    return lines


def change_dict(c: StockChange) -> dict[str, Any]:
    v = c.variant
    return {
        "sku": v.sku, "product_id": v.product_id, "variant_id": v.variant_id,
        "product_name": v.product_name, "inventory_item_id": v.inventory_item_id,
        "hidden": v.hidden, "reason": c.reason.value, "explain": explain_change(c),
        "before": {"tracked": v.tracked, "quantity": v.quantity, "in_stock": v.in_stock},
        "after": {"tracked": c.track, "quantity": c.quantity, "in_stock": c.in_stock},
        "source_line": c.row.line if c.row is not None else None,
    }


def plan_dict(site: str, result: PlanResult, applied: SyncResult | None = None) -> dict[str, Any]:
    """The plan (and, after a sync, its outcome) as plain JSON-ready data."""
    plan = result.plan
    data: dict[str, Any] = {
        "site": site,
        "digest": result.digest,
        "catalog": plan.catalog.value,
        "walk": {"kind": result.kind.value, "api_calls": result.snapshot.api_calls,
                 "store_variants": plan.store_variants},
        "source": {"path": result.source.path, "rows": plan.source_rows},
        "counts": {"changes": len(plan.changes), "matched": plan.matched,
                   "managed": plan.managed, "hidden_changes": plan.hidden_changes,
                   "zeroed": plan.zeroed, "unmatched_rows": len(plan.unmatched_rows),
                   "ambiguous_skus": len(plan.ambiguous), "skipped_rows": len(plan.skipped),
                   "invalid_rows": len(plan.invalid_rows)},
        "changes": [change_dict(c) for c in plan.changes],
        "unmatched_rows": [{"key": r.key, "source": r.source, "line": r.line}
                           for r in plan.unmatched_rows],
        "ambiguous_skus": [{"sku": a.sku, "variants": [
            {"product_id": v.product_id, "variant_id": v.variant_id} for v in a.variants],
            "source_lines": [r.line for r in a.rows]} for a in plan.ambiguous],
        "skipped_rows": [{"key": s.row.key, "line": s.row.line, "reason": s.reason.value,
                          "detail": s.detail} for s in plan.skipped],
        "invalid_rows": [str(e) for e in plan.invalid_rows],
        "guards": [{"guard": g.guard.value, "passed": g.passed, "applicable": g.applicable,
                    "message": g.message} for g in result.guards],
        "findings": findings_dict(result.hints),
        "match_problem": result.match_problem,
    }
    if applied is not None and applied.applied is not None:
        a = applied.applied
        data["result"] = {
            "run_id": applied.run_id, "written": a.written, "failed": a.failed,
            "not_attempted": a.not_attempted, "unconfirmed": a.unconfirmed,
            "conflict_retries": a.conflict_retries,
            "api_calls": applied.api_calls, "duration_s": round(applied.duration_s, 3),
            "products": [{"product_id": p.product_id, "written": p.written,
                          "failed": p.failed, "not_attempted": p.not_attempted,
                          "unconfirmed": p.unconfirmed, "errors": list(p.errors)}
                         for p in a.products if p.failed or p.not_attempted or p.unconfirmed],
        }
        if a.deltas is not None:
            data["result"]["deltas"] = asdict(a.deltas)
    return data


def account_dict(result: SyncResult) -> dict[str, Any] | None:
    """What a sync wrote, failed to write, sent without a confirmed outcome (``unconfirmed``:
    the journal's ``pending`` writes) and did not send (None for a dry run)."""
    a = result.applied
    if a is None:
        return None
    return {
        "run_id": result.run_id, "planned": len(result.planned.plan.changes),
        "written": a.written, "failed": a.failed, "unconfirmed": a.unconfirmed,
        "not_sent": a.not_attempted,
        "conflict_retries": a.conflict_retries, "api_calls": result.api_calls,
        "duration_s": round(result.duration_s, 3),
        "products": [{"product_id": p.product_id, "written": p.written, "failed": p.failed,
                      "unconfirmed": p.unconfirmed, "not_sent": p.not_attempted,
                      "errors": list(p.errors)}
                     for p in a.products if p.failed or p.not_attempted or p.unconfirmed],
    }
