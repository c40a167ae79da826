"""The daemon's view of the configuration, and the bundle the entry point hands it.

The daemon reads only what it needs to schedule and supervise (sites, schedule, watch,
HTTP, grace period) from ``DaemonConfig``; how a cycle is made stays behind
``DaemonSetup.open_runner``. The entry point builds a ``DaemonSetup`` from the settings file
(``syncd.frontends.daemon.wiring``), once at start-up and again on every SIGHUP, so a reload swaps
the whole bundle at once or, if the new file is invalid, nothing at all.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from syncd.base.errors import ConfigError
from syncd.edges.config import HttpSettings, ScheduleSettings, Settings
from syncd.frontends.daemon.backoff import Backoff
from syncd.frontends.daemon.cycle import CycleRunner, NamedSite
from syncd.frontends.daemon.polling import PollerFactory
from syncd.frontends.daemon.schedule import Schedule, make_schedule
from syncd.frontends.daemon.siteloop import FAST_LANE_MAX_KEYS
from syncd.frontends.daemon.source_changes import SourceTracker

SiteT = TypeVar("SiteT", bound=NamedSite)

_SCHEDULE = ScheduleSettings()
_BACKOFF = Backoff()
_HTTP = HttpSettings()
_GRACE_S = Settings(path=Path(), sites=(), state_dir=Path()).shutdown_grace_s


@dataclass(frozen=True, slots=True)
class DaemonConfig(Generic[SiteT]):
    """What the daemon itself needs to know; built from ``Settings`` by the wiring.

    The schedule and the HTTP endpoint are the settings file's own sections; the defaults
    are the configuration schema's (``syncd.edges.config.schema``), for tests that build a config
    by hand. The daemon's own tunables (fast lane, failure back-off) are declared here."""

    sites: tuple[SiteT, ...]
    """The sites to keep in sync, one loop each; names must be unique."""

    state_dir: Path
    """Where the per-site lock files live (and the cycle keeps its state)."""

    schedule: ScheduleSettings = _SCHEDULE
    """When cycles run: interval or cron, jitter, incremental reads, source watching."""

    http: HttpSettings = _HTTP
    """The health/readiness/metrics endpoint: its address and the readiness age."""

    shutdown_grace_s: float = _GRACE_S
    """How long in-flight cycles may run on after SIGTERM before they are cancelled."""

    max_concurrent_cycles: int | None = None
    """Cycles running at once across every site (None: no limit)."""

    spread_first_round_above: int | None = None
    """With more sites than this and than ``max_concurrent_cycles``: each site's first
    cycle runs at its stable offset within one period instead of at once (None: never, for
    configs built by hand; the settings file's default is 256)."""

    fast_max_keys: int = FAST_LANE_MAX_KEYS
    """Above this many changed source rows a change runs a full cycle instead of a fast one."""

    backoff_initial_s: float = _BACKOFF.initial_s
    """Wait after a first failed cycle; doubled after each further failure."""

    backoff_max_s: float = _BACKOFF.max_s
    """Longest wait between failed cycles: a Wix outage costs one attempt per 5 minutes."""

    bad_site_files: tuple[tuple[str, str], ...] = ()
    """(site, why its file is invalid) for each bad file of ``sites_dir``: a site named in
    ``sites`` too runs its previous settings, any other is disabled."""

    timetable: Schedule = field(init=False, repr=False, compare=False)
    """``schedule``'s interval or cron expression, parsed (ConfigError when it is invalid)."""

    def __post_init__(self) -> None:
        # Site names are unique: the loader refuses a duplicate with its file and line.
        schedule = self.schedule
        if self.shutdown_grace_s < 0 or schedule.settle_s < 0 or schedule.jitter_s < 0:
            raise ConfigError(
                "shutdown_grace_seconds, settle_seconds and jitter_seconds must be >= 0")
        if not 0 < self.backoff_initial_s <= self.backoff_max_s:
            raise ConfigError("failure backoff: need 0 < initial <= maximum")
        if self.http.ready_max_age_s <= 0:
            raise ConfigError("http.ready_max_age_seconds must be positive")
        if not 0 < self.http.unready_share <= 1:
            raise ConfigError("http.unready_share must be within 0..1 and above 0")
        object.__setattr__(self, "timetable",
                           make_schedule(interval_s=schedule.interval_s, cron=schedule.cron))


@dataclass(frozen=True, slots=True)
class WatchedSource:
    """A source file and the sites that read it; one watcher serves them all.

    ``tracker`` reads the file for the fast lane; None disables the fast lane for it (every
    settled change then runs a full cycle of its sites).
    """

    path: Path | str
    """The file, or the URL (without credentials) of a polled feed."""
    sites: tuple[str, ...]
    tracker: SourceTracker[Any] | None = None
    poller: PollerFactory | None = None
    """Set for a remote feed: polled on its own interval instead of watched as a file."""


@dataclass(frozen=True, slots=True)
class DaemonSetup(Generic[SiteT]):
    """One configuration generation: the daemon's config plus how to run cycles under it.

    ``open_runner`` is entered once per generation and exited when the generation ends
    (shutdown or an accepted reload): the place to open the HTTP session and to flush the
    journal. ``sources`` are the files to watch when ``config.watch_source`` is on.
    """

    config: DaemonConfig[SiteT]
    open_runner: Callable[[], AbstractAsyncContextManager[CycleRunner[SiteT]]]
    sources: tuple[WatchedSource, ...] = ()
