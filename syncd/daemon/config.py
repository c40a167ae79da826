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

from syncd.daemon.changes import SourceTracker
from syncd.daemon.cycle import CycleRunner, NamedSite
from syncd.daemon.http import DEFAULT_LISTEN_ADDRESS, ListenAddress
from syncd.daemon.polling import PollerFactory
from syncd.daemon.schedule import Schedule
from syncd.daemon.siteloop import FAST_LANE_MAX_KEYS
from syncd.errors import ConfigError

SiteT = TypeVar("SiteT", bound=NamedSite)

DEFAULT_GRACE_S = 20.0
"""In-flight writes get this long to finish after SIGTERM; systemd's TimeoutStopSec and
Docker's stop timeout must be longer (the shipped files use 30 s)."""

DEFAULT_SETTLE_S = 2.0
"""A source file must stay unchanged this long before it is read: long enough for an
upload or a spreadsheet save to finish, short enough that an edit reaches the store
within ~3 s."""


@dataclass(frozen=True, slots=True)
class DaemonConfig(Generic[SiteT]):
    """What the daemon itself needs to know; built from ``Settings`` by the wiring."""

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

    watch_source: bool = True
    """Run a cycle when a site's source file changes (after it settles)."""

    settle_s: float = DEFAULT_SETTLE_S
    """Seconds a changed source must stay unchanged before it is read."""

    listen: ListenAddress = DEFAULT_LISTEN_ADDRESS
    """Address of the health/readiness/metrics endpoint."""

    ready_max_age_s: float = 3600.0
    """/readyz fails when a site's last successful cycle is older than this."""

    shutdown_grace_s: float = DEFAULT_GRACE_S
    """How long in-flight cycles may run on after SIGTERM before they are cancelled."""

    fast_max_keys: int = FAST_LANE_MAX_KEYS
    """Above this many changed source rows a change runs a full cycle instead of a fast one."""

    backoff_initial_s: float = 5.0
    """Wait after a first failed cycle; doubled after each further failure."""

    backoff_max_s: float = 300.0
    """Longest wait between failed cycles: a Wix outage costs one attempt per 5 minutes."""

    def __post_init__(self) -> None:
        names = [site.name for site in self.sites]
        if not names:
            raise ConfigError("sites: at least one site is needed")
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ConfigError(f"sites: duplicate site names {', '.join(duplicates)}")
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
