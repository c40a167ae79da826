"""Quantity rules: how a supplier's way of writing stock becomes the number syncd writes.

Applied to each row while the source is read, before the differ sees it, in this order:

1. ``values``: the whole cell, compared case-insensitively, mapped to a number or to an
   availability (``{"In stock": 10, "Low": 2, "Out": 0, "Y": true, "N": false}``); works
   on the quantity and the in_stock column alike.
2. ``plus``: ``5+`` (or ``>5``) reads as 5.
3. the cell must now be a whole number 0..99999 (or true/false for in_stock).
4. ``threshold``: a quantity below it reads as 0 (low stock is sold as none).
5. ``percent``: that share of the quantity is offered, rounded down.
6. then, in the differ, the policy's ``buffer`` and ``cap`` as before.

Each rule that changed a row's value is recorded in the row's ``note``, which the plan
shows in its reason column, so "why 4 and not 9?" is answered in the plan itself.
"""

from __future__ import annotations

import re

from syncd.base.model import MAX_QUANTITY
from syncd.edges.config.source import QuantityRules

_PLUS = re.compile(r"(?:>\s*)?([0-9]+)\s*\+?")


def apply_text_rules(rules: QuantityRules, field: str, text: str) -> tuple[str, str, str]:
    """Rules 1 and 2 on one cell: ``(field, text, note)``; the field may switch between
    quantity and in_stock when ``values`` maps a word to an availability."""
    lowered = text.strip().lower()
    for word, value in rules.values:
        if word == lowered:
            if isinstance(value, bool):
                return "in_stock", "true" if value else "false", f"values: {text!r} = {value}"
            return "quantity", str(value), f"values: {text!r} = {value}"
    if rules.plus and field == "quantity" and not lowered.isdigit():
        match = _PLUS.fullmatch(lowered)
        if match and (lowered.endswith("+") or lowered.startswith(">")):
            return field, match.group(1), f"plus: {text!r} = {match.group(1)}"
    return field, text, ""


def apply_number_rules(rules: QuantityRules, quantity: int) -> tuple[int, str]:
    """Rules 4 and 5 on a parsed quantity: the quantity offered and the note."""
    notes = []
    if 0 < quantity < rules.threshold:
        notes.append(f"threshold {rules.threshold}: {quantity} -> 0")
        quantity = 0
    if rules.percent != 100 and quantity:
        offered = min(MAX_QUANTITY, quantity * rules.percent // 100)
        notes.append(f"percent {rules.percent}: {quantity} -> {offered}")
        quantity = offered
    return quantity, "; ".join(notes)
