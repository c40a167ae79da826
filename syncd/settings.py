"""The configuration: one YAML file, checked once at start-up, then a tree of frozen values.

``Settings.from_file(path)`` reads the file, checks every key (unknown keys are errors,
with a "did you mean"), applies environment overrides, resolves each site's API key, and
returns frozen dataclasses that the entry point passes down. Every error is a
``ConfigError`` naming the file, the line and the key::

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

API keys are read from the environment variable named by ``api_key_env`` or from the file
named by ``api_key_file`` (a systemd credential, a Docker secret), are registered with the
log redaction (``syncd.logs.SECRETS``), and are wrapped in ``Secret`` so that no repr, log
line or traceback shows them. docs/configuration.md is the user's reference.
"""

from __future__ import annotations

import codecs
import hmac
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from cronsim import CronSim, CronSimError

from syncd.diff import Policy, Unmatched, Untracked, WriteMode
from syncd.errors import ConfigError
from syncd.logs import SECRETS
from syncd.model import MAX_QUANTITY
from syncd.sources import Columns, OnInvalidRow, SourceFormat, SourceSettings, yamlnodes
from syncd.sources.yamlnodes import MapReader
from syncd.wix.settings import DEFAULT_BASE_URL, WalkSettings, WixSettings

__all__ = [
    "CatalogChoice", "Columns", "HttpSettings", "LogFormat", "LogSettings", "OnInvalidRow",
    "Policy", "RateLimit", "ScheduleSettings", "Secret", "Settings", "SiteSettings",
    "SourceFormat", "SourceSettings", "Unmatched", "Untracked",
]

ENV_STATE_DIR = "SYNCD_STATE_DIR"
ENV_SOURCE_PATH = "SYNCD_SOURCE_PATH"
ENV_BASE_URL = "SYNCD_BASE_URL"
ENV_LOG_LEVEL = "SYNCD_LOG_LEVEL"
ENV_LOG_FORMAT = "SYNCD_LOG_FORMAT"
ENV_HTTP_LISTEN = "SYNCD_HTTP_LISTEN"

_SITE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_URL = re.compile(r"https?://[^\s/]+(/[^\s]*)?")


class Secret:
    """A string that never shows itself: repr and str print ``Secret('********')``.

    ``reveal()`` is the only way to the value, so every place that sends the key to Wix is
    easy to find.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The secret itself, for the Authorization header and nothing else."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self) -> str | tuple[object, ...]:
        raise TypeError("a Secret is not pickled: it would leave the process in clear text")


class CatalogChoice(StrEnum):
    """Which Wix catalog a site runs."""

    AUTO = "auto"
    """Ask Wix once per start (one request)."""
    V1 = "v1"
    V3 = "v3"


class LogFormat(StrEnum):
    AUTO = "auto"
    """JSON when stderr is not a terminal (journald, Docker), console lines when it is."""
    JSON = "json"
    CONSOLE = "console"


class LogLevel(StrEnum):
    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class RateLimit:
    """A site's request budget, reads and writes together."""

    requests: int = 200
    """Requests per window. Wix documents 200 per minute per app instance."""

    per_s: float = 60.0
    """Window length in seconds."""


@dataclass(frozen=True, slots=True)
class SiteSettings:
    """One Wix site to keep in sync, with its own source and policy."""

    name: str
    """Short name for logs, metrics and state files (letters, digits, ``_.-``)."""

    site_id: str
    """The Wix site id, sent as ``wix-site-id``."""

    source: SourceSettings
    """The source of truth for this site (the top-level ``source`` unless overridden)."""

    policy: Policy
    """How the source is applied, and the guard limits (top-level unless overridden)."""

    api_key: Secret = field(repr=False)
    """The Wix API key, resolved at load; never logged."""

    api_key_origin: str = ""
    """Where the key came from (``env WIX_API_KEY``, ``file /run/...``), for messages."""

    base_url: str = DEFAULT_BASE_URL
    """Root of the Wix REST API; the emulator's URL for trials and tests."""

    catalog: CatalogChoice = CatalogChoice.AUTO
    """``auto`` asks Wix (one request); ``v1``/``v3`` skip the question."""

    rate_limit: RateLimit = field(default_factory=RateLimit)
    """Request budget; keep it at or below what Wix allows, or requests start to fail."""

    concurrency: int = 8
    """Requests in flight at once. 8 hides network latency at 200/min without looking like
    a flood."""

    timeout_s: float = 30.0
    """Deadline per request, in seconds; room for a 1000-item bulk write, not for a dead peer."""

    location_id: str | None = None
    """Catalog V3: the stock location to sync; None = every location (one item each)."""

    def wix_settings(self) -> WixSettings:
        """The Wix client's tunables for this site (other tunables keep their defaults)."""
        return WixSettings(base_url=self.base_url, timeout_s=self.timeout_s,
                           rate_limit=self.rate_limit.requests,
                           rate_period_s=self.rate_limit.per_s,
                           max_in_flight=self.concurrency)

    def walk_settings(self) -> WalkSettings:
        """The store walkers' tunables for this site."""
        return WalkSettings(workers=self.concurrency, location_id=self.location_id)


@dataclass(frozen=True, slots=True)
class ScheduleSettings:
    """When the daemon (``syncd run``) syncs. Exactly one of interval and cron is set."""

    interval_s: float | None = 300.0
    """Seconds between full cycles. 5 minutes keeps the store close to the source while a
    1,000-product V1 store costs ~10 % of the hourly request budget."""

    cron: str | None = None
    """A 5-field cron expression (UTC) instead of the interval."""

    jitter_s: float = 10.0
    """Each scheduled cycle starts up to this much later, at random, so that many daemons
    started together do not hit Wix together."""

    watch_source: bool = True
    """Sync soon after the source file changes, not only on schedule."""

    settle_s: float = 2.0
    """A changed source must stay unchanged this long before it is read, so that a file
    being uploaded or saved is not read half-written."""

    full_every_s: float | None = None
    """With ``watch_source``, the longest time between two full syncs (store fully re-read);
    None = only the schedule decides. Edits between them are applied by a fast cycle that
    re-reads only the products the edit touched."""


@dataclass(frozen=True, slots=True)
class HttpSettings:
    """The health, readiness and metrics endpoint of the daemon."""

    host: str = "127.0.0.1"
    """Listen address; loopback by default, as the endpoint has no authentication."""

    port: int = 9108
    """Listen port; 0 picks a free one (tests)."""

    ready_max_age_s: float = 900.0
    """``/readyz`` fails when a site's last successful sync is older than this: three
    default intervals, so one failed cycle does not flap readiness."""

    @property
    def listen(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class LogSettings:
    level: LogLevel = LogLevel.INFO
    """``info`` logs one summary line per cycle plus every write; ``debug`` adds requests."""

    format: LogFormat = LogFormat.AUTO
    """``auto``: JSON when not on a terminal."""


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything syncd is configured with, built once from the file and the environment."""

    path: Path
    """The configuration file."""

    sites: tuple[SiteSettings, ...]
    """The sites to sync (names unique)."""

    state_dir: Path
    """Run state and journals (``<site>.state.json``, ``journal/<site>.jsonl``). Default
    ``./state`` next to the configuration file."""

    schedule: ScheduleSettings = field(default_factory=ScheduleSettings)
    http: HttpSettings = field(default_factory=HttpSettings)
    log: LogSettings = field(default_factory=LogSettings)

    shutdown_grace_s: float = 20.0
    """After SIGTERM, in-flight writes get this long to finish before they are cancelled.
    systemd's TimeoutStopSec and Docker's stop timeout must be longer."""

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], *,
                  env: Mapping[str, str] = os.environ) -> Settings:
        """Read, check and resolve the configuration file; ``ConfigError`` when unusable."""
        file = Path(path)
        try:
            text = file.read_text(encoding="utf-8-sig")
        except FileNotFoundError:
            raise ConfigError(f"{file}: no such configuration file") from None
        except (OSError, UnicodeDecodeError) as e:
            raise ConfigError(f"{file}: cannot read: {e}") from e
        try:
            root = yamlnodes.compose(text)
        except yamlnodes.YamlSyntaxError as e:
            raise ConfigError(f"{file}:{e.line or 1}: {e.message}") from e
        return _build(file, MapReader(str(file), root, ""), env)


_TOP_KEYS = ("sites", "source", "policy", "state_dir", "schedule", "http",
             "shutdown_grace_seconds", "log")
_SITE_KEYS = ("name", "site_id", "api_key_env", "api_key_file", "base_url", "catalog",
              "rate_limit", "concurrency", "timeout_seconds", "location_id", "source", "policy")
_SOURCE_KEYS = ("path", "format", "on_invalid_row", "encoding", "columns", "delimiter",
                "ignore_columns")
_POLICY_KEYS = ("unmatched", "untracked", "buffer", "cap", "max_changed_fraction",
                "max_zeroed", "max_source_shrink", "write_mode")


def _build(file: Path, top: MapReader, env: Mapping[str, str]) -> Settings:
    top.check_keys(_TOP_KEYS)
    base = file.parent
    source = _source_fields(top.mapping("source"), base)
    policy = _policy_fields(top.mapping("policy"))
    site_nodes = top.sequence("sites")
    if not site_nodes:
        raise top.error(top.node("sites"), "sites", "required: at least one site to sync")
    sites = tuple(_site(MapReader(top.file, node, f"sites[{i}]"), base, source, policy, env)
                  for i, node in enumerate(site_nodes))
    seen: dict[str, int] = {}
    stores: dict[tuple[str, str], int] = {}
    for i, site in enumerate(sites):
        line = yamlnodes.line_of(site_nodes[i])
        if site.name in seen:
            raise ConfigError(f"{top.file}:{line}: sites[{i}].name: "
                              f"{site.name!r} is also the name of sites[{seen[site.name]}]")
        seen[site.name] = i
        # Two entries for one store would each get a budget and a lock of their own: twice
        # Wix's rate limit, and two writers fighting over every change.
        store = (site.base_url.rstrip("/"), site.site_id)
        if store in stores:
            raise ConfigError(f"{top.file}:{line}: sites[{i}].site_id: {site.site_id!r} at "
                              f"{site.base_url} is also the store of sites[{stores[store]}]")
        stores[store] = i

    state_env = env.get(ENV_STATE_DIR)
    state_dir = Path(state_env) if state_env else base / (top.string("state_dir") or "state")
    return Settings(
        path=file,
        sites=sites,
        state_dir=state_dir,
        schedule=_schedule(top.mapping("schedule")),
        http=_http(top.mapping("http"), env),
        log=_log(top.mapping("log"), env),
        shutdown_grace_s=top.number("shutdown_grace_seconds", 20.0),
    )


def _site(m: MapReader, base: Path, source: dict[str, Any], policy: dict[str, Any],
          env: Mapping[str, str]) -> SiteSettings:
    m.check_keys(_SITE_KEYS)
    name = m.string("name", required="a short name for logs and state files") or ""
    if not _SITE_NAME.fullmatch(name):
        raise m.error(m.node("name"), "name",
                      "use letters, digits, '_', '.' and '-' (it names state files)")
    site_id = m.string("site_id", required="the Wix site id (wix-site-id header)") or ""
    api_key, origin = _api_key(m, base, env)
    base_url = env.get(ENV_BASE_URL) or m.string("base_url", DEFAULT_BASE_URL) or DEFAULT_BASE_URL
    if not _URL.fullmatch(base_url):
        where = f"environment {ENV_BASE_URL}" if env.get(ENV_BASE_URL) else None
        message = f"must be an http(s) URL such as {DEFAULT_BASE_URL}, not {base_url!r}"
        if where:
            raise ConfigError(f"{where}: {message}")
        raise m.error(m.node("base_url"), "base_url", message)
    rate = m.mapping("rate_limit")
    rate.check_keys(("requests", "per_seconds"))
    source_settings = _site_source(
        m, {**source, **_source_fields(m.mapping("source"), base)}, env)
    return SiteSettings(
        name=name,
        site_id=site_id,
        source=source_settings,
        policy=replace(Policy(), **{**policy, **_policy_fields(m.mapping("policy"))}),
        api_key=api_key,
        api_key_origin=origin,
        base_url=base_url.rstrip("/"),
        catalog=m.choice("catalog", CatalogChoice, CatalogChoice.AUTO),
        rate_limit=RateLimit(requests=rate.integer("requests", 200, minimum=1),
                             per_s=rate.number("per_seconds", 60.0, positive=True)),
        concurrency=m.integer("concurrency", 8, minimum=1, maximum=64),
        timeout_s=m.number("timeout_seconds", 30.0, positive=True),
        location_id=m.string("location_id"),
    )


def _api_key(m: MapReader, base: Path, env: Mapping[str, str]) -> tuple[Secret, str]:
    """The key from ``api_key_env`` or ``api_key_file`` (exactly one), registered for
    redaction. Never quoted in an error message."""
    var, file_text = m.string("api_key_env"), m.string("api_key_file")
    if (var is None) == (file_text is None):
        raise m.error(m.node("api_key_file"), "api_key_env",
                      "give exactly one of api_key_env (an environment variable name) and "
                      "api_key_file (a file holding the key)")
    if var is not None:
        if not _ENV_NAME.fullmatch(var):
            # Most likely the key itself was pasted here: never echo it.
            raise m.error(m.node("api_key_env"), "api_key_env",
                          "must be the name of an environment variable (letters, digits and "
                          "_), not the key itself")
        key = env.get(var, "").strip()
        origin = f"env {var}"
        if not key:
            raise m.error(m.node("api_key_env"), "api_key_env",
                          f"the environment variable {var} is not set or empty")
    else:
        assert file_text is not None
        key_path = base / _expand_env(m, file_text, env)
        origin = f"file {key_path}"
        try:
            key = key_path.read_text(encoding="utf-8").strip()
        except OSError as e:
            raise m.error(m.node("api_key_file"), "api_key_file",
                          f"cannot read {key_path}: {e.strerror or e}") from None
        if not key:
            raise m.error(m.node("api_key_file"), "api_key_file", f"{key_path} is empty")
    SECRETS.add(key)
    return Secret(key), origin


_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _expand_env(m: MapReader, text: str, env: Mapping[str, str]) -> str:
    """``api_key_file`` with ``${VAR}`` replaced from the environment, so a systemd unit can
    say ``${CREDENTIALS_DIRECTORY}/wix-api-key`` (systemd sets the variable per service)."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if not env.get(name):
            raise m.error(m.node("api_key_file"), "api_key_file",
                          f"refers to ${{{name}}}, which is not set"
                          + (" (set by systemd's LoadCredential=)"
                             if name == "CREDENTIALS_DIRECTORY" else ""))
        return env[name]

    return _ENV_REF.sub(value, text)


def _source_fields(m: MapReader, base: Path) -> dict[str, Any]:
    """The source keys given in one mapping, as SourceSettings fields (absent keys left out,
    so that a site's mapping overrides the top level key by key)."""
    m.check_keys(_SOURCE_KEYS)
    fields: dict[str, Any] = {}
    path = m.string("path")
    if path is not None:
        fields["path"] = base / path
    if m.given("format"):
        fields["format"] = m.choice("format", SourceFormat, SourceFormat.CSV)
    if m.given("on_invalid_row"):
        fields["on_invalid_row"] = m.choice("on_invalid_row", OnInvalidRow, OnInvalidRow.FAIL)
    encoding = m.string("encoding")
    if encoding is not None:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise m.error(m.node("encoding"), "encoding",
                          f"unknown encoding {encoding!r} (try utf-8, latin-1, cp1252)") from None
        fields["encoding"] = encoding
    delimiter = m.text("delimiter")
    if delimiter is not None:
        delimiter = {"tab": "\t", "\\t": "\t"}.get(delimiter.lower(), delimiter)
        if len(delimiter) != 1:
            raise m.error(m.node("delimiter"), "delimiter",
                          "must be one character (or 'tab')")
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
                raise m.error(node, "ignore_columns", "expected column names")
            names.append(text.strip().lower())
        fields["ignore_columns"] = frozenset(names)
    return fields


def _site_source(m: MapReader, fields: dict[str, Any],
                 env: Mapping[str, str]) -> SourceSettings:
    """The site's SourceSettings from the merged keys; SYNCD_SOURCE_PATH wins over the file,
    and then the format follows its extension when that implies one."""
    env_path = env.get(ENV_SOURCE_PATH)
    if env_path:
        fields["path"] = Path(env_path)
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
                          "set source.format to csv or yaml")
        fields["format"] = implied
    return replace(SourceSettings(path=path), **fields)


def _policy_fields(m: MapReader) -> dict[str, Any]:
    m.check_keys(_POLICY_KEYS)
    fields: dict[str, Any] = {}
    if m.given("unmatched"):
        fields["unmatched"] = m.choice("unmatched", Unmatched, Unmatched.IGNORE)
    if m.given("untracked"):
        fields["untracked"] = m.choice("untracked", Untracked, Untracked.IN_STOCK)
    if m.given("buffer"):
        fields["buffer"] = m.integer("buffer", 0, maximum=MAX_QUANTITY)
    if m.given("cap"):
        fields["cap"] = m.integer("cap", 0, maximum=MAX_QUANTITY)
    for key in ("max_changed_fraction", "max_source_shrink"):
        if m.given(key):
            fields[key] = m.number(key, 0.0, maximum=1.0)
    if m.given("max_zeroed"):
        fields["max_zeroed"] = m.integer("max_zeroed", 0)
    if m.given("write_mode"):  # Catalog V1: Increment/Decrement batches (syncd.deltas)
        fields["write_mode"] = m.choice("write_mode", WriteMode, WriteMode.AUTO)
    return fields


def _schedule(m: MapReader) -> ScheduleSettings:
    m.check_keys(("interval_seconds", "cron", "jitter_seconds", "watch_source",
                  "settle_seconds", "full_every_seconds"))
    interval = m.optional_number("interval_seconds", positive=True)
    cron = m.string("cron")
    if interval is not None and cron is not None:
        raise m.error(m.node("cron"), "cron", "give interval_seconds or cron, not both")
    if cron is not None:
        try:
            CronSim(cron, datetime(2000, 1, 1, tzinfo=UTC))
        except CronSimError as e:
            raise m.error(m.node("cron"), "cron",
                          f"not a 5-field cron expression ({e}); quote it in YAML") from None
    return ScheduleSettings(
        interval_s=None if cron is not None else (interval or 300.0),
        cron=cron,
        jitter_s=m.number("jitter_seconds", 10.0),
        watch_source=m.boolean("watch_source", True),
        settle_s=m.number("settle_seconds", 2.0),
        full_every_s=m.optional_number("full_every_seconds", positive=True),
    )


def _http(m: MapReader, env: Mapping[str, str]) -> HttpSettings:
    m.check_keys(("listen", "ready_max_age_seconds"))
    listen = env.get(ENV_HTTP_LISTEN) or m.string("listen", "127.0.0.1:9108") or ""
    host, sep, port = listen.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        message = f"expected HOST:PORT such as 127.0.0.1:9108, not {listen!r}"
        if env.get(ENV_HTTP_LISTEN):
            raise ConfigError(f"environment {ENV_HTTP_LISTEN}: {message}")
        raise m.error(m.node("listen"), "listen", message)
    return HttpSettings(host=host, port=int(port),
                        ready_max_age_s=m.number("ready_max_age_seconds", 900.0, positive=True))


def _log(m: MapReader, env: Mapping[str, str]) -> LogSettings:
    m.check_keys(("level", "format"))
    level = m.choice("level", LogLevel, LogLevel.INFO)
    log_format = m.choice("format", LogFormat, LogFormat.AUTO)
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
