"""Which findings a sync may use (pure): fresh ones only, and only those that allow a
cheaper path that stays safe."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from syncd.core.findings import (
    UNDETERMINED,
    Finding,
    ProbeReport,
    carry_forward,
    report_from_dict,
    report_to_dict,
)
from syncd.core.store_hints import MAX_VERIFY_WAIT_S, VERIFY_MARGIN_S, hints_from, without_catalog

NOW = datetime(2026, 12, 6, 12, tzinfo=UTC)
MONTH = timedelta(days=30)


def report(*findings: Finding, age: timedelta = timedelta(days=1)) -> ProbeReport:
    return ProbeReport("shop", NOW - age, 12, findings)


class TestHintsFrom:
    def test_no_report_allows_nothing(self) -> None:
        hints = hints_from(None, now=NOW, max_age=MONTH)
        assert not hints.fresh and hints.taken_at is None and hints.used == ()

    def test_a_report_past_its_age_allows_nothing_but_says_when_it_was_taken(self) -> None:
        old = report(Finding("catalog", "v1", "e"), Finding("numeric_bound", "string_only", "e"),
                     age=MONTH + timedelta(seconds=1))
        hints = hints_from(old, now=NOW, max_age=MONTH)
        assert not hints.fresh and hints.catalog is None and not hints.bound_as_string
        assert hints.used == () and hints.age_days(NOW) == 30.0

    @pytest.mark.parametrize(("reading", "as_string"), [
        ("string_only", True), ("string_only_number_refused", True),
        ("number_only", False), ("number_or_string", False), (UNDETERMINED, False)])
    def test_only_a_string_only_bound_changes_the_bound_type(self, reading: str,
                                                             as_string: bool) -> None:
        hints = hints_from(report(Finding("numeric_bound", reading, "e")), now=NOW,
                           max_age=MONTH)
        assert hints.bound_as_string is as_string
        assert [u.point for u in hints.used] == (["numeric_bound"] if as_string else [])

    @pytest.mark.parametrize(("seconds", "wait_s"), [
        (2.0, 2.0 + VERIFY_MARGIN_S), (600.0, MAX_VERIFY_WAIT_S), (0.0, 0.0)])
    def test_a_measured_read_lag_delays_the_verifying_read(self, seconds: float,
                                                           wait_s: float) -> None:
        hints = hints_from(report(Finding("read_lag", "lag", "e", {"seconds": seconds})),
                           now=NOW, max_age=MONTH)
        assert hints.verify_after_s == wait_s

    def test_no_lag_measured_waits_for_nothing(self) -> None:
        hints = hints_from(report(Finding("read_lag", "none", "e", {"seconds": 0.0})),
                           now=NOW, max_age=MONTH)
        assert hints.verify_after_s == 0.0 and hints.used == ()

    def test_a_contradicted_catalog_is_dropped_from_the_report(self) -> None:
        probed = report(Finding("catalog", "v3", "e"), Finding("auth_status", "401", "e"))
        dropped = without_catalog(probed, "answered a v3 walk with HTTP 428")
        assert dropped.reading("catalog") == UNDETERMINED
        assert dropped.reading("auth_status") == "401"
        assert hints_from(dropped, now=NOW, max_age=MONTH).catalog is None

    def test_a_finding_older_than_max_age_is_not_used_even_in_a_new_report(self) -> None:
        old_lag = Finding("read_lag", "lag", "e", {"seconds": 2.0},
                          at=NOW - MONTH - timedelta(days=1))
        old_bound = Finding("numeric_bound", "string_only", "e",
                            at=NOW - MONTH - timedelta(days=1))
        hints = hints_from(report(old_lag, old_bound, Finding("catalog", "v1", "e")),
                           now=NOW, max_age=MONTH)
        assert hints.fresh and hints.catalog == "v1"
        assert hints.verify_after_s == 0.0 and not hints.bound_as_string
        assert [u.point for u in hints.used] == ["catalog"]


class TestCarryForward:
    WRITE_TEST_AT = NOW - timedelta(days=3)

    def measured(self) -> ProbeReport:
        return ProbeReport("shop", self.WRITE_TEST_AT, 40, (
            Finding("catalog", "v1", "e"),
            Finding("read_lag", "lag", "write test", {"seconds": 2.0}),
            Finding("empty_answer_applied", "ignored", "write test")))

    def read_only(self, *, catalog: str = "v1") -> ProbeReport:
        return ProbeReport("shop", NOW, 12, (
            Finding("catalog", catalog, "e"),
            Finding("read_lag", UNDETERMINED, "measured only by a write test"),
            Finding("empty_answer_applied", UNDETERMINED, "measured only by a write test")))

    def test_a_read_only_probe_keeps_the_write_tests_findings_with_their_date(self) -> None:
        kept = carry_forward(self.read_only(), self.measured())
        lag = kept.finding("read_lag")
        assert lag is not None and lag.reading == "lag" and lag.at == self.WRITE_TEST_AT
        assert lag.measured == {"seconds": 2.0}
        assert kept.reading("empty_answer_applied") == "ignored"
        assert kept.taken_at == NOW and kept.finding("catalog").at == NOW  # type: ignore[union-attr]
        assert hints_from(kept, now=NOW, max_age=MONTH).verify_after_s == 2.0 + VERIFY_MARGIN_S

    def test_a_newer_determined_finding_replaces_the_stored_one(self) -> None:
        newer = ProbeReport("shop", NOW, 40, (Finding("catalog", "v1", "e"),
                                              Finding("read_lag", "none", "again")))
        kept = carry_forward(newer, self.measured())
        lag = kept.finding("read_lag")
        assert lag is not None and lag.reading == "none" and lag.at == NOW

    def test_a_carried_finding_ages_out_by_its_own_date(self) -> None:
        kept = carry_forward(self.read_only(), self.measured())
        later = self.WRITE_TEST_AT + MONTH + timedelta(hours=1)
        assert kept.fresh(later, MONTH)
        assert hints_from(kept, now=later, max_age=MONTH).verify_after_s == 0.0

    def test_nothing_is_carried_across_a_catalog_upgrade(self) -> None:
        kept = carry_forward(self.read_only(catalog="v3"), self.measured())
        assert kept.reading("read_lag") == UNDETERMINED

    def test_a_carried_finding_keeps_its_date_through_the_stored_form(self) -> None:
        kept = carry_forward(self.read_only(), self.measured())
        assert report_from_dict(report_to_dict(kept)) == kept
        data = report_to_dict(kept)
        for item in data["findings"]:  # type: ignore[attr-defined]
            del item["at"]  # as stored before findings had their own date
        assert all(f.at == NOW for f in report_from_dict(data).findings)
