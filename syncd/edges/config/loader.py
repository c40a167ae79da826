"""Reading the configuration file: YAML in, the schema's frozen values out.

``load_settings(path)`` (also ``Settings.from_file``) reads the file, checks every key
(unknown keys are errors, with a "did you mean"), applies environment overrides, resolves
each site's API key, and returns the tree of ``syncd.edges.config.schema``. Every default comes
from the schema's classes. Every error is a ``ConfigError`` naming the file, the line and
the key::

    syncd.yaml:7: sites[0].rate_limit.requests: must be a positive integer

``source`` and ``policy`` may be given at the top level, per site, or both; a site's keys
override the top-level ones one by one. Relative paths are relative to the file.

Environment overrides (for containers and systemd units; values relative to the working
directory):

    SYNCD_STATE_DIR     state_dir
    SYNCD_SOURCE_PATH   source.path of every site (format follows its extension)
    SYNCD_BASE_URL      base_url of every site
    SYNCD_LOG_LEVEL     log.level
    SYNCD_LOG_FORMAT    log.format
    SYNCD_HTTP_LISTEN   http.listen

docs/configuration.md is the user's reference.
"""

from __future__ import annotations

import codecs
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import fields, replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import yaml
from cronsim import CronSim, CronSimError

from syncd.base import yamlnodes
from syncd.base.errors import ConfigError
from syncd.base.model import MAX_QUANTITY
from syncd.base.textpos import bad_bytes_message
from syncd.core.policy import Policy, Unmatched, Untracked, WriteMode
from syncd.edges.config import sourcekeys as remote
from syncd.edges.config.client import (
    CatalogChoice,
    WalkSettings,
    WixSettings,
    plain_http_problem,
)
from syncd.edges.config.console import read_console
from syncd.edges.config.errorlist import ErrorList, raise_error
from syncd.edges.config.fleet import (
    FLEET_KEYS,
    BadSiteFile,
    read_fleet,
    read_sites_dir,
    read_sites_dir_per_file,
)
from syncd.edges.config.reader import MapReader
from syncd.edges.config.schema import (
    HttpSettings,
    ListenAddress,
    LogFormat,
    LogLevel,
    LogSettings,
    ProbeSettings,
    ScheduleSettings,
    Settings,
    SiteSettings,
)
from syncd.edges.config.secrets import Secret, resolve_api_key
from syncd.edges.config.source import (
    Columns,
    MergeRule,
    OnInvalidRow,
    SourceFormat,
    SourceMode,
    SourceSettings,
)

ENV_STATE_DIR = "SYNCD_STATE_DIR"
ENV_SOURCE_PATH = "SYNCD_SOURCE_PATH"
ENV_BASE_URL = "SYNCD_BASE_URL"
ENV_LOG_LEVEL = "SYNCD_LOG_LEVEL"
ENV_LOG_FORMAT = "SYNCD_LOG_FORMAT"
ENV_HTTP_LISTEN = "SYNCD_HTTP_LISTEN"

T = TypeVar("T")

_SITE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_URL = re.compile(r"https?://[^\s/]+(/[^\s]*)?")

# The schema's defaults, read from its classes (never written again here).
_WIX = WixSettings()
_POLICY = Policy()
_SCHEDULE = ScheduleSettings()
_HTTP = HttpSettings()
_LOG = LogSettings()
_PROBE = ProbeSettings()
_SOURCE = SourceSettings(path=Path())
_SITE_MERGE = MergeRule(str(next(f.default for f in fields(SiteSettings) if f.name == "merge")))
_SETTINGS_DEFAULTS = Settings(path=Path(), sites=(), state_dir=Path())


def load_settings(path: str | os.PathLike[str], *,
                  env: Mapping[str, str] = os.environ, per_site_file: bool = False) -> Settings:
    """Read, check and resolve the configuration file; ``ConfigError`` when unusable.
    With ``per_site_file`` a bad file of ``sites_dir`` only disables its site (listed in
    ``Settings.disabled_sites``): what the daemon reads, so one typo stops one store."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(f"{file}: no such configuration file") from None
    except UnicodeDecodeError as e:
        raise ConfigError(f"{file}:{bad_bytes_message(file, 'utf-8-sig')}") from e
    except OSError as e:
        raise ConfigError(f"{file}: cannot read: {e}") from e
    try:
        root = yamlnodes.compose(text)
    except yamlnodes.YamlSyntaxError as e:
        raise ConfigError(f"{file}:{e.line or 1}: {e.message}") from e
    # The readers collect: every section's every mistake is reported, not the first.
    return _build(file, MapReader(str(file), root, "", errors=ErrorList()), env,
                  per_site_file=per_site_file)


_TOP_KEYS = ("sites", "source", "policy", "state_dir", "schedule", "http",
             "shutdown_grace_seconds", "log", "console", "probe", *FLEET_KEYS)
_WALK = WalkSettings()
_SITE_KEYS = ("name", "site_id", "api_key_env", "api_key_file", "base_url",
              "allow_insecure_http", "catalog",
              "rate_limit", "concurrency", "timeout_seconds", "location_id", "source", "policy",
              "merge", "match", "change_overlap_seconds", "v3_segments")
_SOURCE_KEYS = ("path", "format", "on_invalid_row", "encoding", "columns", "delimiter",
                "ignore_columns", "mode", *remote.SOURCE_KEYS)
_POLICY_KEYS = ("unmatched", "untracked", "buffer", "cap", "max_changed_fraction",
                "max_zeroed", "max_source_shrink", "write_mode", "fail_on_no_match",
                "min_matched_fraction")


def _build(file: Path, top: MapReader, env: Mapping[str, str], *,
           per_site_file: bool = False) -> Settings:
    # Every independent part is checked even after one fails, so that one run of
    # `syncd validate` lists every mistake of the file, not only the first: the readers
    # record bad values in ``errors`` and go on, and a check that cannot go on (a site
    # without its key) is recorded by ``errors.run``.
    errors = top.errors if top.errors is not None else ErrorList()
    errors.run(lambda: top.check_keys(_TOP_KEYS))
    base = file.parent
    source = errors.run(lambda: [_source_fields(r, base, env)
                                 for r in remote.source_readers(top)]) or [{}]
    policy = errors.run(lambda: _policy_fields(top.mapping("policy"))) or {}
    fleet = errors.run(lambda: read_fleet(top, base, env))
    site_nodes = errors.run(lambda: top.sequence("sites")) or []
    not_a_list = top.given("sites") and not isinstance(top.node("sites"), yaml.SequenceNode)
    if not site_nodes and not not_a_list and not top.given("sites_dir"):
        errors.run(lambda: raise_error(top.error(
            top.node("sites"), "sites", "required: at least one site to sync (or a sites_dir)")))

    def unless_wrong(read: Callable[[], T]) -> T | None:
        """``read()``, or None when it recorded an error: a site read with defaults in
        place of its mistakes is not compared with the others (no duplicate of a default)."""
        before = len(errors.messages)
        value = read()
        return value if len(errors.messages) == before else None

    def site_at(i: int, node: yaml.Node) -> Callable[[], tuple[SiteSettings, str, str] | None]:
        return lambda: unless_wrong(lambda: (
            _site(top.child(node, f"sites[{i}]"), base, source, policy, env),
            f"{top.file}:{yamlnodes.line_of(node)}: sites[{i}]", f"sites[{i}]"))

    # (site, "file:line: key path", what to call it in a message about another entry)
    placed = [p for p in (errors.run(site_at(i, node)) for i, node in enumerate(site_nodes))
              if p is not None]
    bad_files: list[BadSiteFile] = []
    if fleet is not None and fleet.sites_dir is not None and per_site_file:
        placed = _set_aside_duplicates(placed, _sites_dir_per_file(
            fleet.sites_dir, lambda m, d, stem: _site(m, d, source, policy, env,
                                                      default_name=stem), bad_files),
            bad_files)
    elif fleet is not None and fleet.sites_dir is not None:
        sites_dir = fleet.sites_dir
        placed += errors.run(lambda: [
            (site, f"{where}: site", where.rsplit(":", 1)[0])
            for site, where in read_sites_dir(
                sites_dir,
                lambda m, d, stem: unless_wrong(
                    lambda: _site(m, d, source, policy, env, default_name=stem)),
                errors=errors) if site is not None]) or []
    schedule = errors.run(lambda: _schedule(top.mapping("schedule")))
    http = errors.run(lambda: _http(top.mapping("http"), env))
    log_settings = errors.run(lambda: _log(top.mapping("log"), env))
    console = errors.run(lambda: read_console(top.mapping("console"), base, env))
    probe = errors.run(lambda: _probe(top.mapping("probe")))
    state_env = env.get(ENV_STATE_DIR)
    state_dir = Path(state_env) if state_env else base / (top.string("state_dir") or "state")
    grace_s = top.number("shutdown_grace_seconds", _SETTINGS_DEFAULTS.shutdown_grace_s)
    seen: dict[str, str] = {}
    stores: dict[tuple[str, str], str] = {}
    for site, where, label in placed:
        if site.name in seen:
            errors.add(f"{where}.name: {site.name!r} is also the name of {seen[site.name]}")
        seen.setdefault(site.name, label)
        # Two entries for one store would each get a budget and a lock of their own: twice
        # Wix's rate limit, and two writers fighting over every change.
        store = (site.base_url.rstrip("/"), site.site_id)
        if store in stores:
            errors.add(f"{where}.site_id: {site.site_id!r} at {site.base_url} is also the "
                       f"store of {stores[store]}")
        stores.setdefault(store, label)
    errors.raise_if_any()
    assert fleet is not None and schedule is not None and http is not None
    assert log_settings is not None and console is not None and probe is not None
    sites = tuple(site for site, _, _ in placed)
    return Settings(
        path=file,
        sites=sites,
        state_dir=state_dir,
        schedule=schedule,
        http=http,
        log=log_settings,
        console=console,
        probe=probe,
        shutdown_grace_s=grace_s,
        fleet=fleet,
        disabled_sites=tuple(bad_files),
        site_files=tuple((site.name, Path(label)) for site, _, label in placed
                         if per_site_file and fleet.sites_dir is not None
                         and Path(label).parent == fleet.sites_dir),
    )


_Placed = tuple[SiteSettings, str, str]
"""A site, ``file:line: key path``, and what to call it in a message about another entry."""


def _sites_dir_per_file(directory: Path, build: Callable[[MapReader, Path, str], SiteSettings],
                        bad: list[BadSiteFile]) -> list[_Placed]:
    """The good files of ``sites_dir``; each bad one is added to ``bad``."""
    good, unusable = read_sites_dir_per_file(directory, build)
    bad.extend(unusable)
    return [(site, f"{where}: site", where.rsplit(":", 1)[0]) for site, where in good]


def _set_aside_duplicates(placed: list[_Placed], from_dir: list[_Placed],
                          bad: list[BadSiteFile]) -> list[_Placed]:
    """``placed`` plus the files of ``from_dir`` that name neither a site nor a store taken
    by an earlier entry; the others are added to ``bad`` with what they clash with."""
    names = {site.name: label for site, _, label in placed}
    stores = {(site.base_url.rstrip("/"), site.site_id): label for site, _, label in placed}
    kept = list(placed)
    for site, where, label in from_dir:
        store = (site.base_url.rstrip("/"), site.site_id)
        if site.name in names:
            error = f"{where}.name: {site.name!r} is also the name of {names[site.name]}"
        elif store in stores:
            error = (f"{where}.site_id: {site.site_id!r} at {site.base_url} is also the "
                     f"store of {stores[store]}")
        else:
            names[site.name], stores[store] = label, label
            kept.append((site, where, label))
            continue
        bad.append(BadSiteFile(site.name, Path(label), error))
    return kept


def _site(m: MapReader, base: Path, source: list[dict[str, Any]], policy: dict[str, Any],
          env: Mapping[str, str], *, default_name: str | None = None) -> SiteSettings:
    m.check_keys(_SITE_KEYS)
    name = m.string("name", default_name,
                    required="" if default_name else "a short name for logs and state files")
    name = name or ""
    if name and not _SITE_NAME.fullmatch(name):
        m.fail(m.error(m.node("name"), "name",
                       "use letters, digits, '_', '.' and '-' (it names state files)"))
    site_id = m.string("site_id", required="the Wix site id (wix-site-id header)") or ""
    api_key, origin = m.collect(lambda: resolve_api_key(m, base, env)) or (Secret(""), "")
    base_url = env.get(ENV_BASE_URL) or m.string("base_url", _WIX.base_url) or _WIX.base_url
    if not _URL.fullmatch(base_url):
        where = f"environment {ENV_BASE_URL}" if env.get(ENV_BASE_URL) else None
        message = f"must be an http(s) URL such as {_WIX.base_url}, not {base_url!r}"
        if where:
            raise ConfigError(f"{where}: {message}")
        m.fail(m.error(m.node("base_url"), "base_url", message))
        base_url = _WIX.base_url
    allow_http = m.boolean("allow_insecure_http", _WIX.allow_insecure_http)
    if not allow_http and (problem := plain_http_problem(base_url)) is not None:
        message = (f"{problem}; use https, or set allow_insecure_http: true on site "
                   f"{name!r} if that network is trusted (an emulator in a private network)")
        if env.get(ENV_BASE_URL):
            raise ConfigError(f"{m.file}: environment {ENV_BASE_URL}: {message}")
        m.fail(m.error(m.node("base_url"), "base_url", message))
    rate = m.mapping("rate_limit")
    rate.check_keys(("requests", "per_seconds", "shared_key"))
    # A mistake in a source is recorded and the rest of the site still read.
    read = [m.collect(partial(_site_source, m, fields, env)) for fields in m.collect(
        lambda: remote.site_source_fields(m, source, lambda r: _source_fields(r, base, env)))
        or ()]
    sources = [s for s in read if s is not None] or [_SOURCE]
    wix = WixSettings(
        base_url=base_url.rstrip("/"),
        allow_insecure_http=allow_http,
        rate_limit=rate.integer("requests", _WIX.rate_limit, minimum=1),
        rate_period_s=rate.number("per_seconds", _WIX.rate_period_s, positive=True),
        rate_shared_by_key=rate.boolean("shared_key", _WIX.rate_shared_by_key),
        max_in_flight=m.integer("concurrency", _WIX.max_in_flight, minimum=1, maximum=64),
        timeout_s=m.number("timeout_seconds", _WIX.timeout_s, positive=True),
    )
    return SiteSettings(
        name=name,
        site_id=site_id,
        source=sources[0],
        more_sources=tuple(sources[1:]),
        merge=m.choice("merge", MergeRule, _SITE_MERGE),
        match=remote.match_rules(m.mapping("match")),
        policy=replace(Policy(), **{**policy, **_policy_fields(m.mapping("policy"))}),
        api_key=api_key,
        api_key_origin=origin,
        catalog=m.choice("catalog", CatalogChoice, CatalogChoice.AUTO),
        wix=wix,
        walk=WalkSettings(
            workers=wix.max_in_flight, location_id=m.string("location_id"),
            change_overlap_s=m.number("change_overlap_seconds", _WALK.change_overlap_s),
            v3_segments=m.integer("v3_segments", _WALK.v3_segments, minimum=1, maximum=256)),
    )


def _source_fields(m: MapReader, base: Path, env: Mapping[str, str]) -> dict[str, Any]:
    """The source keys given in one mapping, as SourceSettings fields (absent keys left out,
    so that a site's mapping overrides the top level key by key)."""
    m.check_keys(_SOURCE_KEYS)
    fields: dict[str, Any] = remote.source_fields(m, base, env)
    path = m.string("path")
    if path is not None and not remote.is_remote(path):
        fields["path"] = base / path
    if m.given("format"):
        fields["format"] = m.choice("format", SourceFormat, _SOURCE.format)
    if m.given("on_invalid_row"):
        fields["on_invalid_row"] = m.choice("on_invalid_row", OnInvalidRow,
                                            _SOURCE.on_invalid_row)
    if m.given("mode"):
        fields["mode"] = m.choice("mode", SourceMode, _SOURCE.mode)
    encoding = m.string("encoding")
    if encoding is not None:
        try:
            codecs.lookup(encoding)
        except LookupError:
            m.fail(m.error(m.node("encoding"), "encoding",
                           f"unknown encoding {encoding!r} (try utf-8, latin-1, cp1252)"))
        else:
            fields["encoding"] = encoding
    delimiter = m.text("delimiter")
    if delimiter is not None:
        delimiter = {"tab": "\t", "\\t": "\t"}.get(delimiter.lower(), delimiter)
        if len(delimiter) != 1:
            m.fail(m.error(m.node("delimiter"), "delimiter",
                           "must be one character (or 'tab')"))
        else:
            fields["delimiter"] = delimiter
    columns = m.mapping("columns")
    if columns.entries:
        columns.check_keys(Columns.__dataclass_fields__)
        renamed: dict[str, Any] = {name: columns.string(name)
                                   for name in Columns.__dataclass_fields__
                                   if columns.given(name)}
        fields["columns"] = replace(Columns(), **renamed)
    if m.given("ignore_columns"):
        names = []
        for node in m.sequence("ignore_columns"):
            text = yamlnodes.scalar_text(node)
            if text is None:
                m.fail(m.error(node, "ignore_columns", "expected column names"))
                continue
            names.append(text.strip().lower())
        fields["ignore_columns"] = frozenset(names)
    return fields


def _site_source(m: MapReader, fields: dict[str, Any],
                 env: Mapping[str, str]) -> SourceSettings:
    """The site's SourceSettings from the merged keys; SYNCD_SOURCE_PATH wins over the file,
    and then the format follows its extension when that implies one."""
    env_path = env.get(ENV_SOURCE_PATH)
    if env_path:
        fields.pop(remote.URL_FIELD, None)
        fields["path"] = Path(env_path)
        if remote.is_remote(env_path):
            fields[remote.URL_FIELD] = env_path
    remote.finish_source_fields(m, fields)
    path = fields.pop("path", None)
    if not isinstance(path, Path):
        raise m.error(None, "source.path",
                      "required: the stock file (give source.path at the top level or in the "
                      f"site, or set {ENV_SOURCE_PATH})")
    implied = SourceFormat.for_path(path)
    if "format" not in fields or (env_path and implied is not None):
        if implied is None:
            raise m.error(None, "source.format",
                          f"cannot tell the format of {path.name!r} from its extension: "
                          "set source.format to csv, yaml, xlsx or jsonl")
        fields["format"] = implied
    return replace(SourceSettings(path=path), **fields)


def _policy_fields(m: MapReader) -> dict[str, Any]:
    m.check_keys(_POLICY_KEYS)
    fields: dict[str, Any] = {}
    if m.given("unmatched"):
        fields["unmatched"] = m.choice("unmatched", Unmatched, _POLICY.unmatched)
    if m.given("untracked"):
        fields["untracked"] = m.choice("untracked", Untracked, _POLICY.untracked)
    if m.given("buffer"):
        fields["buffer"] = m.integer("buffer", 0, maximum=MAX_QUANTITY)
    if m.given("cap"):
        fields["cap"] = m.integer("cap", 0, maximum=MAX_QUANTITY)
    if m.given("fail_on_no_match"):
        fields["fail_on_no_match"] = m.boolean("fail_on_no_match", _POLICY.fail_on_no_match)
    for key in ("max_changed_fraction", "max_source_shrink", "min_matched_fraction"):
        if m.given(key):
            fields[key] = m.number(key, 0.0, maximum=1.0)
    if m.given("max_zeroed"):
        fields["max_zeroed"] = m.integer("max_zeroed", 0)
    if m.given("write_mode"):  # Catalog V1: Increment/Decrement batches (syncd.core.deltas)
        fields["write_mode"] = m.choice("write_mode", WriteMode, _POLICY.write_mode)
    return fields


def _schedule(m: MapReader) -> ScheduleSettings:
    m.check_keys(("interval_seconds", "cron", "jitter_seconds", "watch_source",
                  "settle_seconds", "full_every_seconds", "incremental", "resync_seconds"))
    interval = m.optional_number("interval_seconds", positive=True)
    cron = m.string("cron")
    if interval is not None and cron is not None:
        m.fail(m.error(m.node("cron"), "cron", "give interval_seconds or cron, not both"))
    if cron is not None:
        try:
            CronSim(cron, datetime(2000, 1, 1, tzinfo=UTC))
        except CronSimError as e:
            m.fail(m.error(m.node("cron"), "cron",
                           f"not a 5-field cron expression ({e}); quote it in YAML"))
    return ScheduleSettings(
        interval_s=None if cron is not None else (interval or _SCHEDULE.interval_s),
        cron=cron,
        jitter_s=m.number("jitter_seconds", _SCHEDULE.jitter_s),
        watch_source=m.boolean("watch_source", _SCHEDULE.watch_source),
        settle_s=m.number("settle_seconds", _SCHEDULE.settle_s),
        full_every_s=m.optional_number("full_every_seconds", positive=True),
        incremental=m.boolean("incremental", _SCHEDULE.incremental),
        resync_s=m.number("resync_seconds", _SCHEDULE.resync_s, positive=True),
    )


def _http(m: MapReader, env: Mapping[str, str]) -> HttpSettings:
    m.check_keys(("listen", "ready_max_age_seconds", "unready_share"))
    from_env = env.get(ENV_HTTP_LISTEN)
    listen = from_env or m.string("listen") or str(_HTTP.listen)
    try:
        address = ListenAddress.parse(listen)
    except ConfigError as e:
        if from_env:
            raise ConfigError(f"environment {ENV_HTTP_LISTEN}: {e}") from None
        m.fail(m.error(m.node("listen"), "listen", str(e)))
        address = _HTTP.listen
    return HttpSettings(listen=address, ready_max_age_s=m.number(
        "ready_max_age_seconds", _HTTP.ready_max_age_s, positive=True),
        unready_share=m.number("unready_share", _HTTP.unready_share, positive=True,
                               maximum=1.0))


def _probe(m: MapReader) -> ProbeSettings:
    m.check_keys(("max_age_days",))
    return ProbeSettings(max_age_days=m.number("max_age_days", _PROBE.max_age_days,
                                               positive=True))


def _log(m: MapReader, env: Mapping[str, str]) -> LogSettings:
    m.check_keys(("level", "format"))
    level = m.choice("level", LogLevel, _LOG.level)
    log_format = m.choice("format", LogFormat, _LOG.format)
    for var, kind in ((ENV_LOG_LEVEL, LogLevel), (ENV_LOG_FORMAT, LogFormat)):
        value = env.get(var)
        if not value:
            continue
        try:
            parsed = kind(value.strip().lower())
        except ValueError:
            options = " | ".join(member.value for member in kind)
            raise ConfigError(f"environment {var}: must be one of {options}, "
                              f"not {value!r}") from None
        if isinstance(parsed, LogLevel):
            level = parsed
        else:
            log_format = LogFormat(parsed)
    return LogSettings(level=level, format=log_format)
