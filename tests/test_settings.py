"""Configuration loading: errors that name file, line and key; overrides; secrets; validate."""

from __future__ import annotations

import io
import textwrap
from argparse import Namespace
from pathlib import Path

import pytest

from syncd.base.errors import ConfigError
from syncd.base.logs import SECRETS
from syncd.core.policy import Unmatched, WriteMode
from syncd.edges.config import CatalogChoice, LogLevel, OnInvalidRow, Secret, Settings, SourceFormat
from syncd.frontends.commands import validate
from syncd.frontends.commands.common import ExitCode

KEY = "k3y-very-secret-value"
ENV = {"WIX_API_KEY": KEY}

MINIMAL = """\
sites:
  - name: demo
    site_id: demo-site
    api_key_env: WIX_API_KEY
source:
  path: stock.csv
"""


def write(tmp_path: Path, text: str, name: str = "syncd.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def load(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> Settings:
    return Settings.from_file(write(tmp_path, text), env=ENV if env is None else env)


def error_of(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, text, env)
    return str(info.value)


class TestDefaults:
    def test_minimal_file_gets_documented_defaults(self, tmp_path):
        s = load(tmp_path, MINIMAL)
        site = s.sites[0]
        assert site.base_url == "https://www.wixapis.com"
        assert site.catalog is CatalogChoice.AUTO
        assert (site.rate_limit.requests, site.rate_limit.per_s) == (200, 60.0)
        assert site.source.path == tmp_path / "stock.csv"
        assert site.source.format is SourceFormat.CSV
        assert site.source.on_invalid_row is OnInvalidRow.FAIL
        assert site.policy.unmatched is Unmatched.IGNORE
        assert site.policy.max_zeroed == 50
        assert s.state_dir == tmp_path / "state"
        assert s.schedule.interval_s == 300 and s.schedule.cron is None
        assert str(s.http.listen) == "127.0.0.1:9108"
        assert s.shutdown_grace_s == 20

    def test_format_follows_the_source_extension(self, tmp_path):
        s = load(tmp_path, MINIMAL.replace("stock.csv", "stock.yml"))
        assert s.sites[0].source.format is SourceFormat.YAML

    def test_site_source_and_policy_override_the_top_level_key_by_key(self, tmp_path):
        s = load(tmp_path, """\
            sites:
              - {name: a, site_id: A, api_key_env: WIX_API_KEY}
              - name: b
                site_id: B
                api_key_env: WIX_API_KEY
                source: {path: other.yaml}
                policy: {buffer: 2}
            source: {path: stock.csv, on_invalid_row: skip}
            policy: {unmatched: zero, buffer: 1}
        """)
        a, b = s.sites
        assert a.source.path.name == "stock.csv" and a.policy.buffer == 1
        assert b.source.path.name == "other.yaml" and b.source.format is SourceFormat.YAML
        assert b.source.on_invalid_row is OnInvalidRow.SKIP  # inherited
        assert b.policy.buffer == 2 and b.policy.unmatched is Unmatched.ZERO

    def test_write_mode_defaults_to_auto_and_a_site_may_choose_another(self, tmp_path):
        s = load(tmp_path, """\
            sites:
              - {name: a, site_id: A, api_key_env: WIX_API_KEY}
              - {name: b, site_id: B, api_key_env: WIX_API_KEY, policy: {write_mode: absolute}}
            source: {path: stock.csv}
        """)
        a, b = s.sites
        assert (a.policy.write_mode, b.policy.write_mode) == (WriteMode.AUTO, WriteMode.ABSOLUTE)

    def test_an_unknown_write_mode_names_the_choices(self, tmp_path):
        message = error_of(tmp_path, MINIMAL + "policy:\n  write_mode: sometimes\n")
        assert "syncd.yaml:8: policy.write_mode: must be one of auto | absolute | delta" in message

    def test_wix_settings_carry_the_site_tunables(self, tmp_path):
        s = load(tmp_path, MINIMAL.replace(
            "    api_key_env: WIX_API_KEY\n",
            "    api_key_env: WIX_API_KEY\n    rate_limit: {requests: 100, per_seconds: 30}\n"
            "    concurrency: 4\n    timeout_seconds: 5\n"))
        wix = s.sites[0].wix_settings()
        assert (wix.rate_limit, wix.rate_period_s, wix.max_in_flight, wix.timeout_s) == (
            100, 30.0, 4, 5.0)


class TestErrors:
    @pytest.mark.parametrize(("snippet", "expected"), [
        ("    rate_limit: {requests: 0}\n", "syncd.yaml:5: sites[0].rate_limit.requests: "
                                          "must be a positive integer"),
        ("    concurrency: many\n", "syncd.yaml:5: sites[0].concurrency: must be a whole number"),
        ("    catalog: v2\n", "syncd.yaml:5: sites[0].catalog: must be one of auto | v1 | v3"),
        ("    timeout_seconds: -1\n", "syncd.yaml:5: sites[0].timeout_seconds: must be a number"),
    ])
    def test_errors_name_file_line_and_key(self, tmp_path, snippet, expected):
        text = MINIMAL.replace("    api_key_env: WIX_API_KEY\n",
                               "    api_key_env: WIX_API_KEY\n" + snippet)
        assert expected in error_of(tmp_path, text)

    def test_nested_policy_error_points_at_its_line(self, tmp_path):
        message = error_of(tmp_path, MINIMAL + "policy:\n  unmatched: ignore\n  max_zeroed: -3\n")
        assert "syncd.yaml:9: policy.max_zeroed: must be a whole number, 0 or more" in message

    def test_unknown_key_is_an_error_with_a_suggestion(self, tmp_path):
        message = error_of(tmp_path, MINIMAL + "polcy:\n  buffer: 1\n")
        assert "syncd.yaml:7: polcy: unknown key; did you mean 'policy'?" in message

    def test_unknown_nested_key_is_suggested_too(self, tmp_path):
        message = error_of(tmp_path, MINIMAL.replace("  path: stock.csv",
                                                     "  path: stock.csv\n  on_invalid_rows: skip"))
        assert "syncd.yaml:7: source.on_invalid_rows: unknown key; did you mean " \
               "'on_invalid_row'?" in message

    def test_missing_required_key_names_it(self, tmp_path):
        message = error_of(tmp_path, MINIMAL.replace("    site_id: demo-site\n", ""))
        assert "syncd.yaml:2: sites[0].site_id: required" in message

    def test_duplicate_key_is_an_error(self, tmp_path):
        message = error_of(tmp_path, MINIMAL + "state_dir: a\nstate_dir: b\n")
        assert "syncd.yaml:8:" in message and "given twice (first on line 7)" in message

    def test_yaml_syntax_error_names_the_line(self, tmp_path):
        message = error_of(tmp_path, MINIMAL + "schedule: {interval_seconds: 3\n")
        assert message.startswith(f"{tmp_path / 'syncd.yaml'}:")
        assert "not valid YAML" in message

    def test_both_interval_and_cron_is_an_error(self, tmp_path):
        message = error_of(tmp_path, MINIMAL + "schedule:\n  interval_seconds: 60\n"
                                               "  cron: '*/5 * * * *'\n")
        assert "schedule.cron: give interval_seconds or cron, not both" in message

    def test_bad_cron_is_an_error(self, tmp_path):
        assert "schedule.cron: not a 5-field cron" in error_of(
            tmp_path, MINIMAL + "schedule: {cron: 'every day'}\n")

    def test_cron_replaces_the_default_interval(self, tmp_path):
        s = load(tmp_path, MINIMAL + "schedule: {cron: '*/5 * * * *'}\n")
        assert s.schedule.cron == "*/5 * * * *" and s.schedule.interval_s is None

    def test_duplicate_site_names_are_refused(self, tmp_path):
        message = error_of(tmp_path, MINIMAL.replace(
            "source:", "  - {name: demo, site_id: x, api_key_env: WIX_API_KEY}\nsource:"))
        assert "sites[1].name: 'demo' is also the name of sites[0]" in message

    def test_source_path_is_required_somewhere(self, tmp_path):
        message = error_of(tmp_path, MINIMAL.replace("source:\n  path: stock.csv\n", ""))
        assert "sites[0].source.path: required" in message

    def test_unknown_encoding_is_refused_at_load(self, tmp_path):
        assert "source.encoding: unknown encoding 'klingon'" in error_of(
            tmp_path, MINIMAL + "  encoding: klingon\n")


class TestApiKey:
    def test_missing_variable_is_an_error_naming_it(self, tmp_path):
        message = error_of(tmp_path, MINIMAL, env={})
        assert "sites[0].api_key_env: the environment variable WIX_API_KEY is not set" in message

    def test_key_file_is_read_relative_to_the_config(self, tmp_path):
        (tmp_path / "key.txt").write_text(KEY + "\n")
        s = load(tmp_path, MINIMAL.replace("api_key_env: WIX_API_KEY", "api_key_file: key.txt"),
                 env={})
        assert s.sites[0].api_key.reveal() == KEY
        assert s.sites[0].api_key_origin == f"file {tmp_path / 'key.txt'}"

    def test_both_env_and_file_is_an_error(self, tmp_path):
        text = MINIMAL.replace("api_key_env: WIX_API_KEY",
                               "api_key_env: WIX_API_KEY\n    api_key_file: key.txt")
        assert "give exactly one of api_key_env" in error_of(tmp_path, text)

    def test_api_key_never_appears_in_any_repr(self, tmp_path):
        s = load(tmp_path, MINIMAL)
        for text in (repr(s), str(s), repr(s.sites[0]), repr(s.sites[0].api_key),
                     str(s.sites[0].api_key), f"{s.sites[0].api_key}"):
            assert KEY not in text
        assert s.sites[0].api_key.reveal() == KEY

    def test_api_key_is_registered_for_log_redaction(self, tmp_path):
        load(tmp_path, MINIMAL)
        assert SECRETS.redact(f"Authorization: {KEY}") == "Authorization: [REDACTED]"

    def test_secrets_compare_by_value_but_refuse_pickling(self):
        import pickle
        assert Secret("abcdefgh") == Secret("abcdefgh") != Secret("other-one")
        with pytest.raises(TypeError):
            pickle.dumps(Secret("abcdefgh"))


class TestEnvironmentOverrides:
    def test_environment_overrides_file_values(self, tmp_path):
        env = {**ENV, "SYNCD_STATE_DIR": "/var/lib/syncd", "SYNCD_SOURCE_PATH": "/data/s.yaml",
               "SYNCD_BASE_URL": "http://127.0.0.1:9999", "SYNCD_LOG_LEVEL": "DEBUG",
               "SYNCD_HTTP_LISTEN": "0.0.0.0:9200", "SYNCD_LOG_FORMAT": "json"}
        s = load(tmp_path, MINIMAL + "state_dir: here\n", env=env)
        assert s.state_dir == Path("/var/lib/syncd")
        assert s.sites[0].source.path == Path("/data/s.yaml")
        assert s.sites[0].source.format is SourceFormat.YAML
        assert s.sites[0].base_url == "http://127.0.0.1:9999"
        assert s.log.level is LogLevel.DEBUG and s.log.format == "json"
        assert (s.http.host, s.http.port) == ("0.0.0.0", 9200)

    def test_source_path_from_environment_makes_the_key_optional(self, tmp_path):
        s = load(tmp_path, MINIMAL.replace("source:\n  path: stock.csv\n", ""),
                 env={**ENV, "SYNCD_SOURCE_PATH": "stock.csv"})
        assert s.sites[0].source.path == Path("stock.csv")

    def test_bad_environment_value_names_the_variable(self, tmp_path):
        message = error_of(tmp_path, MINIMAL, env={**ENV, "SYNCD_LOG_LEVEL": "loud"})
        assert message.startswith("environment SYNCD_LOG_LEVEL: must be one of")


class TestValidateCommand:
    def run(self, config: Path, *, strict: bool = False) -> tuple[int, str]:
        out = io.StringIO()
        code = validate.run(Namespace(config=str(config), site=None, strict=strict), out=out)
        return code, out.getvalue()

    def test_valid_config_and_source_exit_0(self, tmp_path, monkeypatch):
        monkeypatch.setenv("WIX_API_KEY", KEY)
        (tmp_path / "stock.csv").write_text("sku,quantity\nA,1\nB,2\n")
        code, out = self.run(write(tmp_path, MINIMAL))
        assert code == 0, out
        assert "2 valid rows" in out and out.rstrip().endswith("valid")

    def test_invalid_rows_are_listed_and_exit_1(self, tmp_path, monkeypatch):
        monkeypatch.setenv("WIX_API_KEY", KEY)
        (tmp_path / "stock.csv").write_text("sku,quantity\nA,x\nB,2\nC,-1\n")
        code, out = self.run(write(tmp_path, MINIMAL))
        assert code == 1
        assert f"{tmp_path / 'stock.csv'}:2: quantity: 'x' is not a whole number" in out
        assert f"{tmp_path / 'stock.csv'}:4: quantity: -1 is negative" in out

    def test_skip_mode_tolerates_bad_rows_unless_strict(self, tmp_path, monkeypatch):
        monkeypatch.setenv("WIX_API_KEY", KEY)
        (tmp_path / "stock.csv").write_text("sku,quantity\nA,x\nB,2\n")
        config = write(tmp_path, MINIMAL + "  on_invalid_row: skip\n")
        assert self.run(config)[0] == 0
        assert self.run(config, strict=True)[0] == 1

    def test_config_error_exits_config_with_the_message(self, tmp_path, monkeypatch):
        monkeypatch.setenv("WIX_API_KEY", KEY)
        code, out = self.run(write(tmp_path, MINIMAL + "bogus: 1\n"))
        assert code == ExitCode.CONFIG and "syncd.yaml:7: bogus: unknown key" in out

    def test_shipped_example_configuration_is_valid(self, monkeypatch):
        monkeypatch.setenv("WIX_API_KEY", "demo-key")
        config = Path(__file__).parent.parent / "config" / "syncd.example.yaml"
        code, out = self.run(config)
        assert code == 0, out


def test_api_key_file_expands_the_credentials_directory_variable(tmp_path):
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "wix-api-key").write_text("key-from-credential-9f8e\n")
    config = tmp_path / "syncd.yaml"
    (tmp_path / "stock.csv").write_text("sku,quantity\nA,1\n")
    config.write_text(
        "sites:\n"
        "  - name: shop\n"
        "    site_id: s1\n"
        "    api_key_file: ${CREDENTIALS_DIRECTORY}/wix-api-key\n"
        "source: {path: stock.csv}\n")
    settings = Settings.from_file(config, env={"CREDENTIALS_DIRECTORY": str(creds)})
    assert settings.sites[0].api_key.reveal() == "key-from-credential-9f8e"
    with pytest.raises(ConfigError, match=r"syncd.yaml:4: .*api_key_file: refers to "
                                          r"\$\{CREDENTIALS_DIRECTORY\}, which is not set"):
        Settings.from_file(config, env={})


def test_two_entries_for_one_store_are_refused(tmp_path):
    (tmp_path / "stock.csv").write_text("sku,quantity\nA,1\n")
    config = tmp_path / "syncd.yaml"
    config.write_text(
        "sites:\n"
        "  - {name: a, site_id: s1, api_key_env: K}\n"
        "  - {name: b, site_id: s1, api_key_env: K}\n"
        "source: {path: stock.csv}\n")
    with pytest.raises(ConfigError, match=r"syncd.yaml:3: sites\[1\].site_id: 's1' .* "
                                          r"also the store of sites\[0\]"):
        Settings.from_file(config, env={"K": "key-123456"})


def test_an_api_key_pasted_into_api_key_env_is_refused_without_echoing_it(tmp_path):
    (tmp_path / "stock.csv").write_text("sku,quantity\nA,1\n")
    config = tmp_path / "syncd.yaml"
    config.write_text("sites:\n  - {name: a, site_id: s1, api_key_env: IST.abc-123.secret}\n"
                      "source: {path: stock.csv}\n")
    with pytest.raises(ConfigError, match="name of an environment variable") as caught:
        Settings.from_file(config, env={})
    assert "IST.abc-123.secret" not in str(caught.value)
