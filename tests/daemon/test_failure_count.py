"""The failure count agrees with the last result: every cycle that left the store unsynced
for a reason counts, not only those that raised."""

from __future__ import annotations

import pytest

from syncd.frontends.daemon.cycle import CycleKind, CycleOutcome, CycleResult
from syncd.frontends.daemon.health import SiteStatus


@pytest.mark.parametrize("result", [CycleResult.INVALID_SOURCE, CycleResult.REFUSED,
                                    CycleResult.NO_MATCH, CycleResult.FAILED])
def test_an_unsynced_cycle_counts_as_a_consecutive_failure(result):
    status = SiteStatus("shop")
    status.record(CycleOutcome(site="shop", kind=CycleKind.FULL, result=result), ended_at_s=1)
    assert status.consecutive_failures == 1
    status.record(CycleOutcome(site="shop", kind=CycleKind.FULL, result=CycleResult.SKIPPED),
                  ended_at_s=2)
    assert status.consecutive_failures == 1, "a skipped cycle neither fails nor succeeds"
    status.record(CycleOutcome(site="shop", kind=CycleKind.FULL, result=CycleResult.OK),
                  ended_at_s=3)
    assert status.consecutive_failures == 0
