"""What the console remembers across restarts: approvals bound to a plan, and its action log.

An ``Approval`` says that one plan of one site (its digest, ``syncd.core.plan_digest``) may
be applied once with the safety guards overridden, who asked for it and when. It is left
by the console (``POST /ui/site/{site}/approve``) or by ``syncd sync --force`` beside a
daemon, and taken by the site's next full cycle, which applies the plan only when it plans
the same digest. A ``ConsoleAction`` is one line of the console's action log (approve,
cycle now, rollback, sign-in, sign-out, and a stale approval dropped by a cycle).

Both are kept by the state backend (``StateBackend``): private files in the state
directory, or PostgreSQL tables every replica reads, and so are the console's signed-in
sessions (``StoredSession``: a hash of the cookie's id, never the id itself). Flash messages
are not kept: they travel in the redirect's query string and are shown once.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

ACTIONS_KEPT = 200
"""Lines of the action log kept (the oldest go first)."""


@dataclass(frozen=True, slots=True)
class Approval:
    """One approved plan of one site, waiting for the site's next full cycle."""

    digest: str
    """The approved plan's digest; empty for a request that names no plan (never applied)."""
    by: str
    """Who approved: ``console`` and the client's address, or ``sync --force`` and its pid."""
    at_s: float
    """When, in seconds since the epoch."""
    changes: int = 0
    """How many changes the approved plan held, for messages."""

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Approval:
        """Raises ``ValueError`` (a file left by an older syncd, which named no plan)."""
        data: Any = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("an approval is a JSON object")
        return cls(digest=str(data["digest"]), by=str(data["by"]), at_s=float(data["at_s"]),
                   changes=int(data.get("changes", 0)))


@dataclass(frozen=True, slots=True)
class ConsoleAction:
    """One line of the console's action log."""

    at_s: float
    action: str
    """``approve``, ``cycle``, ``rollback``, ``sign_in``, ``sign_out``, ``approval_stale``..."""
    site: str | None
    by: str
    """Who: the client's address as the console sees it, or ``daemon``."""
    allowed: bool = True
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> ConsoleAction:
        """Raises ``KeyError``, ``TypeError`` or ``ValueError`` on a malformed line."""
        site = data["site"]
        return cls(at_s=float(data["at_s"]), action=str(data["action"]),
                   site=None if site is None else str(site), by=str(data["by"]),
                   allowed=bool(data["allowed"]), detail=str(data.get("detail", "")))


@dataclass(frozen=True, slots=True)
class StoredSession:
    """A signed-in console session, as the state backend keeps it."""

    key: str
    """SHA-256 (hex) of the session's id: the id itself is only in the browser's cookie."""
    csrf: str
    opened_at_s: float
    """When it signed in, in seconds since the epoch."""
    seen_at_s: float
    """When it last signed in or acted, in seconds since the epoch."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> StoredSession:
        """Raises ``KeyError``, ``TypeError`` or ``ValueError`` on a malformed record."""
        return cls(key=str(data["key"]), csrf=str(data["csrf"]),
                   opened_at_s=float(data["opened_at_s"]), seen_at_s=float(data["seen_at_s"]))
