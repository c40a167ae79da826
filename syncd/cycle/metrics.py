"""Prometheus metrics: what the daemon and the Wix client report, and in which names.

One ``Metrics`` per process, created by the entry point on its own ``CollectorRegistry`` and
passed down (never the library's global default registry, so tests and several daemons in
one process cannot collide). Callers never touch prometheus objects: they call the
``observe_*`` methods, and the Wix client only sees the narrow ``ApiObserver`` protocol of
a per-site ``SiteApiMetrics`` (or nothing at all when metrics are off).

Label values are kept safe here rather than trusted: every value passes through the secret
registry (an API key can never become a label), and endpoint labels lose their query string
and any id-like path segment, because one series per product id would exhaust Prometheus.
This module imports nothing from syncd except the secret registry, so any layer can use it.
"""

from __future__ import annotations

import contextlib
import re
import time
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from syncd.base.logs import SECRETS

__all__ = [
    "CONTENT_TYPE_LATEST",
    "ApiObserver",
    "CycleRecord",
    "Metrics",
    "SiteApiMetrics",
    "endpoint_label",
]

_ID_SEGMENT = re.compile(
    r"^(?:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    r"|[0-9a-fA-F]{16,}|\d+)$"
)

CYCLE_BUCKETS_S = (0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)
"""Cycle durations range from a sub-second fast lane to an hour-long walk of a large store."""

REQUEST_BUCKETS_S = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


def endpoint_label(endpoint: str) -> str:
    """A low-cardinality label for a request: path without query, ids replaced by ``{id}``.

    ``/stores/v1/products/5f0e...?x=1`` becomes ``/stores/v1/products/{id}``; names that
    are not paths (``"inventory.update"``) pass unchanged.
    """
    path = endpoint.split("?", 1)[0]
    segments = ["{id}" if _ID_SEGMENT.match(part) else part for part in path.split("/")]
    return SECRETS.redact("/".join(segments))


def _label(value: object) -> str:
    return SECRETS.redact(str(value))


class ApiObserver(Protocol):
    """What the Wix client of one site reports; ``SiteApiMetrics`` implements it."""

    def observe_request(self, endpoint: str, status: int | str, duration_s: float) -> None:
        """One HTTP exchange ended; ``status`` is the HTTP status or an error name."""

    def observe_retry(self, endpoint: str) -> None:
        """A request is about to be retried."""

    def observe_rate_limited(self) -> None:
        """Wix answered 429."""

    def observe_limiter_wait(self, wait_s: float) -> None:
        """The client's own rate limiter held a request back for ``wait_s`` seconds."""

    def observe_anomaly(self, kind: str) -> None:
        """Wix (or a proxy) sent a hint syncd set aside as implausible (``kind``)."""


class CycleRecord(Protocol):
    """The fields of a cycle outcome the metrics need
    (``syncd.frontends.daemon.cycle.CycleOutcome``).
    """

    @property
    def site(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def result(self) -> str: ...
    @property
    def planned(self) -> int: ...
    @property
    def written(self) -> int: ...
    @property
    def failed(self) -> int: ...
    @property
    def duration_s(self) -> float: ...
    @property
    def out_of_sync(self) -> int | None: ...


class Metrics:
    """Every syncd metric, registered on one registry (a fresh one unless given)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        # prometheus_client appends "_total" to counters itself.
        self.cycles = Counter(
            "syncd_cycles", "Sync cycles run, by kind (full|fast|incremental) and result.",
            ["site", "kind", "result"], registry=r)
        self.api_requests = Counter(
            "syncd_api_requests", "HTTP requests made to Wix, by endpoint and status.",
            ["site", "endpoint", "status"], registry=r)
        self.api_request_duration = Histogram(
            "syncd_api_request_duration_seconds", "Duration of HTTP requests to Wix.",
            ["site", "endpoint"], buckets=REQUEST_BUCKETS_S, registry=r)
        self.api_rate_limited = Counter(
            "syncd_api_rate_limited", "Requests Wix answered with 429 (rate limited).",
            ["site"], registry=r)
        self.api_retries = Counter(
            "syncd_api_retries", "Requests to Wix retried after a transient failure.",
            ["site"], registry=r)
        self.api_anomalies = Counter(
            "syncd_api_anomalies", "Answers from Wix whose hint was set aside as implausible, "
            "by kind (retry_after_ignored: a Retry-After too large or unreadable).",
            ["site", "kind"], registry=r)
        self.writes = Counter(
            "syncd_writes", "Stock writes, by outcome (written|failed).",
            ["site", "outcome"], registry=r)
        self.writes_ignored = Counter(
            "syncd_writes_ignored", "Absolute writes Wix accepted ({}) that a later read "
            "showed not in effect: counted once, when found; syncd does not send them again "
            "while the source and the store keep their values (syncd lint lists them).",
            ["site"], registry=r)
        self.planned_changes = Gauge(
            "syncd_planned_changes", "Changes planned by the last cycle.",
            ["site"], registry=r)
        self.variants_out_of_sync = Gauge(
            "syncd_variants_out_of_sync",
            "Variants differing from the source after the last full cycle.",
            ["site"], registry=r)
        self.last_success = Gauge(
            "syncd_last_success_timestamp_seconds",
            "Unix time at which the last successful cycle ended.",
            ["site"], registry=r)
        self.cycle_duration = Histogram(
            "syncd_cycle_duration_seconds", "Duration of sync cycles.",
            ["site", "kind"], buckets=CYCLE_BUCKETS_S, registry=r)
        self.incremental_fallback = Gauge(
            "syncd_incremental_fallback",
            "1 when a site stopped trusting incremental reads and walks the whole store every "
            "cycle, by reason (canary_missed|resync_found_missed_changes|no_timestamps).",
            ["site", "reason"], registry=r)
        self.start_delay = Gauge(
            "syncd_cycle_start_delay_seconds",
            "How late the last scheduled cycle started against its schedule.",
            ["site"], registry=r)
        self.limiter_wait = Counter(
            "syncd_rate_limiter_wait_seconds",
            "Seconds requests spent waiting for the client's own rate limiter (counted "
            "while they wait, every second of a cycle).",
            ["site"], registry=r)
        self.feed_fetches = Counter(
            "syncd_feed_fetches", "Checks of remote feeds, by result (changed|not_modified|"
            "timeout|auth|too_large|truncated|empty|...).", ["source", "result"], registry=r)
        self.feed_ok = Gauge(
            "syncd_feed_ok", "1 when the last check of the remote feed succeeded, else 0.",
            ["source"], registry=r)
        self.cycle_writes = Gauge(
            "syncd_cycle_writes", "Writes of the cycle in flight (or the last one), by "
            "state: planned, done.", ["site", "state"], registry=r)
        self.limiter_waiting = Gauge(
            "syncd_rate_limiter_waiting_requests",
            "Requests waiting for the site's rate budget right now.", ["site"], registry=r)
        self.source_ok = Gauge(
            "syncd_source_ok", "1 when the last reading of each of the site's sources (a file "
            "re-read after an edit, a feed fetched) could be used, else 0.", ["site"],
            registry=r)
        self.site_config_ok = Gauge(
            "syncd_site_config_ok", "1 when the site's file in sites_dir is valid, 0 when it "
            "is not (the site is disabled, or runs its previous configuration).", ["site"],
            registry=r)
        self.asyncio_tasks = Gauge(
            "syncd_asyncio_tasks", "Tasks alive on the daemon's event loop when /metrics was "
            "scraped (flat over days: nothing leaks tasks).", registry=r)

    def observe_request(
        self, site: str, endpoint: str, status: int | str, duration_s: float
    ) -> None:
        """One HTTP exchange with Wix ended (``status`` may be an error name, e.g. timeout)."""
        labels = (_label(site), endpoint_label(endpoint))
        self.api_requests.labels(*labels, _label(status)).inc()
        self.api_request_duration.labels(*labels).observe(max(0.0, duration_s))

    def observe_retry(self, site: str, endpoint: str = "") -> None:
        """A request to Wix is being retried (``endpoint`` is accepted for symmetry)."""
        self.api_retries.labels(_label(site)).inc()

    def observe_rate_limited(self, site: str) -> None:
        """Wix answered 429."""
        self.api_rate_limited.labels(_label(site)).inc()

    def observe_limiter_wait(self, site: str, wait_s: float) -> None:
        """The client-side rate limiter delayed a request by ``wait_s`` seconds."""
        if wait_s > 0:
            self.limiter_wait.labels(_label(site)).inc(wait_s)

    def observe_anomaly(self, site: str, kind: str) -> None:
        """An implausible hint from Wix was set aside (``kind``, e.g. retry_after_ignored)."""
        self.api_anomalies.labels(_label(site), _label(kind)).inc()

    def observe_start_delay(self, site: str, delay_s: float) -> None:
        """A scheduled cycle started ``delay_s`` seconds after it was due."""
        self.start_delay.labels(_label(site)).set(max(0.0, delay_s))
    def observe_progress(self, site: str, *, planned: int, done: int, waiting: int) -> None:
        """The cycle in flight: writes planned and done, requests waiting for the budget."""
        label = _label(site)
        self.cycle_writes.labels(label, "planned").set(planned)
        self.cycle_writes.labels(label, "done").set(done)
        self.limiter_waiting.labels(label).set(waiting)

    def observe_cycle(self, outcome: CycleRecord, *, now_s: float | None = None) -> None:
        """Record a finished cycle: counts, duration, writes, planned, freshness."""
        site = _label(outcome.site)
        self.cycles.labels(site, _label(outcome.kind), _label(outcome.result)).inc()
        self.cycle_duration.labels(site, _label(outcome.kind)).observe(
            max(0.0, outcome.duration_s))
        if outcome.written:
            self.writes.labels(site, "written").inc(outcome.written)
        if outcome.failed:
            self.writes.labels(site, "failed").inc(outcome.failed)
        self.planned_changes.labels(site).set(outcome.planned)
        if outcome.kind == "full" and outcome.result in ("ok", "refused", "failed"):
            # Only a full cycle saw the whole store; a fast one saw a few products.
            out_of_sync = outcome.out_of_sync
            if out_of_sync is None:
                out_of_sync = max(0, outcome.planned - outcome.written)
            self.variants_out_of_sync.labels(site).set(out_of_sync)
        if outcome.result == "ok":
            self.last_success.labels(site).set(time.time() if now_s is None else now_s)

    def observe_feed(self, source: str, result: str) -> None:
        """A remote feed was checked; ``source`` is its URL without credentials."""
        self.feed_fetches.labels(_label(source), _label(result)).inc()
        self.feed_ok.labels(_label(source)).set(
            1 if result in ("changed", "not_modified") else 0)

    def observe_source_ok(self, site: str, ok: bool) -> None:
        """The site's sources can (1) or cannot (0) be used, as last read."""
        self.source_ok.labels(_label(site)).set(1 if ok else 0)

    def observe_site_config(self, site: str, ok: bool | None) -> None:
        """The site's file is valid (1), invalid (0) or gone from the configuration (None)."""
        if ok is None:
            with contextlib.suppress(KeyError):
                self.site_config_ok.remove(_label(site))
            return
        self.site_config_ok.labels(_label(site)).set(1 if ok else 0)

    def observe_asyncio_tasks(self, count: int) -> None:
        """``count`` tasks are alive on the event loop right now."""
        self.asyncio_tasks.set(count)

    def observe_ignored_writes(self, site: str, found: int) -> None:
        """A cycle found ``found`` accepted writes that Wix did not apply."""
        self.writes_ignored.labels(_label(site)).inc(found)

    def observe_incremental_fallback(self, site: str, reason: str) -> None:
        """A site fell back from incremental reads to full walks."""
        self.incremental_fallback.labels(_label(site), _label(reason)).set(1)

    def for_site(self, site: str) -> SiteApiMetrics:
        """An ``ApiObserver`` bound to ``site``, for that site's Wix client."""
        return SiteApiMetrics(self, site)

    def forget_site(self, site: str) -> None:
        """Drop every gauge series of a site removed by a reload (counters keep their
        history), whatever other labels the series has."""
        label = _label(site)
        for gauge in (self.planned_changes, self.variants_out_of_sync, self.last_success,
                      self.start_delay, self.incremental_fallback, self.cycle_writes,
                      self.limiter_waiting, self.source_ok):
            series = {tuple(sample.labels[name] for name in gauge._labelnames)
                      for family in gauge.collect() for sample in family.samples
                      if sample.labels.get("site") == label}
            for values in series:
                with contextlib.suppress(KeyError):
                    gauge.remove(*values)

    def exposition(self) -> bytes:
        """The registry in Prometheus text format (content type ``CONTENT_TYPE_LATEST``)."""
        return generate_latest(self.registry)


class SiteApiMetrics:
    """``Metrics`` with the site label bound: the observer a site's Wix client takes."""

    def __init__(self, metrics: Metrics, site: str) -> None:
        self._metrics = metrics
        self.site = site

    def observe_request(self, endpoint: str, status: int | str, duration_s: float) -> None:
        self._metrics.observe_request(self.site, endpoint, status, duration_s)

    def observe_retry(self, endpoint: str) -> None:
        self._metrics.observe_retry(self.site, endpoint)

    def observe_rate_limited(self) -> None:
        self._metrics.observe_rate_limited(self.site)

    def observe_limiter_wait(self, wait_s: float) -> None:
        self._metrics.observe_limiter_wait(self.site, wait_s)

    def observe_anomaly(self, kind: str) -> None:
        self._metrics.observe_anomaly(self.site, kind)
