"""A directory of one file per site, besides ``sites:`` in the main file."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from syncd.base.errors import ConfigError
from syncd.edges.config import Settings
from syncd.edges.config.fleet import StateBackendKind

ENV = {"WIX_API_KEY": "k3y-secret-value", "OTHER_KEY": "other-secret-value"}

MAIN = """\
source:
  path: stock.csv
policy:
  buffer: 1
sites_dir: sites.d
"""
MAIN_SITE = "sites:\n  - {{name: {name}, site_id: site-m, api_key_env: WIX_API_KEY}}\n"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def test_each_file_of_the_sites_dir_is_a_site_with_its_own_source_and_policy(tmp_path):
    main = write(tmp_path / "syncd.yaml", MAIN)
    write(tmp_path / "sites.d" / "alpha.yaml", """\
        site_id: site-a
        api_key_env: WIX_API_KEY
        """)
    write(tmp_path / "sites.d" / "beta.yml", """\
        name: beta-store
        site_id: site-b
        api_key_env: OTHER_KEY
        source: {path: beta.yaml}
        policy: {cap: 5}
        """)
    write(tmp_path / "sites.d" / ".alpha.yaml.swp", "not: [yaml")
    write(tmp_path / "sites.d" / "README.txt", "ignored")
    settings = Settings.from_file(main, env=ENV)
    by_name = {s.name: s for s in settings.sites}
    assert sorted(by_name) == ["alpha", "beta-store"]
    assert by_name["alpha"].source.path == tmp_path / "stock.csv"
    assert by_name["alpha"].policy.buffer == 1
    assert by_name["beta-store"].source.path == tmp_path / "sites.d" / "beta.yaml"
    assert (by_name["beta-store"].policy.buffer, by_name["beta-store"].policy.cap) == (1, 5)
    assert by_name["beta-store"].api_key.reveal() == "other-secret-value"
    assert settings.fleet.backend is StateBackendKind.LOCAL


def test_main_file_sites_and_directory_sites_add_up(tmp_path):
    main = write(tmp_path / "syncd.yaml", MAIN + MAIN_SITE.format(name="main"))
    write(tmp_path / "sites.d" / "alpha.yaml", "site_id: site-a\napi_key_env: WIX_API_KEY\n")
    assert [s.name for s in Settings.from_file(main, env=ENV).sites] == ["main", "alpha"]


def test_a_bad_key_in_a_site_file_names_that_file_and_line(tmp_path):
    main = write(tmp_path / "syncd.yaml", MAIN)
    bad = write(tmp_path / "sites.d" / "alpha.yaml", """\
        site_id: site-a
        api_key_env: WIX_API_KEY
        rate_limit:
          requests: -3
        """)
    with pytest.raises(ConfigError) as info:
        Settings.from_file(main, env=ENV)
    assert str(info.value).startswith(f"{bad}:4: rate_limit.requests")


def test_a_name_used_twice_across_the_main_file_and_the_directory_is_refused(tmp_path):
    main = write(tmp_path / "syncd.yaml", MAIN + MAIN_SITE.format(name="alpha"))
    write(tmp_path / "sites.d" / "alpha.yaml", "site_id: site-a\napi_key_env: WIX_API_KEY\n")
    with pytest.raises(ConfigError, match=r"alpha.yaml:1: site.name: 'alpha' is also the "
                                          r"name of sites\[0\]"):
        Settings.from_file(main, env=ENV)


def test_a_missing_sites_dir_is_an_error_naming_the_key(tmp_path):
    main = write(tmp_path / "syncd.yaml", MAIN)
    with pytest.raises(ConfigError, match=r"syncd.yaml:5: sites_dir: .* is not a directory"):
        Settings.from_file(main, env=ENV)


def test_postgres_backend_needs_the_dsn_in_the_environment(tmp_path):
    (tmp_path / "sites.d").mkdir()
    main = write(tmp_path / "syncd.yaml", MAIN + "state_backend: postgres\n")
    with pytest.raises(ConfigError, match="SYNCD_DATABASE_URL"):
        Settings.from_file(main, env=ENV)
    settings = Settings.from_file(main, env={**ENV, "SYNCD_DATABASE_URL": "postgresql://x/y"})
    assert settings.fleet.backend is StateBackendKind.POSTGRES
    assert "postgresql" not in repr(settings.fleet)


def test_read_for_the_daemon_a_bad_file_disables_only_its_site_with_file_line_and_field(
        tmp_path):
    main = write(tmp_path / "syncd.yaml", MAIN + MAIN_SITE.format(name="main"))
    write(tmp_path / "sites.d" / "alpha.yaml", "site_id: site-a\napi_key_env: WIX_API_KEY\n")
    write(tmp_path / "sites.d" / "beta.yaml", "name: beta-store\nsite_id: site-b\n"
                                              "api_key_env: WIX_API_KEY\npolicy: {bufer: 2}\n")
    write(tmp_path / "sites.d" / "gamma.yaml", "site_id: [unclosed\n")
    write(tmp_path / "sites.d" / "main-again.yaml",  # a name another entry has
          "name: main\nsite_id: site-x\napi_key_env: WIX_API_KEY\n")
    write(tmp_path / "sites.d" / "same-store.yaml",  # a store another entry has
          "site_id: site-a\napi_key_env: OTHER_KEY\n")
    settings = Settings.from_file(main, env=ENV, per_site_file=True)
    assert sorted(s.name for s in settings.sites) == ["alpha", "main"]
    bad = {b.name: b for b in settings.disabled_sites}
    assert sorted(bad) == ["beta-store", "gamma", "main", "same-store"]
    assert bad["beta-store"].path == tmp_path / "sites.d" / "beta.yaml"
    assert f"{tmp_path / 'sites.d' / 'beta.yaml'}:4: policy.bufer: unknown key" \
        in bad["beta-store"].error
    assert f"{tmp_path / 'sites.d' / 'gamma.yaml'}:2: not valid YAML" in bad["gamma"].error
    assert "also the name of sites[0]" in bad["main"].error
    assert "also the store of" in bad["same-store"].error


def test_the_same_bad_file_still_refuses_the_whole_configuration_elsewhere(tmp_path):
    main = write(tmp_path / "syncd.yaml", MAIN)
    write(tmp_path / "sites.d" / "alpha.yaml", "site_id: site-a\napi_key_env: WIX_API_KEY\n")
    write(tmp_path / "sites.d" / "beta.yaml", "site_id: site-b\napi_key_fil: key\n")
    with pytest.raises(ConfigError, match=r"beta\.yaml:2: api_key_fil: unknown key"):
        Settings.from_file(main, env=ENV)


def test_a_bad_main_file_still_fails_when_read_for_the_daemon(tmp_path):
    main = write(tmp_path / "syncd.yaml", MAIN + "shutdown_grace_second: 3\n")
    write(tmp_path / "sites.d" / "alpha.yaml", "site_id: site-a\napi_key_env: WIX_API_KEY\n")
    with pytest.raises(ConfigError, match="shutdown_grace_second"):
        Settings.from_file(main, env=ENV, per_site_file=True)


def test_a_running_site_whose_file_turns_bad_keeps_its_previous_settings(tmp_path):
    from syncd.frontends.daemon.wiring import keep_previous_sites

    main = write(tmp_path / "syncd.yaml", MAIN)
    alpha = write(tmp_path / "sites.d" / "alpha.yaml",
                  "name: alpha-store\nsite_id: site-a\napi_key_env: WIX_API_KEY\n")
    write(tmp_path / "sites.d" / "beta.yaml", "site_id: site-b\napi_key_env: WIX_API_KEY\n")
    before = Settings.from_file(main, env=ENV, per_site_file=True)
    alpha.write_text("name: alpha-store\nsite_id: [site-a\n")  # broken YAML: no name to read
    write(tmp_path / "sites.d" / "beta.yaml", "site_id: site-b\napi_key_env: OTHER_KEY\n")
    after = keep_previous_sites(Settings.from_file(main, env=ENV, per_site_file=True), before)
    by_name = {s.name: s for s in after.sites}
    assert by_name["alpha-store"] == next(s for s in before.sites if s.name == "alpha-store")
    assert by_name["beta"].api_key.reveal() == "other-secret-value"  # its change applies
    [bad] = after.disabled_sites
    assert (bad.name, bad.path, bad.running_previous) == ("alpha-store", alpha, True)
    # Still bad at the next reload: still the previous settings.
    again = keep_previous_sites(Settings.from_file(main, env=ENV, per_site_file=True), after)
    assert "alpha-store" in {s.name for s in again.sites}
