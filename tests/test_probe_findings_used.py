"""What a sync does with a store's probe findings: fewer calls where a finding allows a
cheaper safe path, never more; nothing from findings older than ``probe.max_age_days``;
and ``syncd plan`` says which findings it used and how old they are.

Each comparison runs the same sync twice on the same emulated store (reset in between),
once with no findings and once after ``syncd probe`` stored them, each in a state
directory of its own, and compares the requests the emulator counted for the syncs alone.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from support.sync import API_KEY, drifted_source, run_syncd, write_config
from syncd.core.findings import Finding, ProbeReport
from syncd.edges.backend.local.backend import LocalBackend
from syncd_emulator.variants import NAMES, WixVariants

PRODUCTS = 300
PROFILES = [("v1", p) for p in ("none", *NAMES, "all")] + [
    ("v3", p) for p in ("none", "cursor_on_last_page", "expiring_cursor", "all")]
STRING_BOUND = ("numeric_bound_string_only", "numeric_bound_type_refused")
"""The profiles where a finding saves a call of every walk (the bound type's lesson)."""


def config_in(directory: Path, *, url: str, source: Path,
              max_age_days: float | None = None) -> Path:
    directory.mkdir()
    config = write_config(directory, url=url, source=source)
    if max_age_days is not None:
        doc = yaml.safe_load(config.read_text())
        doc["probe"] = {"max_age_days": max_age_days}
        config.write_text(yaml.safe_dump(doc))
    return config


async def sync_calls(emu: Any, config: Path, *command: str) -> tuple[int, dict[str, Any]]:
    """Requests one ``syncd sync`` (or ``command``) sent, counted by the emulator, and its
    JSON output."""
    before = int(emu.stats()["requests_total"])
    code, out, err = await run_syncd(*(command or ("sync",)), "--config", str(config),
                                     "--output", "json")
    assert code in (0, 2), err
    return int(emu.stats()["requests_total"]) - before, json.loads(out)


async def store_findings(config: Path, *, read_lag_s: float | None = None,
                         age: timedelta | None = None) -> None:
    """``syncd probe`` on ``config``'s site; then, as a write test would, a measured read
    lag; and the report's date moved back by ``age``."""
    code, _out, err = await run_syncd("probe", "--config", str(config))
    assert code == 0, err
    backend = LocalBackend(config.parent / "state")
    report = await backend.read_probe("shop")
    assert report is not None
    if read_lag_s is not None:
        findings = tuple(f for f in report.findings if f.point != "read_lag")
        report = replace(report, findings=(*findings, Finding(
            "read_lag", "lag", "measured by a write test", {"seconds": read_lag_s})))
    if age is not None:
        report = replace(report, taken_at=report.taken_at - age)
    await backend.write_probe("shop", report)


@pytest.mark.parametrize(("catalog", "profile"), PROFILES)
async def test_a_sync_with_fresh_findings_never_costs_more_calls(
        emulator: Any, tmp_path: Path, catalog: str, profile: str) -> None:
    """Same store, same source: the sync that may use the findings sends no more requests
    than the one without, and fewer where a finding saves a lesson every walk pays."""
    emu = await emulator(catalog=catalog, generate_products=PRODUCTS, api_key=API_KEY,
                         variants=WixVariants.parse(profile))
    source = tmp_path / "stock.csv"
    drifted_source(emu.state(), source, drift=0.05)
    without = config_in(tmp_path / "without", url=emu.url, source=source)
    with_findings = config_in(tmp_path / "with", url=emu.url, source=source)
    lag = emu.config.effective_read_lag_s if "read_lag" in WixVariants.parse(
        profile).active else None
    await store_findings(with_findings, read_lag_s=lag)
    emu.reset()
    calls_without, _ = await sync_calls(emu, without)
    emu.reset()
    calls_with, result = await sync_calls(emu, with_findings)
    # The catalog finding saves the version call everywhere; the string bound and the
    # measured read lag save one more call each.
    used = [u["point"] for u in result["sites"][0]["plan"]["findings"]["used"]]
    assert "catalog" in used
    assert calls_with <= calls_without - 1
    if profile in STRING_BOUND:
        assert "numeric_bound" in used and calls_with <= calls_without - 2
    if profile == "read_lag":
        assert "read_lag" in used and calls_with <= calls_without - 2


async def test_findings_older_than_max_age_are_ignored(emulator: Any, tmp_path: Path) -> None:
    """A report one day past ``probe.max_age_days`` changes nothing: the plan says so and
    costs what a plan without findings costs; a day younger, it is used."""
    emu = await emulator(catalog="v1", generate_products=PRODUCTS, api_key=API_KEY,
                         variants=WixVariants.parse("numeric_bound_string_only"))
    source = tmp_path / "stock.csv"
    drifted_source(emu.state(), source, drift=0.05)
    none = config_in(tmp_path / "none", url=emu.url, source=source, max_age_days=10)
    old = config_in(tmp_path / "old", url=emu.url, source=source, max_age_days=10)
    young = config_in(tmp_path / "young", url=emu.url, source=source, max_age_days=10)
    await store_findings(old, age=timedelta(days=11))
    await store_findings(young, age=timedelta(days=9))
    plan = ("plan",)
    calls_none, _ = await sync_calls(emu, none, *plan)
    calls_old, old_doc = await sync_calls(emu, old, *plan)
    calls_young, young_doc = await sync_calls(emu, young, *plan)
    old_findings = old_doc["sites"][0]["plan"]["findings"]
    young_findings = young_doc["sites"][0]["plan"]["findings"]
    assert old_findings["fresh"] is False and old_findings["used"] == []
    assert old_findings["age_days"] >= 11
    assert calls_old == calls_none
    assert young_findings["fresh"] is True
    assert [u["point"] for u in young_findings["used"]] == ["catalog", "numeric_bound"]
    assert 9 <= young_findings["age_days"] < 10
    assert calls_young == calls_none - 2


async def test_plan_text_names_the_findings_it_used_and_their_age(
        emulator: Any, tmp_path: Path) -> None:
    emu = await emulator(catalog="v1", generate_products=PRODUCTS, api_key=API_KEY,
                         variants=WixVariants.parse("numeric_bound_type_refused"))
    source = tmp_path / "stock.csv"
    drifted_source(emu.state(), source, drift=0.05)
    config = config_in(tmp_path / "site", url=emu.url, source=source)
    await store_findings(config, age=timedelta(days=2))
    code, out, err = await run_syncd("plan", "--config", str(config))
    assert code == 2, err
    assert "probe findings of" in out and "2 days old) used: catalog v1: the catalog " \
        "version call is skipped; numeric_bound string_only_number_refused" in out


async def test_a_catalog_finding_the_store_contradicts_fails_one_plan_then_is_asked_again(
        emulator: Any, tmp_path: Path) -> None:
    """A V1 store whose stored finding says V3 (as if it changed since the probe): the V3
    walk is refused, that plan fails loudly and writes nothing, the finding is dropped from
    the stored report, and the next plan asks Wix and succeeds."""
    emu = await emulator(catalog="v1", generate_products=PRODUCTS, api_key=API_KEY)
    source = tmp_path / "stock.csv"
    drifted_source(emu.state(), source, drift=0.05)
    config = config_in(tmp_path / "site", url=emu.url, source=source)
    await store_findings(config)
    backend = LocalBackend(config.parent / "state")
    report = await backend.read_probe("shop")
    assert report is not None and report.reading("catalog") == "v1"
    await backend.write_probe("shop", replace(report, findings=tuple(
        replace(f, reading="v3") if f.point == "catalog" else f for f in report.findings)))
    code, _out, err = await run_syncd("plan", "--config", str(config))
    assert code == 1 and "probe_finding_contradicted" in err
    after = await backend.read_probe("shop")
    assert after is not None and after.reading("catalog") == "undetermined"
    assert "answered a v3 walk with HTTP 428" in (after.finding("catalog") or report).evidence
    code, _out, err = await run_syncd("plan", "--config", str(config))
    assert code == 2, err
    assert emu.stats()["writes"]["calls"] == 0


def test_a_stored_report_reads_back_as_written(tmp_path: Path) -> None:
    report = ProbeReport("shop", datetime(2026, 1, 2, tzinfo=UTC), 11, (
        Finding("read_lag", "lag", "e", {"seconds": 2.0}),
        Finding("auth_status", "403", "GET ... -> HTTP 403")))
    backend = LocalBackend(tmp_path / "state")
    asyncio.run(backend.write_probe("shop", report))
    assert asyncio.run(backend.read_probe("shop")) == report
    assert (tmp_path / "state" / "shop.probe.json").stat().st_mode & 0o777 == 0o600


async def test_a_wrong_bound_finding_costs_a_call_never_a_short_walk(
        emulator: Any, tmp_path: Path) -> None:
    """A store that now matches number bounds only, with a finding that says strings: the
    crawl starts with strings, learns numbers from the empty page, and reads every variant."""
    emu = await emulator(catalog="v1", generate_products=PRODUCTS, api_key=API_KEY,
                         variants=WixVariants.parse("strict_numeric_bound"))
    source = tmp_path / "stock.csv"
    drifted_source(emu.state(), source, drift=0.05)
    plain = config_in(tmp_path / "plain", url=emu.url, source=source)
    wrong = config_in(tmp_path / "wrong", url=emu.url, source=source)
    await store_findings(wrong)
    backend = LocalBackend(wrong.parent / "state")
    report = await backend.read_probe("shop")
    assert report is not None and report.reading("numeric_bound") == "number_only"
    await backend.write_probe("shop", replace(report, findings=tuple(
        replace(f, reading="string_only") if f.point == "numeric_bound" else f
        for f in report.findings)))
    calls_plain, plain_doc = await sync_calls(emu, plain, "plan")
    calls_wrong, wrong_doc = await sync_calls(emu, wrong, "plan")
    variants = len(emu.state())
    assert plain_doc["sites"][0]["plan"]["walk"]["store_variants"] == variants
    assert wrong_doc["sites"][0]["plan"]["walk"]["store_variants"] == variants
    assert calls_wrong == calls_plain  # one call more to learn, one fewer for the catalog
