"""Every mistake of a configuration file is reported in one run, whichever section it is
in: one ``file:line: key: reason`` line each, then exit 78. Real processes."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from support.sync import run_syncd
from syncd.edges.config import Settings
from syncd.frontends.commands.common import ExitCode


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def _error_lines(err: str, file: str) -> list[str]:
    return [line.strip() for line in err.splitlines() if line.strip().startswith(f"{file}:")]


@pytest.mark.parametrize("command", ["validate", "sync"])
async def test_three_bad_fields_of_one_section_are_three_lines(tmp_path, command):
    config = _write(tmp_path / "syncd.yaml", """\
        sites:
          - name: shop
            site_id: demo-site
            api_key_env: WIX_API_KEY
            base_url: http://127.0.0.1:9
        source:
          path: stock.csv
          on_invalid_row: explode
          delimiter: ";;"
          encoding: klingon
        """)
    code, out, err = await run_syncd(command, "--config", str(config))
    assert code == ExitCode.CONFIG, err
    assert "3 errors" in out + err
    assert _error_lines(out + err, str(config)) == [
        f"{config}:8: source.on_invalid_row: must be one of fail | skip, not 'explode'",
        f"{config}:9: source.delimiter: must be one character (or 'tab')",
        f"{config}:10: source.encoding: unknown encoding 'klingon' (try utf-8, latin-1, "
        "cp1252)",
    ]


async def test_bad_fields_of_every_section_and_the_top_level_are_all_reported(tmp_path):
    config = _write(tmp_path / "syncd.yaml", """\
        sites:
          - name: shop
            site_id: demo-site
            api_key_env: WIX_API_KEY
            base_url: http://127.0.0.1:9
            rate_limit: {requests: 0, per_seconds: -1}
            concurrency: lots
            catalog: v9
        source:
          path: stock.csv
          on_invalid_row: explode
        policy:
          max_zeroed: -3
          unmatched: maybe
        schedule:
          interval_seconds: 0
          jitter_seconds: x
        stat_dir: state
        shutdown_grace_seconds: soon
        log: {level: loud, format: fancy}
        """)
    code, _, err = await run_syncd("sync", "--config", str(config))
    assert code == ExitCode.CONFIG, err
    found = [line.split(": ", 2)[1] for line in _error_lines(err, str(config))]
    assert found == [
        "sites[0].rate_limit.requests", "sites[0].rate_limit.per_seconds",
        "sites[0].concurrency", "sites[0].catalog", "source.on_invalid_row",
        "policy.max_zeroed", "policy.unmatched", "schedule.interval_seconds",
        "schedule.jitter_seconds", "stat_dir", "shutdown_grace_seconds", "log.level",
        "log.format"], "every mistake once, in the order of the file"
    assert f"{len(found)} errors" in err and "Traceback" not in err


async def test_every_bad_site_file_of_a_sites_dir_is_reported(tmp_path):
    _write(tmp_path / "sites" / "one.yaml", """\
        site_id: one
        api_key_env: NO_SUCH_VARIABLE_SET
        concurrency: 0
        catalog: v7
        """)
    _write(tmp_path / "sites" / "two.yaml", """\
        site_id: two
        api_key_env: WIX_API_KEY
        timeout_seconds: -2
        """)
    config = _write(tmp_path / "syncd.yaml", """\
        sites_dir: sites
        source:
          path: stock.csv
        """)
    code, out, err = await run_syncd("validate", "--config", str(config))
    assert code == ExitCode.CONFIG, err
    one, two = tmp_path / "sites" / "one.yaml", tmp_path / "sites" / "two.yaml"
    assert [line.split(": ", 2)[1] for line in _error_lines(out + err, str(one))] == [
        "api_key_env", "concurrency", "catalog"]
    assert [line.split(": ", 2)[1] for line in _error_lines(out + err, str(two))] == [
        "timeout_seconds"]


async def test_sites_with_mistakes_are_not_also_called_duplicates_of_each_other(tmp_path):
    config = _write(tmp_path / "syncd.yaml", """\
        sites:
          - name: a
            api_key_env: WIX_API_KEY
          - name: b
            api_key_env: WIX_API_KEY
        sites_dir: no-such-directory
        source: {path: stock.csv}
        """)
    code, out, err = await run_syncd("validate", "--config", str(config))
    assert code == ExitCode.CONFIG, err
    found = [line.split(": ", 2)[1:] for line in _error_lines(out + err, str(config))]
    assert [key for key, _ in found] == ["sites[0].site_id", "sites[1].site_id", "sites_dir"]
    assert all(reason.startswith("required") for _, reason in found[:2])


async def test_a_site_without_a_source_still_has_its_other_mistakes_reported(tmp_path):
    config = _write(tmp_path / "syncd.yaml", """\
        sites:
          - name: shop
            site_id: demo-site
            api_key_env: WIX_API_KEY
            concurrency: 0
            catalog: v9
            timeout_seconds: -1
        """)
    code, out, err = await run_syncd("validate", "--config", str(config))
    assert code == ExitCode.CONFIG, err
    assert [line.split(": ", 2)[1] for line in _error_lines(out + err, str(config))] == [
        "sites[0].source.path", "sites[0].concurrency", "sites[0].catalog",
        "sites[0].timeout_seconds"]


def test_a_site_file_the_daemon_sets_aside_carries_every_mistake_of_it(tmp_path):
    """``syncd run`` reads a sites_dir this way: a bad file disables only its store."""
    _write(tmp_path / "sites" / "good.yaml", "site_id: good\napi_key_env: WIX_API_KEY\n")
    bad = _write(tmp_path / "sites" / "bad.yaml", """\
        site_id: bad
        api_key_env: WIX_API_KEY
        concurrency: 0
        catalog: v7
        """)
    config = _write(tmp_path / "syncd.yaml", "sites_dir: sites\nsource: {path: stock.csv}\n")
    settings = Settings.from_file(config, env={"WIX_API_KEY": "k3y-0123456789"},
                                  per_site_file=True)
    assert [s.name for s in settings.sites] == ["good"]
    [disabled] = settings.disabled_sites
    assert disabled.name == "bad" and disabled.error.startswith("2 errors")
    assert f"{bad}:3: concurrency" in disabled.error and f"{bad}:4: catalog" in disabled.error


@pytest.mark.parametrize("command", ["plan", "sync", "explain"])
async def test_json_output_of_an_unusable_configuration_is_one_object_with_every_error(
        tmp_path, command):
    config = _write(tmp_path / "syncd.yaml", """\
        sites:
          - name: shop
            site_id: demo-site
            api_key_env: WIX_API_KEY
            concurrency: 0
        source:
          path: stock.csv
          on_invalid_row: explode
        """)
    args = ["explain", "SKU-1"] if command == "explain" else [command]
    code, out, err = await run_syncd(*args, "--config", str(config), "--output", "json")
    assert code == ExitCode.CONFIG, err
    doc = json.loads(out)
    assert (doc["command"], doc["outcome"], doc["exit_code"]) == (
        command, "invalid_configuration", ExitCode.CONFIG)
    assert f"{config}:5: sites[0].concurrency" in doc["reason"]
    assert f"{config}:8: source.on_invalid_row" in doc["reason"]
    assert "2 errors" in err, "people still read it on stderr"
