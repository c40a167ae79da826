"""The check that a source is about this store at all, before a run may call itself done.

A source that names nothing in the store plans no change, and "no changes" reads as
success: a lower-cased SKU column, another store's export or a wrong ``site_id`` would all
report "everything agrees" for ever. So a full plan whose source rows match no store
variant, or far fewer than at the last good run, is an error of its own (``NoMatch``), not
a quiet success. Pure, like the guards; the policy keys ``fail_on_no_match`` and
``min_matched_fraction`` set it.

A source whose every row matches is about this store, however few rows it has: a file
that merely shrank is the ``max_source_shrink`` guard's business, and "is this the right
store?" would send the operator the wrong way. So the rows matched at the last good run
are scaled down with the source before they are compared.
"""

from __future__ import annotations

from collections.abc import Iterable

from syncd.core.plan import Plan
from syncd.core.policy import Policy

EXAMPLES = 3
"""Unmatched source rows named in the message."""


def matched_rows(plan: Plan) -> int:
    """Source rows that name at least one store variant."""
    return max(0, plan.source_rows - len(plan.unmatched_rows))


def match_problem(plan: Plan, policy: Policy, *, previous_matched: int | None,
                  previous_rows: int | None = None,
                  store_skus: Iterable[str] = ()) -> str | None:
    """Why the plan's source does not look like this store's, or None when it does.

    ``previous_matched`` and ``previous_rows`` are the last good run's matched and total
    source rows; ``store_skus`` the store's SKUs, to recognise SKUs that differ only in
    case and name a few of them."""
    if not policy.fail_on_no_match or plan.source_rows == 0:
        return None
    matched = matched_rows(plan)
    rows = plan.source_rows
    if matched == rows:
        return None
    noun = "row" if rows == 1 else "rows"
    if matched == 0:
        return (f"0 of {rows} source {noun} match a store variant ({plan.store_variants} "
                f"variants read): {_unmatched_hint(plan, store_skus)}")
    if not previous_matched:
        return None
    expected = float(previous_matched)
    if previous_rows and rows < previous_rows:
        # The source shrank: fewer matches follow from that alone.
        expected = previous_matched * rows / previous_rows
    if matched < expected * policy.min_matched_fraction:
        last = (f"{previous_matched} of {previous_rows}" if previous_rows
                else f"{previous_matched}")
        return (f"only {matched} of {rows} source {noun} match a store variant, {last} did "
                f"at the last good run (policy.min_matched_fraction "
                f"{policy.min_matched_fraction:.0%}); {_unmatched_hint(plan, store_skus)}")
    return None


def _unmatched_hint(plan: Plan, store_skus: Iterable[str]) -> str:
    """What the unmatched rows suggest: SKUs in another case (named), or a few examples."""
    by_fold = {sku.casefold(): sku for sku in store_skus if sku}
    cased = [(row, by_fold[row.sku.casefold()]) for row in plan.unmatched_rows
             if row.sku is not None and row.sku.casefold() in by_fold]
    if cased:
        named = ", ".join(f"{row.source}:{row.line}: {row.sku!r} (the store has {sku!r})"
                          for row, sku in cased[:EXAMPLES])
        return (f"{len(cased)} of them differ from a store SKU only in case, e.g. {named}. "
                "Fix the SKU column's case in the source (SKUs are matched exactly)")
    named = ", ".join(f"{row.source}:{row.line}: {row.key!r}"
                      for row in plan.unmatched_rows[:EXAMPLES])
    return (f"{len(plan.unmatched_rows)} name no store variant, e.g. {named}. Is this the "
            "right store (site_id), and the right SKU column?")
