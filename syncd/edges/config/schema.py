"""The configuration schema: one tree of frozen values, each field with its default and reason.

This is the only place a configuration default is written. The loader
(``syncd.edges.config.loader``) takes every default from these classes, and the parts other
layers use are these very values: a site's ``wix`` is what its Wix client runs with, its
``walk`` what the walkers run with, ``source`` what the readers read, ``policy`` what the
differ and the guards apply; the daemon builds its own view from ``schedule``, ``http``
and ``shutdown_grace_s``.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from syncd.base.errors import ConfigError
from syncd.core.policy import Policy
from syncd.edges.config.client import CatalogChoice, WalkSettings, WixSettings
from syncd.edges.config.console import ConsoleSettings
from syncd.edges.config.fleet import BadSiteFile, FleetSettings
from syncd.edges.config.secrets import Secret
from syncd.edges.config.source import MatchRules, MergeRule, SourceSettings


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
    """A site's request budget, reads and writes together (a view of its ``WixSettings``)."""

    requests: int
    """Requests per window."""

    per_s: float
    """Window length in seconds."""

    shared_key: bool
    """Shared with every site that uses the same API key (``rate_limit.shared_key``)."""


def is_loopback_host(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and localhost."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class ListenAddress:
    """A ``host:port`` to listen on (``[v6]:port`` for IPv6)."""

    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    @property
    def is_loopback(self) -> bool:
        """Only this machine can reach the address."""
        return is_loopback_host(self.host)

    @classmethod
    def parse(cls, value: str) -> ListenAddress:
        """``host:port`` into parts; ``ConfigError`` (without a location) when malformed."""
        host, sep, port_text = value.rpartition(":")
        if host.startswith("[") and host.endswith("]"):
            host = host[1:-1]
        if not sep or not host or not port_text.isdigit() or int(port_text) > 65535:
            raise ConfigError(
                f"expected HOST:PORT such as {DEFAULT_LISTEN}, not {value!r}")
        return cls(host, int(port_text))


DEFAULT_LISTEN = "127.0.0.1:9108"
"""Loopback by default: the endpoint has no authentication and names the sites."""


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

    catalog: CatalogChoice = CatalogChoice.AUTO
    """``auto`` asks Wix (one request); ``v1``/``v3`` skip the question."""

    wix: WixSettings = field(default_factory=WixSettings)
    """How the site's client talks to Wix: ``base_url``, ``timeout_s``, the rate limit
    (``rate_limit`` per ``rate_period_s``) and ``max_in_flight`` (the ``concurrency`` key)."""

    walk: WalkSettings = field(default_factory=WalkSettings)
    """How the store is read: resolver ``workers`` (= ``concurrency``) and, on Catalog V3,
    the stock ``location_id`` to sync (None = every location, one item each)."""

    more_sources: tuple[SourceSettings, ...] = ()
    """Further sources after ``source`` (``source`` given as a list), merged by ``merge``."""

    merge: MergeRule = MergeRule.FIRST
    """How several sources naming one target combine: first, sum, min or max."""

    match: MatchRules = field(default_factory=MatchRules)
    """How source SKUs are matched to store SKUs (case, prefixes, suffixes)."""

    @property
    def sources(self) -> tuple[SourceSettings, ...]:
        """Every source of the site, in the configured order."""
        return (self.source, *self.more_sources)

    @property
    def base_url(self) -> str:
        """Root of the Wix REST API; the emulator's URL for trials and tests."""
        return self.wix.base_url

    @property
    def rate_limit(self) -> RateLimit:
        """The request budget; keep it at or below what Wix allows."""
        return RateLimit(requests=self.wix.rate_limit, per_s=self.wix.rate_period_s,
                         shared_key=self.wix.rate_shared_by_key)

    @property
    def concurrency(self) -> int:
        """Requests in flight at once."""
        return self.wix.max_in_flight

    @property
    def timeout_s(self) -> float:
        """Deadline per request, in seconds."""
        return self.wix.timeout_s

    @property
    def location_id(self) -> str | None:
        """Catalog V3: the stock location to sync; None = every location."""
        return self.walk.location_id

    def wix_settings(self) -> WixSettings:
        """The Wix client's settings for this site."""
        return self.wix

    def walk_settings(self) -> WalkSettings:
        """The store walkers' settings for this site."""
        return self.walk


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
    being uploaded or saved is not read half-written, while an edit still reaches the store
    within ~3 s."""

    full_every_s: float | None = None
    """With ``watch_source``, the longest time between two full syncs (store fully re-read);
    None = only the schedule decides. Edits between them are applied by a fast cycle that
    re-reads only the products the edit touched."""

    incremental: bool = False
    """True: a scheduled cycle reads only what changed in the store since the last read
    (V3 ``updatedDate``, V1 ``lastUpdated``) instead of walking it whole, and a full walk
    runs at start-up, every ``resync_s``, after a failure and on SIGUSR1. A cycle then costs
    ~2 calls instead of ceil(items/1000) (V3) or ceil(products/100) (V1), so the interval
    can be as short as 15 s. Off by default: Wix does not confirm that every stock change
    moves those timestamps; when one does not, a site falls back to full walks by itself."""

    resync_s: float = 3600.0
    """With ``incremental``, the longest time between two full walks: the net that catches
    what timestamps cannot show (deleted products, a change whose timestamp did not move)."""


@dataclass(frozen=True, slots=True)
class HttpSettings:
    """The health, readiness and metrics endpoint of the daemon."""

    listen: ListenAddress = field(default_factory=lambda: ListenAddress.parse(DEFAULT_LISTEN))
    """Listen address (port 0 picks a free one, for tests)."""

    ready_max_age_s: float = 900.0
    """``/readyz`` fails when a site's last successful sync is older than this: three
    default intervals, so one failed cycle does not flap readiness."""

    unready_share: float = 1.0
    """``/readyz`` answers 503 once at least this share of the stores is unready (1.0: only
    when every store is): one store with a wrong key must not take a whole agency out of
    its load balancer. A daemon of one store is unready with its store either way."""

    @property
    def host(self) -> str:
        return self.listen.host

    @property
    def port(self) -> int:
        return self.listen.port


@dataclass(frozen=True, slots=True)
class ProbeSettings:
    """How syncd uses what ``syncd probe`` found out about each store."""

    max_age_days: float = 30.0
    """Findings older than this are ignored (the walk and ``write_mode: auto`` then take
    the path that is safe under every reading). A store may change how it behaves; a
    month is long enough not to ask often and short enough to notice a change."""


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
    console: ConsoleSettings = field(default_factory=ConsoleSettings)
    probe: ProbeSettings = field(default_factory=ProbeSettings)

    shutdown_grace_s: float = 20.0
    """After SIGTERM, in-flight writes get this long to finish before they are cancelled.
    systemd's TimeoutStopSec and Docker's stop timeout must be longer (the shipped files
    use 30 s)."""

    fleet: FleetSettings = field(default_factory=FleetSettings)
    """Many sites (``sites_dir``, ``max_concurrent_cycles``) and the state backend."""

    disabled_sites: tuple[BadSiteFile, ...] = ()
    """Files of ``sites_dir`` that cannot be used, when read for the daemon (which runs
    every other store); every other reading refuses the whole file set instead."""

    site_files: tuple[tuple[str, Path], ...] = ()
    """(site, file) of each good file of ``sites_dir``, when read for the daemon: a file
    that turns bad is matched to the site it held even when its name cannot be read."""

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], *,
                  env: Mapping[str, str] = os.environ,
                  per_site_file: bool = False) -> Settings:
        """Read, check and resolve the configuration file; ``ConfigError`` when unusable.
        ``per_site_file``: a bad file of ``sites_dir`` is set aside in ``disabled_sites``
        instead (the daemon's reading)."""
        from syncd.edges.config.loader import load_settings  # the loader builds this class

        return load_settings(path, env=env, per_site_file=per_site_file)
