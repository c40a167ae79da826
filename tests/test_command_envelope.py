"""Every command with ``--output json`` prints one object of one shape, and a site that
fails is reported the same way whichever command ran into it: real processes against an
emulated store."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from support.sync import API_KEY, run_syncd, write_config
from syncd.frontends.commands.common import ExitCode

REPO = Path(__file__).resolve().parents[1]
STOCK = REPO / "config" / "stock.example.csv"


def _envelope(out: str, code: int, command: str) -> dict[str, Any]:
    """The one JSON object on stdout, checked for the shape every command shares."""
    doc = json.loads(out)  # exactly one object: anything else on stdout fails to parse
    assert isinstance(doc, dict)
    assert doc["command"] == command
    assert doc["exit_code"] == code
    assert isinstance(doc["outcome"], str) and "reason" in doc
    assert doc["sites"], "every site is listed"
    for site in doc["sites"]:
        assert {"site", "outcome", "reason"} <= site.keys()
    return doc


@pytest.fixture
async def synced(emulator, tmp_path: Path) -> Path:
    """The demo store, synced once (so the journal holds a run), and its config."""
    emu = await emulator(catalog="v1", api_key=API_KEY, rate_limit=None)
    config = write_config(tmp_path, url=emu.url, source=STOCK)
    code, _, err = await run_syncd("sync", "--force", "--config", str(config))
    assert code == ExitCode.OK, err
    return config


async def _run_id(config: Path) -> str:
    code, out, err = await run_syncd("journal", "--config", str(config), "--output", "json")
    assert code == ExitCode.OK, err
    return str(json.loads(out)["sites"][0]["runs"][0]["run_id"])


@pytest.mark.parametrize(("command", "args", "expected", "fields"), [
    ("explain", ["explain", "TSHIRT-RED-M"], ExitCode.OK, {"sku", "will_write", "variants"}),
    ("lint", ["lint"], ExitCode.OK, {"api_calls", "catalog", "findings"}),
    ("rollback", ["rollback", "--dry-run"], ExitCode.PENDING,
     {"run_id", "dry_run", "counts", "changes", "drifted", "missing", "account"}),
    ("rollback", ["rollback", "--list"], ExitCode.OK, {"where", "runs"}),
    ("validate", ["validate"], ExitCode.OK, {"sources", "run_state"}),
    ("journal", ["journal"], ExitCode.OK, {"where", "unreadable_lines", "runs"}),
    ("journal", ["journal", "--pending"], ExitCode.OK, {"where", "writes"}),
])
async def test_each_command_prints_one_object_with_command_outcome_exit_code_and_sites(
        synced, command, args, expected, fields):
    code, out, err = await run_syncd(*args, "--config", str(synced), "--output", "json")
    assert code == expected, err
    doc = _envelope(out, code, command)
    [site] = doc["sites"]
    assert site["site"] == "shop"
    assert fields <= site.keys(), f"{command} keeps its fields in the site's entry"


async def test_journal_of_one_run_and_a_dry_rollback_agree_on_the_run(synced):
    run_id = await _run_id(synced)
    code, out, _ = await run_syncd("journal", "--run", run_id, "--config", str(synced),
                                   "--output", "json")
    [site] = _envelope(out, code, "journal")["sites"]
    assert site["run"]["run_id"] == run_id and site["outcome"] == "ok"
    code, out, _ = await run_syncd("rollback", "--dry-run", "--config", str(synced),
                                   "--output", "json")
    doc = _envelope(out, code, "rollback")
    [site] = doc["sites"]
    assert doc["outcome"] == site["outcome"] == "pending"
    assert site["run_id"] == run_id and site["account"] is None
    assert site["counts"]["restore"] == len(site["changes"]) == len(
        [w for w in json.loads((await run_syncd(
            "journal", "--run", run_id, "--config", str(synced), "--output", "json"))[1]
        )["sites"][0]["writes"] if w["outcome"] == "applied"])


async def test_a_run_no_site_holds_is_a_failed_journal_with_the_reason(synced):
    code, out, _ = await run_syncd("journal", "--run", "20000101T000000Z-nosuch",
                                     "--config", str(synced), "--output", "json")
    assert code == ExitCode.FAILED
    doc = _envelope(out, code, "journal")
    assert doc["outcome"] == "failed" and "20000101T000000Z-nosuch" in doc["reason"]
    assert [s["outcome"] for s in doc["sites"]] == ["failed"]


# -- one site fails, the other does not ----------------------------------------------------

def _two_sites(config: Path, *, broken_source: Path) -> None:
    """Add a site ``broken`` (another store id on the same server) reading
    ``broken_source``."""
    doc = yaml.safe_load(config.read_text())
    shop = doc["sites"][0]
    doc["sites"].append({**shop, "name": "broken", "site_id": "another-site",
                         "source": {"path": str(broken_source)}})
    config.write_text(yaml.safe_dump(doc))


@pytest.mark.parametrize("args", [["explain", "TSHIRT-RED-M"], ["lint"], ["validate"]],
                         ids=["explain", "lint", "validate"])
async def test_a_site_whose_source_is_missing_is_reported_the_same_way_by_each_command(
        synced, tmp_path, args):
    _two_sites(synced, broken_source=tmp_path / "nowhere.csv")
    code, out, err = await run_syncd(*args, "--config", str(synced), "--output", "json")
    assert code == ExitCode.FAILED, err
    doc = _envelope(out, code, args[0])
    sites = {s["site"]: s for s in doc["sites"]}
    broken = sites["broken"]
    assert broken["outcome"] == "invalid_source"
    assert "no such file" in broken["reason"] and broken["invalid_rows"] == []
    assert sites["shop"]["outcome"] not in ("failed", "invalid_source")
    assert doc["outcome"] == "failed" and doc["reason"] == broken["reason"]


@pytest.mark.parametrize("args", [["explain", "TSHIRT-RED-M"], ["lint"]],
                         ids=["explain", "lint"])
async def test_in_text_a_failing_site_is_one_stderr_line_and_the_others_still_run(
        synced, tmp_path, args):
    _two_sites(synced, broken_source=tmp_path / "nowhere.csv")
    code, out, err = await run_syncd(*args, "--config", str(synced))
    assert code == ExitCode.FAILED
    assert "site shop" in out, "the healthy site is still reported"
    [line] = [x for x in err.splitlines() if x.startswith("syncd: site broken: ")]
    assert "no such file" in line


async def test_a_site_with_nothing_to_roll_back_fails_alone(synced, tmp_path):
    _two_sites(synced, broken_source=STOCK)
    code, out, err = await run_syncd("rollback", "--dry-run", "--config", str(synced),
                                     "--output", "json")
    assert code == ExitCode.FAILED, err
    sites = {s["site"]: s for s in _envelope(out, code, "rollback")["sites"]}
    assert sites["broken"]["outcome"] == "failed"
    assert "no applied write" in sites["broken"]["reason"]
    assert sites["shop"]["outcome"] == "pending"
