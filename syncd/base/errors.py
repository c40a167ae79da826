"""The exception tree: every error syncd raises on purpose is one of these.

    SyncdError
    ├── ConfigError            bad configuration file or option (names file, line and key)
    ├── StateError             the state directory or a state file cannot be used
    ├── ListenError            the daemon's HTTP address cannot be bound
    ├── SourceError            the source of truth cannot be used (bad rows, empty, unreadable)
    ├── GuardRefused           a safety guard stopped a plan before any write
    ├── NoMatch                the source matched nothing, or far less than the last good run
    ├── StopRequested          a stop was asked for before this request was sent
    │   └── LeaseLost          this replica no longer holds the site: nothing more is sent
    └── WixError               anything that went wrong talking to Wix
        ├── WixClientError     4xx: permanent, never retried
        │   ├── WixAuthError       401/403
        │   ├── WixNotFound        404
        │   ├── WixConflict        409/428 or a failed bulk item: stale revision, re-read and retry
        │   └── WixForeignAnswer   not Wix's answer (HTML, non-JSON 200, 501): wrong base_url?
        ├── WixRateLimited     429: carries ``retry_after_s`` when Wix sent one
        ├── WixServerError     5xx: transient, retried with backoff
        ├── WixWalkIncomplete  a store walk could not prove it read the whole store
        └── WixUnavailable     timeout, refused or dropped connection: transient

HTTP statuses are mapped to these classes in exactly one place (``syncd.edges.wix.client``), and
aiohttp's own exceptions never escape the client. Callers decide whether to retry by class,
never by matching message text.
"""

from __future__ import annotations


class SyncdError(Exception):
    """Base of every error syncd raises on purpose."""


class ConfigError(SyncdError):
    """The configuration cannot be used; the message names the file, line and key."""


class StateError(SyncdError):
    """The state directory, a run-state file or a lock file cannot be used (unreadable,
    damaged, not writable); the message names the path."""


class ListenError(SyncdError):
    """The daemon's HTTP endpoint cannot listen on its address (in use, not permitted)."""


class SourceError(SyncdError):
    """The source of truth cannot be used as a whole (empty, unreadable, or bad rows)."""


class GuardRefused(SyncdError):
    """A safety guard refused a plan; nothing was written. The message says how to override."""

    def __init__(self, guard: str, message: str) -> None:
        super().__init__(message)
        self.guard = guard
        self.result: object | None = None
        """The refused plan (``syncd.cycle.results.PlanResult``), when the cycle had one to show."""


class NoMatch(SyncdError):
    """The source matched no store variant, or far fewer than at the last good run: most
    likely the wrong store or a changed SKU column. Nothing was written."""

    def __init__(self, message: str, result: object | None = None) -> None:
        super().__init__(message)
        self.result = result
        """The plan (``syncd.cycle.results.PlanResult``) that matched too little."""


class StopRequested(SyncdError):
    """A stop (SIGINT/SIGTERM, a daemon shutdown) was requested before this request left:
    it was never sent."""


class LeaseLost(StopRequested):
    """The replica's lease on the site lapsed, its lease connection died, or another
    replica took the site: the request or journal line was refused, nothing was sent."""


class WixError(SyncdError):
    """Talking to Wix failed. ``status`` is the HTTP status, or None without a response."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        endpoint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.endpoint = endpoint


class WixClientError(WixError):
    """A 4xx answer: the request itself is wrong; retrying cannot help."""


class WixAuthError(WixClientError):
    """401 or 403: the API key or site id is wrong, or the key lacks a permission."""


class WixNotFound(WixClientError):
    """404: the product, item or variant does not exist."""


class WixConflict(WixClientError):
    """A stale revision (409, 428 or a failed bulk item): re-read, re-plan, retry."""


class WixForeignAnswer(WixClientError):
    """The answer cannot be Wix's (an HTML page, a 200 that is not JSON, a 501): most
    likely a wrong ``base_url``. Permanent, never retried."""


class WixRateLimited(WixError):
    """429: the site's request budget is exhausted."""

    def __init__(self, message: str, *, retry_after_s: float | None = None,
                 retry_after_ignored: str | None = None, **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.retry_after_s = retry_after_s
        self.retry_after_ignored = retry_after_ignored
        """The ``Retry-After`` sent, when it was not believed (too large, negative, not a
        number or a date); ``retry_after_s`` is then None and the local schedule applies."""
        self.sent_at_rate: int | None = None
        """The site's budget per window when the refused request was sent (set by the
        client): a 429 to a request sent under a budget already cut by an earlier 429 says
        the cut was not enough."""


class WixWalkIncomplete(WixError):
    """A walk could not prove it read every record (counts that do not add up, a filter
    that stopped matching, a loop past its bound): a partial store is never returned as
    the whole, so nothing is planned or written. The message names what did not add up."""


class WixServerError(WixError):
    """5xx: Wix failed; the request may be retried if it is idempotent."""


class WixUnavailable(WixError):
    """No answer at all: timeout, refused or dropped connection."""
