"""What a 429 shows (``Retry-After``'s unit, the error body's kind), kept by ``syncd probe``
and by a sync that meets one, against the emulator playing each 429 switch.

The probe never exceeds the rate limit to provoke a 429: each test spends the emulator's
window itself, so the first request meets one, then frees the window once that 429 was
sent, so the run goes on.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from support.sync import API_KEY, load_site, run_syncd, write_config
from syncd.core.answer429 import Answer429, findings_429, retry_after_unit, with_429_findings
from syncd.core.findings import POINTS, UNDETERMINED, Finding, ProbeReport
from syncd.cycle.probe import probe_site
from syncd.cycle.sync import SiteSync
from syncd.cycle.wiring import open_site_syncs
from syncd.edges.config import Settings
from syncd.edges.wix.keywatch import KeyWatch, Together
from syncd.edges.wix.probe_ask import PROBE_BUDGET
from syncd_emulator import EmulatorConfig, serve
from syncd_emulator.ratelimit import SlidingWindowLimiter
from syncd_emulator.variants import RETRY_AFTER_HUGE_S, WixVariants

PRODUCTS = 30

PLAYED: dict[str, tuple[str, str, str]] = {
    # switch (or none): (point, reading, what the evidence quotes)
    "retry_after_ms": ("retry_after_unit", "milliseconds", "Retry-After: "),
    "retry_after_huge": ("retry_after_unit", "huge", f"Retry-After: {RETRY_AFTER_HUGE_S}"),
    "text_429": ("error_body", "text", "not JSON"),
}


def spend_window(emu: Any) -> None:
    """Use up the emulator's window for the site and for the key (``rate_per_key``)."""
    for key in {emu.config.site_id, API_KEY}:
        while emu.emulator.limiter.allow(key):
            pass


async def free_after_first_429(emu: Any) -> None:
    """Give the window back as soon as the emulator has answered one 429."""
    while emu.emulator.stats.rate_limited == 0:  # noqa: ASYNC110 - emulator counters
        await asyncio.sleep(0.01)
    emu.emulator.limiter.reset()


async def start(emulator: Any, tmp_path: Path, variants: str = "",
                retry_after_s: float | None = None) -> tuple[Any, Path]:
    emu = await emulator(catalog="v1", generate_products=PRODUCTS, api_key=API_KEY,
                         variants=WixVariants.parse(variants), retry_after_s=retry_after_s)
    source = tmp_path / "stock.csv"
    source.write_text("sku,quantity\n")
    return emu, write_config(tmp_path, url=emu.url, source=source, catalog="v1")


async def probe(config: Path) -> dict[str, Any]:
    code, out, err = await run_syncd("probe", "--config", str(config), "--output", "json")
    assert code == 0, err
    assert API_KEY not in out + err
    report: dict[str, Any] = json.loads(out)["sites"][0]["probe"]
    return report


async def probe_meeting_a_429(emulator: Any, tmp_path: Path, variants: str = "",
                              retry_after_s: float | None = None) -> tuple[dict[str, Any], int]:
    """The probe report of a run whose first request meets a 429, and the requests the
    emulator counted."""
    emu, config = await start(emulator, tmp_path, variants, retry_after_s)
    spend_window(emu)
    freeing = asyncio.create_task(free_after_first_429(emu))
    report = await probe(config)
    freeing.cancel()
    assert emu.emulator.stats.rate_limited >= 1
    return report, int(emu.stats()["requests_total"])


def finding(report: dict[str, Any], point: str) -> dict[str, Any]:
    return next(f for f in report["findings"] if f["point"] == point)


@pytest.mark.parametrize("switch", sorted(PLAYED))
async def test_a_probe_meeting_a_429_reports_the_shape_each_switch_plays(
        emulator: Any, tmp_path: Path, switch: str) -> None:
    point, reading, quoted = PLAYED[switch]
    report, calls = await probe_meeting_a_429(emulator, tmp_path, switch)
    found = finding(report, point)
    assert found["reading"] == reading, found["evidence"]
    assert quoted in found["evidence"]
    assert "seen in a 429 answer to GET /stores/v3/provision/version during this probe" \
        in found["evidence"]
    assert report["calls"] == calls <= PROBE_BUDGET


async def test_the_text_summary_names_the_429_answer_once(
        emulator: Any, tmp_path: Path) -> None:
    emu, config = await start(emulator, tmp_path, "retry_after_huge,text_429")
    spend_window(emu)
    freeing = asyncio.create_task(free_after_first_429(emu))
    code, out, err = await run_syncd("probe", "--config", str(config))
    freeing.cancel()
    assert code == 0, err
    lines = out.splitlines()
    assert all(len(line) <= 140 for line in lines)
    unit = next(line for line in lines if line.split()[:1] == ["retry_after_unit"])
    assert unit.split()[1] == "huge" and f"Retry-After: {RETRY_AFTER_HUGE_S} (" in unit
    body = next(line for line in lines if line.split()[:1] == ["error_body"])
    assert body.split()[1] == "text"
    seen = [line for line in lines if line.startswith("  429: ")]
    assert len(seen) == 1
    assert seen[0].startswith("  429: seen in a 429 answer to GET /stores/v3/provision/version "
                              "during this probe at ")


async def test_a_probe_meeting_a_plain_429_reports_seconds_and_json(
        emulator: Any, tmp_path: Path) -> None:
    """The switches off, a 429 with ``Retry-After: 1`` and Wix's JSON body."""
    report, calls = await probe_meeting_a_429(emulator, tmp_path, retry_after_s=1)
    assert finding(report, "retry_after_unit")["reading"] == "seconds"
    assert "Retry-After: 1 (1 s, a plausible wait; syncd waited 1 s)" in finding(
        report, "retry_after_unit")["evidence"]
    assert finding(report, "error_body")["reading"] == "json"
    assert report["calls"] == calls <= PROBE_BUDGET


async def test_one_sites_429_leaves_the_rate_budget_undetermined_even_per_key(
        emulator: Any, tmp_path: Path) -> None:
    """Under ``rate_per_key`` one site's 429 looks like any other: nothing tells the key's
    budget from the site's, so the probe says so instead of guessing."""
    report, calls = await probe_meeting_a_429(emulator, tmp_path, "rate_per_key")
    budget = finding(report, "rate_budget")
    assert budget["reading"] == UNDETERMINED
    assert "does not show whether the site's or the API key's budget" in budget["evidence"]
    assert calls <= PROBE_BUDGET


async def test_a_probe_meeting_no_429_says_none_came(emulator: Any, tmp_path: Path) -> None:
    _emu, config = await start(emulator, tmp_path, "retry_after_huge,text_429")
    report = await probe(config)
    for point in ("rate_budget", "retry_after_unit", "error_body"):
        assert finding(report, point)["reading"] == UNDETERMINED
        assert "none came during this probe" in finding(report, point)["evidence"]


async def test_a_sync_meeting_a_429_keeps_its_shape_and_leaves_the_other_findings(
        emulator: Any, tmp_path: Path) -> None:
    """A 429 met during an ordinary sync updates the stored 429 points, dated and named by
    the run; the next probe that meets none says so, the sync's evidence having been
    shown in between."""
    emu, config = await start(emulator, tmp_path, "retry_after_huge,text_429")
    stored = await probe(config)  # no 429: the stored findings to keep
    row = next(r for r in emu.state() if r["sku"] and r["tracked"])
    (tmp_path / "stock.csv").write_text(f"sku,quantity\n{row['sku']},{row['quantity']}\n")
    settings, site = load_site(config)
    spend_window(emu)
    freeing = asyncio.create_task(free_after_first_429(emu))
    async with SiteSync(site, state_dir=settings.state_dir) as sync:
        result = await sync.sync(dry_run=True)
        kept = await sync.backend.read_probe(site.name)
    freeing.cancel()
    assert emu.emulator.stats.rate_limited >= 1
    assert kept is not None
    assert kept.reading("retry_after_unit") == "huge"
    assert kept.reading("error_body") == "text"
    evidence = kept.finding("retry_after_unit")
    assert evidence is not None
    assert evidence.evidence.startswith(f"Retry-After: {RETRY_AFTER_HUGE_S} (")
    assert f"/v1/products/query during sync {result.run_id} at " in evidence.evidence
    untouched = {f["point"]: (f["reading"], f["evidence"]) for f in stored["findings"]
                 if f["point"] not in ("rate_budget", "retry_after_unit", "error_body")}
    assert {f.point: (f.reading, f.evidence) for f in kept.findings
            if f.point in untouched} == untouched
    assert kept.taken_at.isoformat() == stored["taken_at"]


def answer(retry_after: str | None, *, waited_s: float | None = None,
           body: str = "json") -> Answer429:
    return Answer429("POST /stores/v1/products/query", datetime(2026, 5, 1, 12, 0, tzinfo=UTC),
                     retry_after, waited_s, body, 60.0, 120.0)


@pytest.mark.parametrize(("sent", "waited_s", "reading"), [
    ("2", 2.0, "seconds"), ("90", 90.0, "seconds"), ("59000", None, "milliseconds"),
    ("86400", None, "huge"), ("3600000", None, "huge"), (None, None, UNDETERMINED),
    ("soon", None, UNDETERMINED), ("-1", None, UNDETERMINED),
    ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0, "seconds"),
    ("Wed, 21 Oct 2999 07:28:00 GMT", None, "huge"),
])
def test_retry_after_reads_as_a_unit_by_what_waits_are_plausible(
        sent: str | None, waited_s: float | None, reading: str) -> None:
    assert retry_after_unit(answer(sent, waited_s=waited_s))[0] == reading


def test_the_evidence_says_where_when_and_what_syncd_made_of_it() -> None:
    unit = findings_429(answer("86400"), during="sync 20260501T120000Z-ab")[1]
    assert unit.evidence == (
        "Retry-After: 86400 (86400 s, longer than any wait for a 60 s window; syncd set it "
        "aside and waited its own schedule); seen in a 429 answer to POST "
        "/stores/v1/products/query during sync 20260501T120000Z-ab at 2026-05-01 12:00:00 UTC")


def test_an_empty_body_shows_neither_kind() -> None:
    assert findings_429(answer(None, body="empty"), during="this probe")[2].reading \
        == UNDETERMINED


def test_a_429_replaces_only_the_points_it_shows_of_a_stored_report() -> None:
    stored = ProbeReport("shop", datetime(2026, 4, 1, tzinfo=UTC), 17, tuple(
        Finding(p, "per_key" if p == "rate_budget" else UNDETERMINED, "before")
        for p in POINTS))
    met = answer("86400", body="text")
    kept = with_429_findings(stored, "shop", met, during="this probe")
    assert kept.taken_at == stored.taken_at and kept.calls == 17
    assert [f.point for f in kept.findings] == list(POINTS)
    changed = {f.point: f for f in kept.findings if f.evidence != "before"}
    # One site's 429 cannot show the budget: the stored per_key reading stays.
    assert set(changed) == {"retry_after_unit", "error_body"}
    assert kept.reading("rate_budget") == "per_key"
    assert all(f.at == met.at for f in changed.values())
    first = with_429_findings(None, "shop", answer("86400"), during="this probe")
    assert first.reading("retry_after_unit") == "huge" and first.calls == 0
    assert first.taken_at == answer(None).at


@pytest.mark.parametrize("through_the_command", [True, False])
@pytest.mark.parametrize(("switch", "reading"), [("rate_per_key", "per_key"),
                                                 ("", UNDETERMINED)])
async def test_two_sites_of_one_key_refused_together_read_the_budget_per_key(
        tmp_path: Path, switch: str, reading: str, through_the_command: bool) -> None:
    """Two sites on one API key, probed at once while the budget is spent. Under
    ``rate_per_key`` both are refused together: the key's budget. Without it only the spent
    site is refused, which tells nothing: undetermined."""
    limiter = SlidingWindowLimiter((200, 60.0))
    configs = [EmulatorConfig(catalog="v1", site_id=f"site-{n}", api_key=API_KEY,
                              generate_products=PRODUCTS, seed=n, retry_after_s=1,
                              variants=WixVariants.parse(switch)) for n in (1, 2)]
    async with serve(configs[0], limiter=limiter) as one, \
            serve(configs[1], limiter=limiter) as two:
        source = tmp_path / "stock.csv"
        source.write_text("sku,quantity\n")
        doc = {"sites": [{"name": f"shop{n}", "site_id": f"site-{n}", "catalog": "v1",
                          "api_key_env": "WIX_API_KEY", "base_url": emu.url}
                         for n, emu in ((1, one), (2, two))],
               "source": {"path": str(source)}, "state_dir": str(tmp_path / "state")}
        path = tmp_path / "syncd.yaml"
        path.write_text(yaml.safe_dump(doc))
        for key in ("site-1", API_KEY):
            while limiter.allow(key):
                pass

        async def free_after_the_refusals() -> None:
            refused = 2 if switch else 1
            while one.emulator.stats.rate_limited + two.emulator.stats.rate_limited \
                    < refused:  # noqa: ASYNC110 - emulator counters
                await asyncio.sleep(0.01)
            limiter.reset()

        freeing = asyncio.create_task(free_after_the_refusals())
        if through_the_command:
            # ``syncd probe`` probes a configuration's sites at once.
            code, out, err = await run_syncd("probe", "--config", str(path), "--output",
                                             "json")
            assert code == 0, err
            found = [finding(site["probe"], "rate_budget")
                     for site in json.loads(out)["sites"]]
            evidence = [f["evidence"] for f in found]
            readings = [f["reading"] for f in found]
        else:
            settings = Settings.from_file(path, env={"WIX_API_KEY": API_KEY})
            async with open_site_syncs(settings) as syncs:
                both = await asyncio.gather(*(probe_site(s) for s in syncs.values()))
            evidence = [r.finding("rate_budget").evidence for r in both]  # type: ignore[union-attr]
            readings = [r.reading("rate_budget") for r in both]
        freeing.cancel()
        assert readings[0] == reading, evidence[0]
        assert one.emulator.stats.rate_limited >= 1
        if switch:
            assert "site site-2, on the same API key, was refused too" in evidence[0]
            assert readings[1] == "per_key"
        else:
            assert "no other site of the key refused with it" in evidence[0]
            assert two.emulator.stats.rate_limited == 0


def test_the_key_watch_marks_two_sites_refused_together_only_without_an_answer_between() -> None:
    at = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    watch = KeyWatch()
    watch.saw("a", refused=True, mono=0.0, at=at, window_s=60)
    watch.saw("a", refused=False, mono=1.0, at=at, window_s=60)
    watch.saw("b", refused=True, mono=2.0, at=at, window_s=60)
    assert watch.refused_with("b") is None  # a was answered after its 429
    watch.saw("a", refused=True, mono=100.0, at=at, window_s=60)
    assert watch.refused_with("a") is None  # b's 429 is a window older
    watch.saw("b", refused=True, mono=101.0, at=at, window_s=60)
    assert watch.refused_with("a") == Together("b", at)
    assert watch.refused_with("b") == Together("a", at)


def test_a_refusal_together_reads_per_key_only_within_the_window() -> None:
    plain = answer("2", waited_s=2.0)
    near = plain.at.replace(second=30)
    assert findings_429(plain, during="this probe",
                        refused_with=("site-2", near))[0].reading == "per_key"
    far = plain.at.replace(hour=13)
    assert findings_429(plain, during="this probe",
                        refused_with=("site-2", far))[0].reading == UNDETERMINED
