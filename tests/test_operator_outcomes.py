"""What the operator is told when a run does not simply succeed: a source that matches
nothing, a refused plan, invalid rows, a wrong key, an unusable state directory, and the
one JSON object ``--output json`` always prints."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from support.sync import API_KEY, drifted_source, write_config
from support.sync import run_syncd as _syncd
from syncd.frontends.commands.common import ExitCode
from syncd_emulator.variants import WixVariants

REPO = Path(__file__).resolve().parents[1]


def _lower_cased(source: Path) -> None:
    lines = source.read_text().splitlines()
    source.write_text("\n".join([lines[0], *(line.lower() for line in lines[1:])]) + "\n")


async def test_a_source_matching_no_store_sku_is_an_error_with_a_reason(emulator, tmp_path):
    emu = await emulator(catalog="v1", api_key=API_KEY, rate_limit=None)
    source = tmp_path / "stock.csv"
    drifted_source(emu.state(), source, drift=0.1)
    _lower_cased(source)
    config = write_config(tmp_path, url=emu.url, source=source)
    code, out, err = await _syncd("sync", "--config", str(config))
    assert code == ExitCode.NO_MATCH, err
    assert "0 of" in err and "match a store variant" in err
    assert "No changes" not in out
    code, out, _ = await _syncd("plan", "--config", str(config), "--output", "json")
    assert code == ExitCode.NO_MATCH
    run = json.loads(out)
    assert run["outcome"] == "no_match" and "0 of" in run["reason"]


async def test_lower_cased_skus_are_named_as_a_case_difference_and_never_as_no_changes(
        emulator, tmp_path):
    emu = await emulator(catalog="v1", api_key=API_KEY, rate_limit=None)
    source = tmp_path / "stock.csv"
    desired = drifted_source(emu.state(), source, drift=0.1)
    _lower_cased(source)
    config = write_config(tmp_path, url=emu.url, source=source)
    first = next(iter(desired))
    for command in ("plan", "sync"):
        code, out, err = await _syncd(command, "--config", str(config))
        assert code == ExitCode.NO_MATCH, err
        assert "No changes" not in out and "already agree" not in out, \
            "exit 6 is not a sync that found nothing to do"
        assert "differ from a store SKU only in case" in err
        assert f"{first.lower()!r} (the store has {first!r})" in err, "examples are named"
        code, out, _ = await _syncd(command, "--config", str(config), "--output", "json")
        run = json.loads(out)
        assert (run["command"], run["outcome"], run["exit_code"]) == (
            command, "no_match", ExitCode.NO_MATCH)
        [site] = run["sites"]
        assert site["outcome"] == "no_match" and "only in case" in site["reason"]
    assert emu.stats()["writes"]["calls"] == 0
    code, out, err = await _syncd("sync", "--force", "--config", str(config))
    assert code == ExitCode.OK, err
    assert "Source check overridden (--force given" in out and "only in case" in out
    assert "already agree" not in out, "no variant was matched, none agrees"


async def test_a_source_that_shrank_is_refused_by_the_shrink_guard_not_taken_for_another_store(
        emulator, tmp_path):
    emu = await emulator(catalog="v1", api_key=API_KEY, rate_limit=None)
    source = tmp_path / "stock.csv"
    drifted_source(emu.state(), source, drift=0)
    config = write_config(tmp_path, url=emu.url, source=source)
    code, _, err = await _syncd("sync", "--config", str(config))
    assert code == ExitCode.OK, err
    lines = source.read_text().splitlines()
    assert len(lines) > 60
    source.write_text("\n".join(lines[:21]) + "\n")  # 20 of the rows, every one matching
    code, out, err = await _syncd("sync", "--config", str(config))
    assert code == ExitCode.REFUSED, err
    assert "max_source_shrink" in err and "the source has 20 rows" in err
    assert "right store" not in err + out and "change case" not in err + out
    code, out, err = await _syncd("sync", "--config", str(config), "--output", "json")
    run = json.loads(out)
    assert (run["outcome"], run["exit_code"]) == ("refused", ExitCode.REFUSED)
    [site] = run["sites"]
    assert [g["guard"] for g in site["guards"] if not g["passed"]] == ["max_source_shrink"]
    assert "max_source_shrink" in site["reason"] and "right store" not in site["reason"]
    assert site["plan"]["match_problem"] is None
    code, out, err = await _syncd("plan", "--config", str(config))
    assert code == ExitCode.OK, err
    assert "right store" not in err and "max_source_shrink" in out
    assert emu.stats()["writes"]["calls"] == 0


async def test_a_forced_sync_says_the_guard_was_overridden_not_that_it_would_refuse(
        emulator, tmp_path):
    emu = await emulator(catalog="v1", api_key=API_KEY, rate_limit=None)
    source = tmp_path / "stock.csv"
    drifted_source(emu.state(), source, drift=0.3)
    config = write_config(tmp_path, url=emu.url, source=source,
                          policy={"max_changed_fraction": 0.05})
    code, out, err = await _syncd("plan", "--config", str(config))
    assert code == ExitCode.PENDING, err
    assert "`syncd sync` would refuse this plan" in out
    code, out, err = await _syncd("sync", "--dry-run", "--force", "--config", str(config))
    assert code == ExitCode.PENDING, err
    assert "`syncd sync` would refuse" not in out
    assert "`syncd sync --force` would override them" in out
    assert emu.stats()["writes"]["calls"] == 0
    code, out, err = await _syncd("sync", "--force", "--config", str(config))
    assert code == ExitCode.OK, err
    assert "would refuse this plan" in out and "`syncd sync` would refuse" not in out
    assert "max_changed_fraction would refuse this plan; --force given, applying it" in out
    assert emu.stats()["writes"]["calls"] > 0
    drifted_source(emu.state(), source, drift=0.3, seed=5)
    code, out, err = await _syncd("sync", "--force", "--config", str(config),
                                  "--output", "json")
    assert code == ExitCode.OK, err
    run = json.loads(out)
    [site] = run["sites"]
    assert site["outcome"] == "ok" and site["account"]["written"] > 0
    [guard] = [g for g in site["guards"] if not g["passed"]]
    assert guard["guard"] == "max_changed_fraction" and guard["overridden"] is True


async def test_no_match_check_can_be_switched_off(emulator, tmp_path):
    emu = await emulator(catalog="v1", api_key=API_KEY, rate_limit=None)
    source = tmp_path / "stock.csv"
    drifted_source(emu.state(), source, drift=0)
    _lower_cased(source)
    config = write_config(tmp_path, url=emu.url, source=source,
                          policy={"fail_on_no_match": False})
    code, _, err = await _syncd("sync", "--config", str(config))
    assert code == ExitCode.OK, err


async def test_json_output_of_a_refused_plan_names_the_guard(emulator, tmp_path):
    emu = await emulator(catalog="v1", api_key=API_KEY, rate_limit=None)
    config = write_config(tmp_path, url=emu.url, source=REPO / "config" / "stock.example.csv",
                          policy={"max_changed_fraction": 0.01})
    code, out, err = await _syncd("sync", "--config", str(config), "--output", "json")
    assert code == ExitCode.REFUSED
    run = json.loads(out)
    assert run["outcome"] == "refused" and "max_changed_fraction" in run["reason"]
    [site] = run["sites"]
    assert [g["guard"] for g in site["guards"] if not g["passed"]] == ["max_changed_fraction"]
    assert site["plan"]["counts"]["changes"] > 0 and site["account"] is None
    code, _, err = await _syncd("sync", "--config", str(config))
    assert code == ExitCode.REFUSED
    assert err.count("nothing was written") == 1, "said once, not twice"
    assert "nothing written" not in err
    assert emu.stats()["writes"]["calls"] == 0


async def test_json_output_lists_invalid_rows(emulator, tmp_path):
    emu = await emulator(catalog="v1", api_key=API_KEY, rate_limit=None)
    source = tmp_path / "stock.csv"
    source.write_text("sku,quantity\nTSHIRT-RED-M,7\nMUG-CLASSIC,many\n")
    config = write_config(tmp_path, url=emu.url, source=source)
    code, out, _ = await _syncd("sync", "--config", str(config), "--output", "json")
    assert code == ExitCode.FAILED
    run = json.loads(out)
    [site] = run["sites"]
    assert site["outcome"] == "invalid_source"
    assert any(":3: quantity" in row for row in site["invalid_rows"])


async def test_json_output_of_a_successful_sync_has_the_account(emulator, tmp_path):
    emu = await emulator(catalog="v1", api_key=API_KEY, rate_limit=None)
    source = tmp_path / "stock.csv"
    drifted_source(emu.state(), source, drift=0.2)
    config = write_config(tmp_path, url=emu.url, source=source)
    code, out, err = await _syncd("sync", "--config", str(config), "--output", "json")
    assert code == ExitCode.OK, err
    run = json.loads(out)
    account = run["sites"][0]["account"]
    assert run["outcome"] == "ok" and run["reason"] is None
    assert account["written"] == account["planned"] > 0 and account["not_sent"] == 0


@pytest.mark.parametrize("make", ["file", "readonly"])
async def test_an_unusable_state_dir_is_one_line_and_its_own_exit_code(emulator, tmp_path,
                                                                        make):
    if make == "readonly" and os.geteuid() == 0:
        state = Path("/proc/syncd-state")  # even root cannot create it
    elif make == "readonly":
        state = tmp_path / "ro"
        state.mkdir()
        state.chmod(0o500)
    else:
        state = tmp_path / "afile"
        state.write_text("x")
    emu = await emulator(catalog="v1", api_key=API_KEY, rate_limit=None)
    source = tmp_path / "stock.csv"
    drifted_source(emu.state(), source, drift=0.1)
    config = write_config(tmp_path, url=emu.url, source=source)
    config.write_text(config.read_text().replace(str(tmp_path / "state"), str(state)))
    code, _, err = await _syncd("sync", "--config", str(config))
    assert code == ExitCode.STATE, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert emu.stats()["writes"]["calls"] == 0
    code, out, err = await _syncd("validate", "--config", str(config))
    assert code != 0 and "state_dir" in out + err


async def test_a_partial_source_of_two_changed_rows_is_applied_and_zeroes_nothing(
        emulator, tmp_path):
    emu = await emulator(catalog="v1", api_key=API_KEY, rate_limit=None)
    rows = [r for r in emu.state() if r["sku"] and r["tracked"]][:2]
    source = tmp_path / "stock.csv"
    source.write_text("sku,quantity\n" + "".join(
        f"{r['sku']},{int(r['quantity'] or 0) + 5}\n" for r in rows))
    config = write_config(tmp_path, url=emu.url, source=source,
                          policy={"unmatched": "zero"})
    code, _, err = await _syncd("sync", "--config", str(config))
    assert code == ExitCode.REFUSED, "a full source of two rows would zero the store"
    text = config.read_text().replace("source:\n", "source:\n  mode: partial\n")
    config.write_text(text)
    assert "mode: partial" in text
    before = {r["variant_id"]: (r["quantity"], r["in_stock"]) for r in emu.state()}
    code, _, err = await _syncd("sync", "--config", str(config))
    assert code == ExitCode.OK, err
    after = {r["variant_id"]: (r["quantity"], r["in_stock"]) for r in emu.state()}
    changed = {v for v in after if after[v] != before[v]}
    assert changed == {r["variant_id"] for r in rows}, "only the listed rows may change"


@pytest.mark.parametrize("auth_403", [False, True], ids=["401", "403"])
async def test_json_output_of_a_wrong_key_has_a_reason_whether_wix_answers_401_or_403(
        emulator, tmp_path, auth_403):
    emu = await emulator(catalog="v1", api_key=API_KEY, rate_limit=None,
                         variants=WixVariants(auth_403=auth_403))
    source = tmp_path / "stock.csv"
    drifted_source(emu.state(), source, drift=0)
    config = write_config(tmp_path, url=emu.url, source=source)
    code, out, _ = await _syncd("sync", "--config", str(config), "--output", "json",
                                key="wrong-key-123456")
    assert code == ExitCode.FAILED
    run = json.loads(out)
    assert run["outcome"] == "failed"
    assert ("HTTP 403" if auth_403 else "HTTP 401") in run["reason"]
    assert "API key" in run["reason"] or "permission" in run["reason"].lower()
    assert "wrong-key-123456" not in out
    assert emu.stats()["writes"]["calls"] == 0
