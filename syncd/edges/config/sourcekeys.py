"""Reading the remote-feed and quantity-rule keys of a ``source`` mapping.

Kept apart from ``syncd.edges.config.loader`` so that the loader only has to hand these keys over.
Secrets (an HTTP auth header value, an SFTP password) come from an environment
variable (``secret_env``) or a file (``secret_file``), exactly like the Wix API key, are
registered with the log redaction, and are never quoted in an error message.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from syncd.base import yamlnodes
from syncd.base.logs import SECRETS
from syncd.base.model import MAX_QUANTITY
from syncd.edges.config.feed import (
    FeedScheme,
    FeedSettings,
    default_max_bytes,
    insecure_endpoint,
    is_remote,
)
from syncd.edges.config.reader import MapReader
from syncd.edges.config.secrets import read_secret
from syncd.edges.config.source import MatchRules, QuantityRules, SourceFormat

__all__ = ["SOURCE_KEYS", "feed_fields", "finish_source_fields", "is_remote", "match_rules",
           "merge_source_fields", "rules_fields", "site_source_fields", "source_fields",
           "source_readers"]

FEED_KEYS = ("poll_seconds", "timeout_seconds", "max_bytes", "max_redirects", "auth_header",
             "ca_file",
             "secret_env", "secret_file", "key_file", "known_hosts", "endpoint_url", "region",
             "allow_insecure_http")
RULE_KEYS = ("values", "plus", "threshold", "percent")


def feed_fields(m: MapReader, base: Path, env: Mapping[str, str]) -> dict[str, Any]:
    """The ``source.feed`` keys given, as ``FeedSettings`` fields (absent keys left out)."""
    m.check_keys(FEED_KEYS)
    fields: dict[str, Any] = {}
    for key, name in (("poll_seconds", "poll_s"), ("timeout_seconds", "timeout_s")):
        if m.given(key):
            fields[name] = m.number(key, 0.0, positive=True)
    if m.given("max_bytes"):
        fields["max_bytes"] = m.integer("max_bytes", 0, minimum=1)
    if m.given("max_redirects"):
        fields["max_redirects"] = m.integer("max_redirects", 0, maximum=20)
    for key in ("auth_header", "endpoint_url", "region"):
        value = m.string(key)
        if value is not None:
            fields[key] = value
    if m.given("allow_insecure_http"):
        fields["allow_insecure_http"] = m.boolean("allow_insecure_http", False)
    if "endpoint_url" in fields:
        refused = insecure_endpoint(FeedSettings(
            url="s3://bucket/key", endpoint_url=fields["endpoint_url"],
            allow_insecure_http=fields.get("allow_insecure_http", False)))
        if refused is not None:
            raise m.error(m.node("endpoint_url"), "endpoint_url", refused)
    for key in ("key_file", "known_hosts", "ca_file"):
        value = m.string(key)
        if value is not None:
            fields[key] = str(base / os.path.expanduser(value))
    found = m.collect(lambda: read_secret(m, base, env, env_key="secret_env",
                                          file_key="secret_file"))
    if found is not None:
        fields["secret"], fields["secret_origin"] = found
    return fields


def check_url(m: MapReader, url: str) -> bool:
    """A feed URL must name a host (or a bucket) and a file, and carry no password; False
    (after ``m.fail``) when it does not."""
    parts = urlsplit(url)
    try:
        scheme = FeedScheme(parts.scheme.lower())
    except ValueError:
        m.fail(m.error(m.node("path"), "path", "unknown URL scheme"))
        return False
    if not parts.hostname or not parts.path.strip("/"):
        m.fail(m.error(m.node("path"), "path", f"a {scheme.value}:// URL needs a host "
                       "(bucket) and a file path"))
        return False
    if parts.password is not None:
        if parts.password:
            SECRETS.add(parts.password)
        m.fail(m.error(m.node("path"), "path", "do not put a password in the URL: use "
                       "source.feed.secret_env or secret_file"))
        return False
    return True


def rules_fields(m: MapReader) -> QuantityRules:
    """``source.rules``: values, plus, threshold and percent (see ``syncd.edges.sources.rules``)."""
    m.check_keys(RULE_KEYS)
    values: list[tuple[str, int | bool]] = []
    words = m.mapping("values")
    for word, (_, value_node) in words.entries.items():
        text = (yamlnodes.scalar_text(value_node) or "").strip()
        if value_node.tag == yamlnodes.BOOL_TAG:
            values.append((word.strip().lower(), text.lower() in ("true", "yes", "on", "y")))
        elif text.isdigit() and int(text) <= MAX_QUANTITY:
            values.append((word.strip().lower(), int(text)))
        else:
            words.fail(words.error(value_node, word, "must be a quantity 0..99999 or "
                                   f"true/false, not {text!r}"))
    return QuantityRules(
        values=tuple(values),
        plus=m.boolean("plus", False),
        threshold=m.integer("threshold", 0, maximum=MAX_QUANTITY),
        percent=m.integer("percent", 100, minimum=1, maximum=100),
    )


SOURCE_KEYS = ("sheet", "rules", "feed")
"""The ``source`` keys this module reads (besides a URL in ``path``)."""

URL_FIELD = "_url"
FEED_FIELD = "_feed"


def source_fields(m: MapReader, base: Path, env: Mapping[str, str]) -> dict[str, Any]:
    """The keys of one ``source`` mapping that this module owns, as interim fields."""
    fields: dict[str, Any] = {}
    path = m.string("path")
    if path is not None and is_remote(path) and check_url(m, path):
        fields[URL_FIELD] = path
    sheet = m.string("sheet")
    if sheet is not None:
        fields["sheet"] = sheet
    if m.given("rules"):
        fields["rules"] = rules_fields(m.mapping("rules"))
    if m.given("feed"):
        fields[FEED_FIELD] = feed_fields(m.mapping("feed"), base, env)
    return fields


def merge_source_fields(top: dict[str, Any], site: dict[str, Any]) -> dict[str, Any]:
    """A site's source keys over the top-level ones, key by key (``feed`` keys too)."""
    merged = {**top, **site}
    if "path" in site:
        merged.pop(URL_FIELD, None)
    if URL_FIELD in site:
        merged.pop("path", None)
    feed = {**top.get(FEED_FIELD, {}), **site.get(FEED_FIELD, {})}
    if feed:
        merged[FEED_FIELD] = feed
    return merged


def finish_source_fields(m: MapReader, fields: dict[str, Any]) -> None:
    """Turn the interim URL and feed keys into ``SourceSettings.feed`` (and a ``path`` whose
    extension names the format)."""
    url = fields.pop(URL_FIELD, None)
    feed = fields.pop(FEED_FIELD, {})
    if url is None:
        if feed:
            raise m.error(None, "source.feed", "only applies when source.path is a URL")
        return
    parts = urlsplit(url)
    if (parts.scheme.lower() == "http" and "secret" in feed
            and parts.hostname not in _LOOPBACK):
        raise m.error(None, "source.feed.secret_env",
                      "a credential is sent over https only (plain http only to 127.0.0.1 "
                      "or localhost)")
    fields["path"] = Path(parts.path)
    if "max_bytes" not in feed:
        # The format's own default, so that a feed at the cap can be parsed in the memory
        # the shipped manifests give (YAML takes several times more per byte than CSV).
        source_format = fields.get("format") or SourceFormat.for_path(fields["path"])
        if source_format is not None:
            feed["max_bytes"] = default_max_bytes(source_format.value)
    fields["feed"] = FeedSettings(url=url, **feed)


_LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


def source_readers(m: MapReader) -> list[MapReader]:
    """A ``source`` key: one mapping (or none), or a list of them."""
    node = m.node("source")
    if isinstance(node, yaml.SequenceNode):
        if not node.value:
            raise m.error(node, "source", "an empty list: give at least one source")
        return [m.child(item, f"{m.key_path('source')}[{i}]")
                for i, item in enumerate(node.value)]
    return [m.mapping("source")]


def site_source_fields(
    m: MapReader, top: list[dict[str, Any]],
    read: Callable[[MapReader], dict[str, Any]],
) -> list[dict[str, Any]]:
    """The fields of each source of a site. A site without ``source`` takes the top level's
    (one or a list); a site's own sources are read over the top-level mapping key by key,
    or replace a top-level list entirely."""
    if m.node("source") is None:
        return [dict(fields) for fields in top]  # each site fills in its own copy
    base = top[0] if len(top) == 1 else {}
    return [merge_source_fields(base, read(r)) for r in source_readers(m)]


def match_rules(m: MapReader) -> MatchRules:
    """``match``: case_insensitive, strip_prefix/strip_suffix (source SKUs) and
    store_strip_prefix/store_strip_suffix (store SKUs)."""
    m.check_keys(("case_insensitive", "strip_prefix", "strip_suffix", "store_strip_prefix",
                  "store_strip_suffix"))

    def texts(key: str) -> tuple[str, ...]:
        if not m.given(key):
            return ()
        node = m.node(key)
        assert node is not None
        items = node.value if isinstance(node, yaml.SequenceNode) else [node]
        out = []
        for item in items:
            text = yamlnodes.scalar_text(item)
            if not text:
                m.fail(m.error(item, key, "expected a text or a list of texts"))
                continue
            out.append(text)
        return tuple(out)

    return MatchRules(case_insensitive=m.boolean("case_insensitive", False),
                      strip_prefix=texts("strip_prefix"), strip_suffix=texts("strip_suffix"),
                      store_strip_prefix=texts("store_strip_prefix"),
                      store_strip_suffix=texts("store_strip_suffix"))
