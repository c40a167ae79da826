"""Several sources for one site (a supplier feed per warehouse, an ERP export plus a
spreadsheet of corrections), merged into one before the differ sees them.

The site's ``merge`` rule decides a target named by several sources:

* ``first``: the first source (in the configured order) that names it wins;
* ``sum``: quantities are added (capped at 99999); availabilities: in stock if any is;
* ``min`` / ``max``: the smallest / largest quantity; availability: all / any.

A target given as a quantity by one source and as an availability by another cannot be
summed or compared: under ``sum``, ``min`` and ``max`` that is an error naming both rows.
Every merged row keeps the file and line of the row it came from (the first contributing
one), and its note lists the contributions, so the plan shows where a number came from.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from syncd.base.model import MAX_QUANTITY, DesiredStock, RowError
from syncd.edges.config.source import MergeRule, OnInvalidRow
from syncd.edges.sources.rows import DesiredRows, DesiredSource, InvalidRowsError, describe_value


def merge_sources(sources: Sequence[DesiredSource], rule: MergeRule,
                  on_invalid_row: OnInvalidRow) -> DesiredSource:
    """One source from ``sources`` (in order); ``InvalidRowsError`` in ``fail`` mode when
    rows cannot be combined."""
    if len(sources) == 1:
        return sources[0]
    name = " + ".join(s.path for s in sources)
    groups: dict[str, list[DesiredStock]] = {}
    for source in sources:
        for row in source.rows:
            groups.setdefault(row.key, []).append(row)
    errors: list[RowError] = []
    merged: list[DesiredStock] = []
    for rows in groups.values():
        combined = rows[0] if len(rows) == 1 else _combine(rows, rule, errors)
        if combined is not None:
            merged.append(combined)
    if errors and on_invalid_row is OnInvalidRow.FAIL:
        raise InvalidRowsError(name, tuple(errors), why=(
            f"rows that merge: {rule.value} cannot combine; nothing was written"))
    table = DesiredRows.from_rows(name, merged, keep_origin=True)
    return DesiredSource(path=name, rows=table,
                         errors=tuple(e for s in sources for e in s.errors) + tuple(errors),
                         located=any(s.located for s in sources))


def _combine(rows: list[DesiredStock], rule: MergeRule,
             errors: list[RowError]) -> DesiredStock | None:
    first = rows[0]
    where = ", ".join(f"{r.source}:{r.line} {describe_value(r)}" for r in rows)
    note = "; ".join(n for n in (first.note, f"{rule.value} of {where}") if n)
    if rule is MergeRule.FIRST:
        return replace(first, note=note)
    quantities = [r.quantity for r in rows if r.quantity is not None]
    if quantities and len(quantities) != len(rows):
        errors.append(RowError(first.source, first.line, "quantity", (
            f"{first.key}: a quantity in one source and an availability in another cannot "
            f"be combined by merge: {rule.value} ({where}); the target is left out")))
        return None
    if quantities:
        if rule is MergeRule.SUM:
            value = min(MAX_QUANTITY, sum(quantities))
        else:
            value = min(quantities) if rule is MergeRule.MIN else max(quantities)
        return replace(first, quantity=value, note=note)
    flags = [bool(r.in_stock) for r in rows]
    available = all(flags) if rule is MergeRule.MIN else any(flags)
    return replace(first, in_stock=available, note=note)
