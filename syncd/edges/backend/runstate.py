"""The small per-site record of the last successful run, whichever backend keeps it.

The source-shrink guard needs to know how many rows the source had the last time a sync
succeeded, the no-match check how many of them matched, and the daemon wants to say when
that was. That is all this record holds. It is not the journal: writes and their outcomes
go to ``syncd.core.journal``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

STATE_VERSION = 1


@dataclass(frozen=True, slots=True)
class RunState:
    """What the last successful run of a site left behind."""

    last_success_at: datetime
    """When that run finished (aware, UTC)."""

    source_rows: int
    """Valid rows its source had; the shrink guard compares the next source against it."""

    source_digest: str
    """``DesiredSource.digest()`` of that source: equal digests mean an unchanged source."""

    matched_rows: int | None = None
    """Source rows that named a store variant at that run (None in older state files); the
    no-match check compares the next full run against it."""

    def to_json(self) -> str:
        return json.dumps({
            "version": STATE_VERSION,
            "last_success_at": self.last_success_at.isoformat(),
            "source_rows": self.source_rows,
            "source_digest": self.source_digest,
            **({} if self.matched_rows is None else {"matched_rows": self.matched_rows}),
        }, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> RunState:
        """Parse ``to_json``'s output; ValueError when it is not that."""
        data = json.loads(text)
        if not isinstance(data, dict) or data.get("version") != STATE_VERSION:
            raise ValueError(f"not a version {STATE_VERSION} state document")
        at = datetime.fromisoformat(str(data["last_success_at"]))
        rows = data["source_rows"]
        if at.tzinfo is None or not isinstance(rows, int) or rows < 0:
            raise ValueError("bad last_success_at or source_rows")
        matched = data.get("matched_rows")
        return cls(last_success_at=at, source_rows=rows, source_digest=str(data["source_digest"]),
                   matched_rows=matched if isinstance(matched, int) else None)
