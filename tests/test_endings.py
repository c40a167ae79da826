"""How a cycle ended is decided once (``syncd.cycle.endings.classify``), and both the daemon and
the commands have a name for every ending it can decide."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from syncd.apply.absolute import ApplyReport
from syncd.base.errors import (
    GuardRefused,
    LeaseLost,
    NoMatch,
    SourceError,
    StateError,
    StopRequested,
    SyncdError,
    WixAuthError,
    WixUnavailable,
)
from syncd.base.model import RowError
from syncd.cycle.endings import CycleEnd, classify
from syncd.cycle.results import SyncResult
from syncd.edges.backend import SiteLocked
from syncd.edges.sources import InvalidRowsError
from syncd.frontends.commands.common import ExitCode
from syncd.frontends.commands.outcome import END_CODES
from syncd.frontends.daemon.cycle import CycleResult
from syncd.frontends.daemon.runner import _RESULTS


def _locked() -> SiteLocked:
    return SiteLocked("held by pid 7", site="shop", lock_path=Path("shop.lock"), pid=7)


@pytest.mark.parametrize(("error", "end"), [
    (GuardRefused("max_zeroed", "too many zeroed"), CycleEnd.REFUSED),
    (NoMatch("0 of 40 rows match"), CycleEnd.NO_MATCH),
    (SourceError("stock.csv: no such file"), CycleEnd.INVALID_SOURCE),
    (StopRequested("stop"), CycleEnd.STOPPED),
    (LeaseLost("another replica took the site"), CycleEnd.STOPPED),
    (StateError("state/shop.json: damaged"), CycleEnd.STATE_UNUSABLE),
    (_locked(), CycleEnd.LOCKED),
    (WixAuthError("401"), CycleEnd.FAILED),
    (WixUnavailable("connection refused"), CycleEnd.FAILED),
    (SyncdError("no applied write to roll back"), CycleEnd.FAILED),
])
def test_each_error_ends_a_cycle_one_way(error, end):
    assert classify(error).end is end


def test_a_plain_stop_says_nothing_was_written_and_a_lost_lease_says_why():
    assert classify(StopRequested("x")).reason == "stopped before any write"
    assert classify(LeaseLost("another replica took the site")).reason == \
        "another replica took the site"


def test_invalid_rows_are_kept_with_the_ending():
    row = RowError("stock.csv", 3, "quantity", "not a number")
    ending = classify(InvalidRowsError("stock.csv", (row,), why="1 invalid row"))
    assert ending.end is CycleEnd.INVALID_SOURCE
    assert ending.invalid_rows == ("stock.csv:3: quantity: not a number",)


def test_the_refused_plan_travels_with_the_ending_only_when_it_is_a_plan():
    refused = GuardRefused("max_zeroed", "too many")
    refused.result = "not a plan"
    assert classify(refused).planned is None


@pytest.mark.parametrize("end", list(CycleEnd))
def test_the_daemon_and_the_commands_name_every_ending(end):
    assert isinstance(_RESULTS[end], CycleResult)
    assert isinstance(END_CODES[end], ExitCode)


@pytest.mark.parametrize(("end", "code"), [
    (CycleEnd.OK, ExitCode.OK), (CycleEnd.PENDING, ExitCode.PENDING),
    (CycleEnd.REFUSED, ExitCode.REFUSED), (CycleEnd.NO_MATCH, ExitCode.NO_MATCH),
    (CycleEnd.INVALID_SOURCE, ExitCode.FAILED), (CycleEnd.FAILED, ExitCode.FAILED),
    (CycleEnd.LOCKED, ExitCode.LOCKED), (CycleEnd.STOPPED, ExitCode.STOPPED),
    (CycleEnd.STATE_UNUSABLE, ExitCode.STATE),
])
def test_each_ending_keeps_its_documented_exit_code(end, code):
    assert END_CODES[end] is code


def _applied(**counts: int | bool) -> SyncResult:
    report = ApplyReport(**{"written": 0, "failed": 0, "not_attempted": 0,
                            "conflict_retries": 0, "products": (), **counts})
    planned = SimpleNamespace(plan=SimpleNamespace(changes=tuple(range(10))))
    return SyncResult(planned=planned, applied=report, api_calls=0, duration_s=0.0,
                      run_id="r")


def test_a_stop_counts_sent_but_unconfirmed_writes_apart_from_unsent_ones():
    ending = classify(_applied(written=2, unconfirmed=3, not_attempted=5, interrupted=True))
    assert ending.end is CycleEnd.STOPPED
    assert ending.reason == ("stopped: 3 sent but unconfirmed (pending in the journal: "
                             "`syncd journal --pending`; the next sync settles them); "
                             "5 of 10 writes not sent")


def test_writes_left_unconfirmed_without_a_stop_are_a_failure_not_a_success():
    ending = classify(_applied(written=7, unconfirmed=3))
    assert ending.end is CycleEnd.FAILED and "3 sent but unconfirmed" in (ending.reason or "")
    assert classify(_applied(written=10)).end is CycleEnd.OK
