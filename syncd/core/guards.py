"""Safety guards: the last check between a plan and the first write.

A wrong source file is the most likely way for syncd to do damage: a truncated download,
an export of one warehouse instead of all, a spreadsheet with the quantity column shifted.
Such files produce plans that look unlike a normal cycle, so each guard compares one
number of the plan with a limit from the policy and refuses the plan when it is exceeded:

* ``max_changed_fraction``: changed variants / variants the run manages;
* ``max_zeroed``: variants that would become unavailable (quantity 0 or out of stock);
* ``max_source_shrink``: rows lost since the last successful run (needs that run's state).

Pure and synchronous like the differ: the caller passes the previous row count (from
``syncd.edges.backend``) and the operator's ``--force``. A refusal raises ``GuardRefused`` naming
the guard, the numbers, and both ways out (``--force`` once, or the policy key).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from syncd.base.errors import GuardRefused
from syncd.core.plan import Plan
from syncd.core.policy import Policy


class Guard(StrEnum):
    """The guards, named after the policy key that sets their limit."""

    CHANGED_FRACTION = "max_changed_fraction"
    ZEROED = "max_zeroed"
    SOURCE_SHRINK = "max_source_shrink"


@dataclass(frozen=True, slots=True)
class GuardResult:
    """One guard's verdict on a plan."""

    guard: Guard
    passed: bool
    """False when the limit is exceeded (whether or not ``--force`` overrode it)."""
    message: str
    """What was measured against what, in words."""
    applicable: bool = True
    """False when the guard had nothing to measure (no previous run, nothing managed)."""


def evaluate_guards(plan: Plan, policy: Policy, *,
                    previous_source_rows: int | None) -> tuple[GuardResult, ...]:
    """Every guard's verdict, in a fixed order; never raises."""
    return (
        _changed_fraction(plan, policy),
        _zeroed(plan, policy),
        _source_shrink(plan, policy, previous_source_rows),
    )


def check_guards(plan: Plan, policy: Policy, *, previous_source_rows: int | None,
                 force: bool = False) -> tuple[GuardResult, ...]:
    """The verdicts; raises ``GuardRefused`` when one fails and ``force`` is False.

    With ``force`` the failed verdicts are returned for the caller to log as overridden.
    """
    results = evaluate_guards(plan, policy, previous_source_rows=previous_source_rows)
    failed = [r for r in results if not r.passed]
    if failed and not force:
        lines = "\n".join(f"  {r.guard}: {r.message}" for r in failed)
        keys = ", ".join(f"policy.{r.guard}" for r in failed)
        raise GuardRefused(
            failed[0].guard,
            f"safety guard{'s' if len(failed) > 1 else ''} refused the plan; nothing was "
            f"written:\n{lines}\nIf the source is right, run once with --force, or change "
            f"{keys} in the configuration.")
    return results


def _changed_fraction(plan: Plan, policy: Policy) -> GuardResult:
    guard = Guard.CHANGED_FRACTION
    changed, managed = len(plan.changes), plan.managed
    if managed == 0:
        return GuardResult(guard, True, "no variant is managed", applicable=False)
    fraction = changed / managed
    text = (f"{changed} of {managed} managed variants would change ({fraction:.0%}), the "
            f"limit is {policy.max_changed_fraction:.0%}")
    return GuardResult(guard, fraction <= policy.max_changed_fraction, text)


def _zeroed(plan: Plan, policy: Policy) -> GuardResult:
    zeroed = plan.zeroed
    text = (f"{zeroed} variant{'s' if zeroed != 1 else ''} would become unavailable "
            f"(quantity 0 or out of stock), the limit is {policy.max_zeroed}")
    return GuardResult(Guard.ZEROED, zeroed <= policy.max_zeroed, text)


def _source_shrink(plan: Plan, policy: Policy, previous: int | None) -> GuardResult:
    guard = Guard.SOURCE_SHRINK
    if not previous:
        return GuardResult(guard, True, "no previous successful run to compare the source "
                           "with", applicable=False)
    now = plan.source_rows
    shrink = max(previous - now, 0) / previous
    text = (f"the source has {now} rows, {previous} at the last successful run "
            f"({shrink:.0%} fewer), the limit is {policy.max_source_shrink:.0%}")
    return GuardResult(guard, shrink <= policy.max_source_shrink, text)
