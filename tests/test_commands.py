"""The plan, sync and demo commands as users run them: real processes, exit codes, output."""

from __future__ import annotations

import json
from pathlib import Path

from support.sync import API_KEY, drifted_source, write_config
from support.sync import run_syncd as _syncd

REPO = Path(__file__).resolve().parents[1]


async def _demo_setup(emulator, tmp_path, **policy):
    emu = await emulator(catalog="v1", api_key=API_KEY, rate_limit=None)
    config = write_config(tmp_path, url=emu.url, source=REPO / "config" / "stock.example.csv",
                          policy=policy or None)
    return emu, config


async def test_demo_store_sync_then_plan_exits_zero_with_no_writes(emulator, tmp_path):
    emu, config = await _demo_setup(emulator, tmp_path)
    code, out, err = await _syncd("plan", "--config", str(config))
    assert code == 2, err
    assert "TSHIRT-RED-M" in out and "->" in out
    code, out, err = await _syncd("sync", "--config", str(config))
    assert code == 0, err
    assert "0 failed" in out
    writes = emu.stats()["writes"]
    code, out, err = await _syncd("plan", "--config", str(config))
    assert code == 0, err
    assert "No changes" in out
    code, out, err = await _syncd("sync", "--config", str(config))
    assert code == 0, err
    assert emu.stats()["writes"] == writes, "a second sync must write nothing"


async def test_plan_json_lists_every_change_and_the_ambiguous_sku(emulator, tmp_path):
    _, config = await _demo_setup(emulator, tmp_path)
    code, out, _ = await _syncd("plan", "--config", str(config), "--output", "json")
    assert code == 2
    run = json.loads(out)
    assert run["outcome"] == "pending" and run["exit_code"] == 2
    [site] = run["sites"]
    doc = site["plan"]
    assert doc["counts"]["changes"] == len(doc["changes"]) > 0
    assert {a["sku"] for a in doc["ambiguous_skus"]} == {"TSHIRT-VINTAGE-L"}
    change = doc["changes"][0]
    assert {"sku", "before", "after", "reason", "product_id"} <= change.keys()


async def test_sync_refused_by_a_guard_exits_3_and_writes_nothing(emulator, tmp_path):
    emu, config = await _demo_setup(emulator, tmp_path, max_changed_fraction=0.01)
    code, _, err = await _syncd("sync", "--config", str(config))
    assert code == 3
    assert "max_changed_fraction" in err and "--force" in err
    assert emu.stats()["writes"]["calls"] == 0
    code, _, err = await _syncd("sync", "--config", str(config), "--force")
    assert code == 0, err
    assert emu.stats()["writes"]["calls"] > 0


async def test_sync_with_bad_rows_names_file_line_and_field(emulator, tmp_path):
    emu = await emulator(catalog="v1", api_key=API_KEY, rate_limit=None)
    source = tmp_path / "stock.csv"
    source.write_text("sku,quantity\nTSHIRT-RED-M,7\nMUG-CLASSIC,many\n")
    config = write_config(tmp_path, url=emu.url, source=source)
    code, _, err = await _syncd("sync", "--config", str(config))
    assert code == 1
    assert f"{source}:3: quantity:" in err
    assert emu.stats()["requests_total"] == 0


async def test_wrong_api_key_is_reported_without_revealing_it(emulator, tmp_path):
    emu = await emulator(catalog="v1", api_key=API_KEY, rate_limit=None)
    source = tmp_path / "stock.csv"
    drifted_source(emu.state(), source, drift=0)
    config = write_config(tmp_path, url=emu.url, source=source)
    code, out, err = await _syncd("sync", "--config", str(config), key="wrong-key-123456")
    assert code == 1
    assert "401" in err or "auth" in err.lower()
    assert "wrong-key-123456" not in out + err


async def test_demo_command_runs_the_main_job_and_succeeds():
    code, out, err = await _syncd("demo")
    assert code == 0, err
    assert "demo succeeded" in out
    assert out.count("No changes") == 1
