"""The daemon's view of the configuration, and the bundle the entry point hands it.

The daemon reads only what it needs to schedule and supervise (sites, schedule, watch,
HTTP, grace period) from ``DaemonConfig``; how a cycle is made stays behind
``DaemonSetup.open_runner``. The entry point builds a ``DaemonSetup`` from the settings file
(``syncd.daemon.wiring``), once at start-up and again on every SIGHUP, so a reload swaps the
whole bundle at once or, if the new file is invalid, nothing at all.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from syncd.config import HttpSettings, ListenAddress, ScheduleSettings, Settings
from syncd.daemon.backoff import Backoff
from syncd.daemon.changes import SourceTracker
from syncd.daemon.cycle import CycleRunner, NamedSite
from syncd.daemon.polling import PollerFactory
from syncd.daemon.schedule import Schedule
from syncd.daemon.siteloop import FAST_LANE_MAX_KEYS
from syncd.errors import ConfigError

SiteT = TypeVar("SiteT", bound=NamedSite)

_SCHEDULE = ScheduleSettings()
_BACKOFF = Backoff()
_HTTP = HttpSettings()
_GRACE_S = Settings(path=Path(), sites=(), state_dir=Path()).shutdown_grace_s


@dataclass(frozen=True, slots=True)
class DaemonConfig(Generic[SiteT]):
    """What the daemon itself needs to know; built from ``Settings`` by the wiring.

    The defaults are the configuration schema's (``syncd.config.schema``), for tests that
    build a config by hand; the daemon's own tunables (fast lane, failure back-off) are
    declared here."""

    sites: tuple[SiteT, ...]
    """The sites to keep in sync, one loop each; names must be unique."""

    state_dir: Path
    """Where the per-site lock files live (and the cycle keeps its state)."""

    schedule: Schedule
    """When full cycles run (interval or cron)."""

    jitter_s: float = 0.0
    """Each scheduled full cycle is delayed by a random 0..jitter_s seconds."""

    full_every_s: float | None = None
    """Longest time between two full cycles, whatever the schedule (None: schedule only)."""

    incremental: bool = _SCHEDULE.incremental
    """Scheduled cycles read only what changed in the store; full walks every resync_s."""

    resync_s: float = _SCHEDULE.resync_s
    """With ``incremental``: the longest time between two full walks."""

    watch_source: bool = _SCHEDULE.watch_source
    """Run a cycle when a site's source file changes (after it settles)."""

    settle_s: float = _SCHEDULE.settle_s
    """Seconds a changed source must stay unchanged before it is read."""

    listen: ListenAddress = _HTTP.listen
    """Address of the health/readiness/metrics endpoint."""

    ready_max_age_s: float = _HTTP.ready_max_age_s
    """/readyz fails when a site's last successful cycle is older than this."""

    shutdown_grace_s: float = _GRACE_S
    """How long in-flight cycles may run on after SIGTERM before they are cancelled."""

    fast_max_keys: int = FAST_LANE_MAX_KEYS
    """Above this many changed source rows a change runs a full cycle instead of a fast one."""

    backoff_initial_s: float = _BACKOFF.initial_s
    """Wait after a first failed cycle; doubled after each further failure."""

    backoff_max_s: float = _BACKOFF.max_s
    """Longest wait between failed cycles: a Wix outage costs one attempt per 5 minutes."""

    keep_unchanged_on_reload: bool = False
    """A reload starts and stops only the sites it adds, removes or changes; the others'
    loops run on undisturbed. False: a reload restarts every loop with a full cycle."""

    max_concurrent_cycles: int | None = None
    """Cycles running at once across every site (None: no limit)."""

    def __post_init__(self) -> None:
        # Site names are unique: the loader refuses a duplicate with its file and line.
        if self.shutdown_grace_s < 0 or self.settle_s < 0 or self.jitter_s < 0:
            raise ConfigError(
                "shutdown_grace_seconds, settle_seconds and jitter_seconds must be >= 0")
        if not 0 < self.backoff_initial_s <= self.backoff_max_s:
            raise ConfigError("failure backoff: need 0 < initial <= maximum")
        if self.ready_max_age_s <= 0:
            raise ConfigError("http.ready_max_age_seconds must be positive")


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
