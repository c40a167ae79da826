"""The check that a source is about this store at all, before a run may call itself done.

A source that names nothing in the store plans no change, and "no changes" reads as
success: a lower-cased SKU column, another store's export or a wrong ``site_id`` would all
report "everything agrees" for ever. So a full plan whose source rows match no store
variant, or far fewer than at the last good run, is an error of its own (``NoMatch``), not
a quiet success. Pure, like the guards; the policy keys ``fail_on_no_match`` and
``min_matched_fraction`` set it.
"""

from __future__ import annotations

from syncd.core.plan import Plan
from syncd.core.policy import Policy


def matched_rows(plan: Plan) -> int:
    """Source rows that name at least one store variant."""
    return max(0, plan.source_rows - len(plan.unmatched_rows))


def match_problem(plan: Plan, policy: Policy, *, previous_matched: int | None) -> str | None:
    """Why the plan's source does not look like this store's, or None when it does."""
    if not policy.fail_on_no_match or plan.source_rows == 0:
        return None
    matched = matched_rows(plan)
    rows = plan.source_rows
    noun = "row" if rows == 1 else "rows"
    if matched == 0:
        return (f"0 of {rows} source {noun} match a store variant ({plan.store_variants} "
                "variants read): is this the right store? Did the SKU column change case?")
    if previous_matched and matched < previous_matched * policy.min_matched_fraction:
        return (f"only {matched} of {rows} source {noun} match a store variant, "
                f"{previous_matched} did at the last good run (policy.min_matched_fraction "
                f"{policy.min_matched_fraction:.0%}): is this the right store? Did the SKU "
                "column change case?")
    return None
