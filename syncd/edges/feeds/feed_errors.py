"""Why a feed could not be used: one exception, with a short machine-readable kind.

``FeedError`` is a ``SourceError``, so everything that already refuses a bad source file
(the cycle, the daemon's tracker, ``syncd validate``) refuses a failing feed the same way:
no plan, no write, and the message in the log and in ``/readyz``. ``kind`` is the label of
``syncd_feed_fetches_total`` (``timeout``, ``too_large``, ``truncated``...).
"""

from __future__ import annotations

from syncd.base.errors import SourceError

KINDS = ("timeout", "unreachable", "auth", "not_found", "http_error", "too_large",
         "truncated", "empty", "changed_while_read", "redirects", "redirect_refused", "error")
"""Every ``FeedError.kind``."""


class FeedError(SourceError):
    """The feed could not be fetched whole; nothing read from it is used."""

    def __init__(self, feed: str, kind: str, reason: str) -> None:
        assert kind in KINDS, kind
        super().__init__(f"{feed}: feed not used ({kind}): {reason}; nothing was written")
        self.feed = feed
        self.kind = kind
        self.reason = reason
        self.details: dict[str, object] = {}
        """More to log beside ``kind`` (a refused redirect's ``rule`` and ``hop``)."""
