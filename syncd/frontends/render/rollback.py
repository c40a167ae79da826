"""A rollback as people and machines read them: what undoing a run writes (or wrote), and
what it leaves alone (variants changed since the run, variants gone from the store)."""

from __future__ import annotations

from typing import Any

from syncd.apply.absolute import ApplyReport
from syncd.base.textsafe import safe_text
from syncd.core.journal import StockState
from syncd.core.rollback import RollbackPlan
from syncd.frontends.render.plan import MAX_LISTED, change_dict, change_lines, failure_lines


def rollback_text(site: str, rollback: RollbackPlan, applied: ApplyReport | None, *,
                  max_rows: int | None = None) -> str:
    """What undoing a run will write (or wrote), and what it leaves alone."""
    plan = rollback.plan
    lines = [f"site {site}: rollback of run {rollback.run_id}: {len(rollback.plan.changes)} "
             f"of {plan.matched} variants to restore", ""]
    lines.extend(change_lines(plan, max_rows))
    if rollback.already_restored:
        lines.append(f"{rollback.already_restored} variants already hold their earlier value.")
    if rollback.drifted:
        lines.append(f"Changed since the run ({len(rollback.drifted)}; not restored unless "
                     "--include-drifted, which would overwrite the newer value):")
        for d in rollback.drifted[:MAX_LISTED]:
            now = d.current
            value = (str(now.quantity) if now.tracked else
                     ("in stock" if now.in_stock else "out of stock"))
            lines.append(f"  {d.point.sku or d.point.variant_id}: run wrote "
                         f"{_state(d.point.after)}, store now says {value}")
    if rollback.missing:
        lines.append(f"Gone from the store ({len(rollback.missing)}):")
        lines.extend(f"  {p.sku or p.variant_id}" for p in rollback.missing[:MAX_LISTED])
    if applied is not None:
        lines.append(f"restored {applied.written}, failed {applied.failed}, not sent "
                     f"{applied.not_attempted}")
        lines.extend(failure_lines(applied))
    return safe_text("\n".join(lines))


def rollback_dict(rollback: RollbackPlan, applied: ApplyReport | None, *,
                  dry_run: bool) -> dict[str, Any]:
    """The same facts as JSON-ready data: a site's fields in ``syncd rollback``'s JSON."""
    plan = rollback.plan
    return {
        "run_id": rollback.run_id,
        "dry_run": dry_run,
        "counts": {"restore": len(plan.changes), "matched": plan.matched,
                   "already_restored": rollback.already_restored,
                   "drifted": len(rollback.drifted), "missing": len(rollback.missing)},
        "changes": [change_dict(c) for c in plan.changes],
        "drifted": [{"sku": d.point.sku, "product_id": d.point.product_id,
                     "variant_id": d.point.variant_id, "run_wrote": d.point.after.to_dict(),
                     "store_now": {"tracked": d.current.tracked,
                                   "quantity": d.current.quantity,
                                   "in_stock": d.current.in_stock}}
                    for d in rollback.drifted],
        "missing": [{"sku": p.sku, "product_id": p.product_id, "variant_id": p.variant_id}
                    for p in rollback.missing],
        "account": None if applied is None else {
            "written": applied.written, "failed": applied.failed,
            "not_sent": applied.not_attempted,
            "products": [{"product_id": p.product_id, "written": p.written,
                          "failed": p.failed, "not_sent": p.not_attempted,
                          "errors": list(p.errors)}
                         for p in applied.products if p.failed or p.not_attempted]},
    }


def _state(state: StockState) -> str:
    if state.quantity is not None:
        return str(state.quantity)
    return "in stock" if state.in_stock else "out of stock"
