"""``syncd explain``'s account of one SKU, for people (``Explanation.to_dict`` is the JSON)."""

from __future__ import annotations

from syncd.base.textsafe import safe_text
from syncd.core.explain import Explanation


def explanation_text(site: str, e: Explanation) -> str:
    """The explanation for people."""
    lines = [f"site {site}: {e.summary}", ""]
    lines.append(f"store variants carrying {e.sku}: {len(e.variants)}")
    for v in e.variants:
        sv = v.variant
        where = f" at location {sv.location_id}" if sv.location_id else ""
        hidden = " (hidden)" if sv.hidden else ""
        lines.append(f"  {sv.product_name or sv.product_id}{hidden} "
                     f"[{sv.product_id}/{sv.variant_id}{where}]")
        lines.append(f"    now: {v.current}; source wants: {v.desired or 'nothing'}")
        lines.append(f"    {v.why}")
    lines.append(f"source rows naming it: {len(e.rows)}")
    for r in e.rows:
        value = (f"quantity {r.quantity}" if r.quantity is not None
                 else f"in_stock {'true' if r.in_stock else 'false'}")
        lines.append(f"  {r.source}:{r.line}: {r.key} = {value}")
    lines.append("rules:")
    lines.extend(f"  {rule}" for rule in e.rules)
    lines.append(f"last writes in the journal: {len(e.writes)}")
    for w in e.writes:
        lines.append(f"  {w.time:%Y-%m-%d %H:%M:%S} UTC  run {w.run_id}  {w.outcome.value}: "
                     f"{_state(w.before.quantity, w.before.in_stock)} -> "
                     f"{_state(w.after.quantity, w.after.in_stock)}"
                     + (f" ({w.error})" if w.error else ""))
    return safe_text("\n".join(lines))


def _state(quantity: int | None, in_stock: bool | None) -> str:
    if quantity is not None:
        return str(quantity)
    return "in stock" if in_stock else "out of stock"
