"""Safety guards on a plan, and the run-state file the shrink guard compares against."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from msgspec import structs

from syncd.base.errors import GuardRefused, StateError
from syncd.base.model import Catalog, DesiredStock, StoreSnapshot, StoreVariant
from syncd.core.diff import plan_changes
from syncd.core.guards import Guard, check_guards, evaluate_guards
from syncd.core.policy import Policy, Untracked
from syncd.edges.backend import RunState
from syncd.edges.backend.local.statefile import read_state, state_path, write_state


def store(n: int, quantity: int = 5) -> StoreSnapshot:
    return StoreSnapshot(Catalog.V3, tuple(
        StoreVariant(product_id=f"P{i}", variant_id=f"V{i}", inventory_item_id=f"I{i}",
                     sku=f"S{i}", tracked=True, quantity=quantity, in_stock=quantity > 0,
                     hidden=False)
        for i in range(n)))


def rows(quantities: list[int]) -> list[DesiredStock]:
    return [DesiredStock(sku=f"S{i}", product_id=None, variant_id=None, quantity=q,
                         in_stock=None, source="stock.csv", line=i + 2)
            for i, q in enumerate(quantities)]


def plan_for(quantities: list[int], n: int | None = None, quantity: int = 5):
    return plan_changes(rows(quantities), store(n or len(quantities), quantity), Policy())


class TestGuards:
    def test_normal_plan_passes_every_guard(self):
        p = plan_for([5] * 8 + [6, 7])
        results = check_guards(p, Policy(), previous_source_rows=10)
        assert all(r.passed for r in results)

    def test_changing_more_than_the_fraction_is_refused_with_numbers_and_ways_out(self):
        p = plan_for([6] * 6 + [5] * 4)
        with pytest.raises(GuardRefused) as info:
            check_guards(p, Policy(), previous_source_rows=None)
        assert info.value.guard == Guard.CHANGED_FRACTION
        message = str(info.value)
        assert "max_changed_fraction: 6 of 10 managed variants would change (60%), the limit " \
               "is 50%" in message
        assert "--force" in message and "policy.max_changed_fraction" in message
        assert "nothing was written" in message

    def test_zeroing_more_than_the_limit_is_refused(self):
        p = plan_for([0] * 4 + [5] * 16)
        with pytest.raises(GuardRefused) as info:
            check_guards(p, Policy(max_zeroed=3), previous_source_rows=None)
        assert info.value.guard == Guard.ZEROED
        assert "4 variants would become unavailable (quantity 0 or out of stock), the limit " \
               "is 3" in str(info.value)
        assert "policy.max_zeroed" in str(info.value)

    def test_zeroing_counts_only_variants_that_were_available(self):
        # Untracked and out of stock, switched to tracking at 0: written, but not "zeroed".
        snapshot = StoreSnapshot(Catalog.V3, tuple(
            structs.replace(v, tracked=False, quantity=None, in_stock=False)
            for v in store(4).variants))
        policy = Policy(untracked=Untracked.TRACK, max_zeroed=0, max_changed_fraction=1)
        p = plan_changes(rows([0] * 4), snapshot, policy)
        assert len(p.changes) == 4 and p.zeroed == 0
        check_guards(p, policy, previous_source_rows=None)

    def test_source_shrink_is_refused(self):
        p = plan_for([5] * 6)
        with pytest.raises(GuardRefused) as info:
            check_guards(p, Policy(), previous_source_rows=10)
        assert info.value.guard == Guard.SOURCE_SHRINK
        assert "the source has 6 rows, 10 at the last successful run (40% fewer), the limit " \
               "is 30%" in str(info.value)

    def test_shrink_guard_needs_a_previous_run(self):
        p = plan_for([5] * 2)
        [shrink] = [r for r in evaluate_guards(p, Policy(), previous_source_rows=None)
                    if r.guard is Guard.SOURCE_SHRINK]
        assert shrink.passed and not shrink.applicable
        assert "no previous successful run" in shrink.message

    def test_growing_source_never_trips_the_shrink_guard(self):
        assert check_guards(plan_for([5] * 20), Policy(), previous_source_rows=10)

    def test_force_overrides_and_returns_the_failed_verdicts(self):
        p = plan_for([0] * 10)
        results = check_guards(p, Policy(max_zeroed=1), previous_source_rows=100, force=True)
        assert {r.guard for r in results if not r.passed} == set(Guard)

    def test_every_failing_guard_is_named_in_one_refusal(self):
        with pytest.raises(GuardRefused) as info:
            check_guards(plan_for([0] * 10), Policy(max_zeroed=1), previous_source_rows=100)
        assert all(g.value in str(info.value) for g in Guard)


class TestRunState:
    def test_state_round_trips_through_an_atomic_write(self, tmp_path):
        state = RunState(last_success_at=datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC),
                         source_rows=71, source_digest="ab" * 32)
        path = write_state(tmp_path / "state", "demo", state)
        assert path == state_path(tmp_path / "state", "demo") == tmp_path / "state" / \
            "demo.state.json"
        assert read_state(tmp_path / "state", "demo") == state
        assert [p.name for p in path.parent.iterdir()] == ["demo.state.json"]  # no temp left

    def test_missing_state_means_no_previous_run(self, tmp_path):
        assert read_state(tmp_path, "demo") is None

    def test_damaged_state_is_an_error_not_a_fresh_start(self, tmp_path):
        state_path(tmp_path, "demo").write_text(json.dumps({"version": 1, "source_rows": -1}))
        with pytest.raises(StateError, match="damaged run state"):
            read_state(tmp_path, "demo")
