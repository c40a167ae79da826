"""The ``console:`` section: the token from a variable or a file, never from the file itself."""

from __future__ import annotations

from pathlib import Path

import pytest

from support.sync import API_KEY, run_syncd, write_config
from syncd.base.errors import ConfigError
from syncd.base.logs import SECRETS
from syncd.edges.config import Settings
from syncd.frontends.commands.common import ExitCode

KEY = "k3y-very-secret-value"
TOKEN = "console-token-abcdefgh"
BASE = """\
sites:
  - name: demo
    site_id: demo-site
    api_key_env: WIX_API_KEY
source:
  path: stock.csv
"""


def load(tmp_path: Path, console: str, **env: str) -> Settings:
    path = tmp_path / "syncd.yaml"
    path.write_text(BASE + console)
    return Settings.from_file(path, env={"WIX_API_KEY": KEY, **env})


def test_without_a_console_section_the_console_is_on_and_read_only(tmp_path):
    console = load(tmp_path, "").console
    assert console.enabled and console.token is None and console.history == 20


def test_token_from_an_environment_variable_is_registered_for_redaction(tmp_path):
    console = load(tmp_path, "console: {token_env: CONSOLE_TOKEN}\n",
                   CONSOLE_TOKEN=TOKEN).console
    assert console.token is not None and console.token.reveal() == TOKEN
    assert TOKEN not in SECRETS.redact(f"token={TOKEN}")


def test_token_from_a_file_next_to_the_configuration(tmp_path):
    (tmp_path / "console-token").write_text(TOKEN + "\n")
    console = load(tmp_path, "console: {token_file: console-token, history: 5}\n").console
    assert console.token is not None and console.token.reveal() == TOKEN
    assert console.history == 5


@pytest.mark.parametrize(("section", "env", "message"), [
    ("console: {token_env: SHORT}\n", {"SHORT": "abc"}, "at least 16 characters"),
    ("console: {token_env: A, token_file: b}\n", {"A": TOKEN}, "at most one of"),
    ("console: {tokn_env: A}\n", {}, "tokn_env"),
])
def test_bad_console_settings_name_the_key(tmp_path, section, env, message):
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        load(tmp_path, section, **env)


@pytest.mark.parametrize(("section", "message"), [
    ("console: {token_env: MISSING}\n", "console.token_env: the environment variable "
                                        "MISSING is not set"),
    ("console: {token_file: nope}\n", "console.token_file: cannot read"),
])
def test_a_token_that_cannot_be_read_stops_only_the_daemon(tmp_path, section, message):
    console = load(tmp_path, section).console
    assert console.token is None
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        console.require_token()


async def test_read_only_commands_run_without_the_console_token(emulator, tmp_path):
    emu = await emulator(catalog="v1", api_key=API_KEY, rate_limit=None)
    source = tmp_path / "stock.csv"
    source.write_text("sku,quantity\nTSHIRT-RED-M,7\n")
    config = write_config(tmp_path, url=emu.url, source=source)
    config.write_text(config.read_text() + "console: {token_env: SYNCD_CONSOLE_TOKEN}\n")
    for command in (["explain", "TSHIRT-RED-M"], ["plan"], ["validate"]):
        code, out, err = await run_syncd(*command, "--config", str(config))
        assert code in (ExitCode.OK, ExitCode.PENDING), (command, out, err)
    assert "SYNCD_CONSOLE_TOKEN is not set" in out  # validate says the daemon needs it
    code, _out, err = await run_syncd("run", "--config", str(config))
    assert code == ExitCode.CONFIG
    assert "SYNCD_CONSOLE_TOKEN is not set" in err


def test_hardening_settings_have_safe_defaults(tmp_path):
    console = load(tmp_path, "").console
    assert console.allowed_hosts == () and console.trusted_proxies == ()
    assert (console.session_idle_seconds, console.session_max_seconds) == (1800, 43200)
    assert (console.login_max_failures, console.login_window_seconds) == (5, 60)
    assert console.require_token_for_viewing is None
    assert not console.viewing_needs_token(loopback=True)
    assert console.viewing_needs_token(loopback=False)


def test_hardening_settings_are_read(tmp_path):
    console = load(tmp_path, """\
console:
  allowed_hosts: [syncd, Console.Example.com, "[::1]"]
  trusted_proxies: [10.0.0.0/8, 192.168.1.10]
  session_idle_seconds: 600
  session_max_seconds: 3600
  login_max_failures: 3
  login_window_seconds: 30
""").console
    assert console.allowed_hosts == ("syncd", "console.example.com", "::1")
    assert [str(n) for n in console.trusted_proxies] == ["10.0.0.0/8", "192.168.1.10/32"]
    assert (console.session_idle_seconds, console.session_max_seconds) == (600, 3600)
    assert (console.login_max_failures, console.login_window_seconds) == (3, 30)
    assert console.viewing_needs_token(loopback=True)  # a proxy in front: not loopback


@pytest.mark.parametrize(("loopback", "setting", "needed"), [
    (True, "true", True), (False, "false", False), (False, "true", True),
])
def test_require_token_for_viewing_overrides_the_default(tmp_path, loopback, setting, needed):
    console = load(tmp_path, f"console: {{require_token_for_viewing: {setting}}}\n").console
    assert console.viewing_needs_token(loopback=loopback) is needed


@pytest.mark.parametrize(("section", "message"), [
    ("console:\n  allowed_hosts: [https://syncd]\n",
     r"syncd\.yaml:8: console\.allowed_hosts: expected a host name"),
    ("console:\n  allowed_hosts: [syncd:9108]\n", "no scheme, port or path"),
    ("console:\n  trusted_proxies: [proxy.local]\n",
     r"syncd\.yaml:8: console\.trusted_proxies: expected an IP address or a CIDR range"),
    ("console:\n  session_idle_seconds: 0\n",
     r"syncd\.yaml:8: console\.session_idle_seconds: must be a number above 0"),
    ("console:\n  login_max_failures: 0\n",
     r"console\.login_max_failures: must be a positive integer"),
    ("console:\n  require_token_for_viewing: maybe\n",
     r"console\.require_token_for_viewing: must be true or false"),
])
def test_bad_hardening_settings_name_the_line_and_the_key(tmp_path, section, message):
    with pytest.raises(ConfigError, match=message):
        load(tmp_path, section)
