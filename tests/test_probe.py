"""``syncd probe`` (a subprocess, as a user runs it) against the emulator playing each reading.

For every ``--wix-variants`` switch a read-only probe can observe, the probe reports the
switch's reading with the switch on and the default reading with it off: the probe and the
emulator agree point by point. Every run stays within the budget the probe states, counted
by the emulator itself. The switches a read-only probe cannot see are listed in README.md.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from support.sync import API_KEY, run_syncd, write_config
from syncd.core.findings import POINTS, UNDETERMINED
from syncd.edges.wix.probe_ask import PROBE_BUDGET
from syncd_emulator.variants import WixVariants

PRODUCTS = 250
"""Over two pages, with a few hidden products (the generator hides about one in twenty)."""

V1_DEFAULTS = {
    "catalog": "v1",
    "json_defaults": "present", "v1_page_length": "full", "total_results": "counts_hidden",
    "numeric_bound": "number_or_string", "offset_cap": "10000", "variant_stock": "in_variants",
    "unmanaged_options": "none_seen", "unknown_fields": "ignored", "metadata_items": "count",
    "inventory_hidden": "listed", "auth_status": "401", "page_limit": "refused",
}
V3_DEFAULTS = {
    "catalog": "v3",
    "json_defaults": "present", "catalog_mismatch_status": "428",
    "cursor_last_page": "no_cursor", "cursor_expiry": "lasts", "unknown_fields": "ignored",
    "auth_status": "401", "page_limit": "refused",
}

SWITCHES: dict[str, tuple[str, str, str]] = {
    # switch: (catalog, point, the reading the probe must report with the switch on)
    "sparse_json": ("v1", "json_defaults", "omitted"),
    "short_pages": ("v1", "v1_page_length", "short"),
    "visible_totals": ("v1", "total_results", "visible_only"),
    "strict_numeric_bound": ("v1", "numeric_bound", "number_only"),
    "numeric_bound_string_only": ("v1", "numeric_bound", "string_only"),
    "numeric_bound_type_refused": ("v1", "numeric_bound", "string_only_number_refused"),
    "low_offset_cap": ("v1", "offset_cap", "lower"),
    "no_variant_stock": ("v1", "variant_stock", "absent"),
    "unmanaged_options": ("v1", "unmanaged_options", "seen"),
    "strict_fields": ("v1", "unknown_fields", "refused"),
    "items_echo_limit": ("v1", "metadata_items", "echo_limit"),
    "inventory_hides_hidden": ("v1", "inventory_hidden", "left_out"),
    "auth_403": ("v1", "auth_status", "403"),
    "mismatch_status": ("v3", "catalog_mismatch_status", "404"),
    "cursor_on_last_page": ("v3", "cursor_last_page", "cursor_to_empty_page"),
    "expiring_cursor": ("v3", "cursor_expiry", "expires"),
}

UNSEEN = {
    "whole_bulk_errors", "bulk_results_unordered", "read_lag", "applied_5xx", "ignored_writes",
    "rate_per_key", "retry_after_ms", "retry_after_huge", "text_429",
}
"""Switches a read-only probe cannot provoke: writes (the write test's) and 429s (what a
429 met anyway shows: tests/test_probe_429.py)."""


async def probe(emulator: Any, tmp_path: Path, *, catalog: str,
                variants: str = "") -> tuple[dict[str, Any], int]:
    """Run ``syncd probe --output json`` on a fresh emulated store: the site's probe
    report and the requests the emulator counted."""
    emu = await emulator(catalog=catalog, generate_products=PRODUCTS, api_key=API_KEY,
                         variants=WixVariants.parse(variants))
    source = tmp_path / "stock.csv"
    source.write_text("sku,quantity\n")
    config = write_config(tmp_path, url=emu.url, source=source)
    code, out, err = await run_syncd("probe", "--config", str(config), "--output", "json")
    assert code == 0, err
    assert API_KEY not in out + err  # the evidence names requests, never the key
    document = json.loads(out)
    assert document["command"] == "probe" and document["outcome"] == "ok"
    report = document["sites"][0]["probe"]
    assert report["budget"] == PROBE_BUDGET
    return report, int(emu.stats()["requests_total"])


def readings(report: dict[str, Any]) -> dict[str, str]:
    return {f["point"]: f["reading"] for f in report["findings"]}


async def test_probe_help_states_the_budget_and_what_is_stored() -> None:
    code, out, _err = await run_syncd("probe", "--help")
    assert code == 0
    assert f"At most {PROBE_BUDGET} requests per site" in out
    assert "probe.max_age_days" in out and "--output" in out


@pytest.mark.parametrize("switch", sorted(UNSEEN))
async def test_a_probe_stays_within_its_budget_under_switches_it_cannot_see(
        emulator: Any, tmp_path: Path, switch: str) -> None:
    """What a read-only probe cannot see stays undetermined, within the stated budget."""
    report, calls = await probe(emulator, tmp_path, catalog="v1", variants=switch)
    assert report["calls"] == calls <= PROBE_BUDGET
    assert readings(report)["rate_budget"] == UNDETERMINED


async def test_the_text_summary_is_one_screen_naming_each_point(
        emulator: Any, tmp_path: Path) -> None:
    emu = await emulator(catalog="v1", generate_products=PRODUCTS, api_key=API_KEY)
    source = tmp_path / "stock.csv"
    source.write_text("sku,quantity\n")
    config = write_config(tmp_path, url=emu.url, source=source)
    code, out, err = await run_syncd("probe", "--config", str(config))
    assert code == 0, err
    lines = out.splitlines()
    assert len(lines) <= 30 and all(len(line) <= 140 for line in lines)
    assert lines[0].startswith("site shop: probed ") and f"of at most {PROBE_BUDGET}" in lines[0]
    assert any(line.split()[:2] == ["numeric_bound", "number_or_string"] for line in lines)
    assert "syncd uses these findings for 30 days" in lines[-1]


def test_every_switch_is_listed_as_seen_or_unseen() -> None:
    """The table of this file covers every switch the emulator has."""
    assert set(SWITCHES) | UNSEEN == set(WixVariants().__dataclass_fields__)


@pytest.mark.parametrize(("catalog", "defaults"), [("v1", V1_DEFAULTS), ("v3", V3_DEFAULTS)])
async def test_a_probe_of_the_default_emulator_reports_every_default_reading(
        emulator: Any, tmp_path: Path, catalog: str, defaults: dict[str, str]) -> None:
    """With no switch on, every point the probe can see reads as the emulator plays it, and
    every point it reports carries evidence."""
    report, calls = await probe(emulator, tmp_path, catalog=catalog)
    assert {p: readings(report)[p] for p in defaults} == defaults
    assert set(readings(report)) == set(POINTS)
    assert all(f["evidence"] for f in report["findings"])
    assert report["calls"] == calls <= PROBE_BUDGET


@pytest.mark.parametrize("switch", sorted(SWITCHES))
async def test_a_probe_reports_the_reading_each_switch_plays(
        emulator: Any, tmp_path: Path, switch: str) -> None:
    """The switch's point reads as the switch plays it, within the stated budget."""
    catalog, point, reading = SWITCHES[switch]
    report, calls = await probe(emulator, tmp_path, catalog=catalog, variants=switch)
    assert readings(report)[point] == reading, next(
        f["evidence"] for f in report["findings"] if f["point"] == point)
    assert calls <= PROBE_BUDGET


@pytest.mark.parametrize("catalog", ["v1", "v3"])
async def test_a_probe_stays_within_its_budget_with_every_switch_on(
        emulator: Any, tmp_path: Path, catalog: str) -> None:
    """Under ``all`` (every reading at once) the emulator counts no more requests than the
    budget the probe states, and no 429 (the rate limit is never exceeded)."""
    report, calls = await probe(emulator, tmp_path, catalog=catalog, variants="all")
    assert report["calls"] == calls <= PROBE_BUDGET
    assert all(f["reading"] == UNDETERMINED for f in report["findings"]
               if f["point"] in ("rate_budget", "retry_after_unit", "error_body"))


def test_the_readme_says_how_the_probe_sees_every_switch() -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("What the probe sees of each switch", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    for name in set(SWITCHES) | UNSEEN:
        assert any(f"`{name}`" in row.split("|")[1] for row in rows), name


async def test_a_refused_version_call_falls_back_to_the_configured_catalog(
        emulator: Any, tmp_path: Path) -> None:
    """A key without the catalog-version permission (403 there, as some keys answer): the
    probe asks the questions of the catalog the configuration names, and leaves the
    catalog itself undetermined."""
    import aiohttp
    from aiohttp import web

    emu = await emulator(catalog="v1", generate_products=PRODUCTS, api_key=API_KEY)

    async def forward(request: web.Request) -> web.Response:
        if request.path == "/stores/v3/provision/version":
            return web.json_response({"message": "no permission"}, status=403)
        async with aiohttp.ClientSession() as session, session.request(
                request.method, emu.url + request.path_qs, data=await request.read(),
                headers={k: v for k, v in request.headers.items()
                         if k.lower() not in ("host", "content-length")}) as answer:
            return web.Response(body=await answer.read(), status=answer.status,
                                content_type="application/json")

    app = web.Application()
    app.router.add_route("*", "/{path:.*}", forward)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = runner.addresses[0][1]
        source = tmp_path / "stock.csv"
        source.write_text("sku,quantity\n")
        config = write_config(tmp_path, url=f"http://127.0.0.1:{port}", source=source,
                              catalog="v1")
        code, out, err = await run_syncd("probe", "--config", str(config), "--output", "json")
    finally:
        await runner.cleanup()
    assert code == 0, err
    found = readings(json.loads(out)["sites"][0]["probe"])
    assert found["catalog"] == UNDETERMINED
    assert found["numeric_bound"] == "number_or_string"
    assert found["total_results"] == "counts_hidden"
