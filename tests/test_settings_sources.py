"""The new ``source`` keys: URLs and their feed settings, secrets, sheets, quantity rules,
several sources per site, merge and match."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from syncd.base.errors import ConfigError
from syncd.base.logs import SECRETS
from syncd.edges.config import Settings, SourceFormat
from syncd.edges.config.source import MergeRule

ENV = {"WIX_API_KEY": "k3y-value", "FEED_TOKEN": "Bearer tok-2b7e01"}


def load(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> Settings:
    path = tmp_path / "syncd.yaml"
    path.write_text(textwrap.dedent(text))
    return Settings.from_file(path, env=ENV if env is None else env)


def error_of(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, text)
    return str(caught.value)


SITE = """\
sites:
  - name: demo
    site_id: demo-site
    api_key_env: WIX_API_KEY
"""


def test_a_url_source_gets_feed_settings_and_its_format_from_the_url(tmp_path):
    s = load(tmp_path, SITE + """\
    source:
      path: https://supplier.example/export/stock.xlsx?token=abc
      sheet: Stock
      feed: {poll_seconds: 60, timeout_seconds: 10, max_bytes: 1000000,
             auth_header: X-Api-Key, secret_env: FEED_TOKEN}
    """)
    source = s.sites[0].source
    assert source.format is SourceFormat.XLSX
    assert source.sheet == "Stock"
    feed = source.feed
    assert feed is not None
    assert (feed.poll_s, feed.timeout_s, feed.max_bytes, feed.auth_header) == (
        60.0, 10.0, 1_000_000, "X-Api-Key")
    assert feed.secret is not None and feed.secret.reveal() == "Bearer tok-2b7e01"
    assert feed.secret_origin == "env FEED_TOKEN"
    assert source.name == "https://supplier.example/export/stock.xlsx"
    assert "tok-2b7e01" not in SECRETS.redact("x Bearer tok-2b7e01 y")


def test_a_secret_file_is_read_relative_to_the_configuration(tmp_path):
    (tmp_path / "sftp.pass").write_text("pa55-word-e4\n")
    s = load(tmp_path, SITE + """\
    source:
      path: sftp://erp@files.example/out/stock.csv
      feed: {secret_file: sftp.pass, known_hosts: known_hosts}
    """)
    feed = s.sites[0].source.feed
    assert feed is not None and feed.secret is not None
    assert feed.secret.reveal() == "pa55-word-e4"
    assert feed.known_hosts == str(tmp_path / "known_hosts")


def test_a_password_in_the_url_is_refused_and_never_echoed(tmp_path):
    message = error_of(tmp_path, SITE + """\
    source: {path: "sftp://erp:hunter2-x@files.example/stock.csv"}
    """)
    assert "do not put a password in the URL" in message
    assert "hunter2-x" not in message


def test_feed_keys_without_a_url_are_an_error(tmp_path):
    message = error_of(tmp_path, SITE + """\
    source: {path: stock.csv, feed: {poll_seconds: 5}}
    """)
    assert "source.feed: only applies when source.path is a URL" in message


def test_an_unset_secret_variable_is_named(tmp_path):
    message = error_of(tmp_path, SITE + """\
    source: {path: "https://x.example/a.csv", feed: {secret_env: NOPE}}
    """)
    assert "the environment variable NOPE is not set or empty" in message


def test_a_feed_secret_pasted_where_its_variable_name_goes_is_refused_unechoed(tmp_path):
    message = error_of(tmp_path, SITE + """\
    source: {path: "https://x.example/a.csv", feed: {secret_env: "Bearer s3cr3t-v4lue"}}
    """)
    assert "secret_env: must be the name of an environment variable" in message
    assert "s3cr3t" not in message


def test_a_feed_secret_file_may_name_the_systemd_credentials_directory(tmp_path):
    (tmp_path / "creds").mkdir()
    (tmp_path / "creds" / "feed-token").write_text("Bearer feed-token-123\n")
    s = load(tmp_path, SITE + """\
    source:
      path: "https://x.example/a.csv"
      feed: {secret_file: "${CREDENTIALS_DIRECTORY}/feed-token"}
    """, env={**ENV, "CREDENTIALS_DIRECTORY": str(tmp_path / "creds")})
    feed = s.sites[0].source.feed
    assert feed is not None and feed.secret is not None
    assert feed.secret.reveal() == "Bearer feed-token-123"


def test_quantity_rules_are_read_with_words_and_availabilities(tmp_path):
    s = load(tmp_path, SITE + """\
    source:
      path: stock.csv
      rules:
        values: {"In stock": 10, Out: 0, Y: true, N: false}
        plus: true
        threshold: 3
        percent: 80
    """)
    rules = s.sites[0].source.rules
    assert rules.values == (("in stock", 10), ("out", 0), ("y", True), ("n", False))
    assert (rules.plus, rules.threshold, rules.percent) == (True, 3, 80)


def test_a_rule_value_that_is_no_quantity_is_an_error(tmp_path):
    message = error_of(tmp_path, SITE + """\
    source: {path: stock.csv, rules: {values: {Low: some}}}
    """)
    assert "must be a quantity 0..99999 or true/false" in message


def test_a_site_may_list_several_sources_over_the_top_level_keys(tmp_path):
    s = load(tmp_path, """\
    source: {encoding: latin-1}
    sites:
      - name: demo
        site_id: demo-site
        api_key_env: WIX_API_KEY
        merge: max
        match: {case_insensitive: true, strip_prefix: [SUP-, X-], store_strip_suffix: -EU}
        source:
          - {path: a.csv}
          - {path: "s3://bucket/b.jsonl", feed: {endpoint_url: "http://127.0.0.1:9000"}}
    """)
    site = s.sites[0]
    assert [src.name for src in site.sources] == [str(tmp_path / "a.csv"), "s3://bucket/b.jsonl"]
    assert [src.encoding for src in site.sources] == ["latin-1", "latin-1"]
    assert site.sources[1].format is SourceFormat.JSONL
    assert site.merge is MergeRule.MAX
    assert site.match.strip_prefix == ("SUP-", "X-")
    assert site.match.store_strip_suffix == ("-EU",)


def test_an_unknown_merge_rule_is_an_error(tmp_path):
    message = error_of(tmp_path, SITE + """\
    merge: average
    source: {path: stock.csv}
    """)
    assert "merge: must be one of first | sum | min | max" in message


def test_a_credential_is_not_sent_over_plain_http_to_another_host(tmp_path):
    message = error_of(tmp_path, SITE + """\
    source: {path: "http://feeds.example/a.csv", feed: {secret_env: FEED_TOKEN}}
    """)
    assert "a credential is sent over https only" in message
    local = load(tmp_path, SITE + """\
    source: {path: "http://127.0.0.1:8080/a.csv", feed: {secret_env: FEED_TOKEN}}
    """)
    assert local.sites[0].source.feed is not None
