"""The small per-site record of the last successful run.

The source-shrink guard needs to know how many rows the source had the last time a sync
succeeded, and the daemon wants to say when that was. That is all this file holds: one
JSON document per site, ``<state_dir>/<site>.state.json``, replaced atomically (written to
a temporary file, fsynced, renamed over the old one, directory fsynced) so that a crash or
a full disk leaves either the old record or the new one, never half of each.

It is not the journal: writes and their outcomes go to ``syncd.journal``.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from syncd.errors import StateError

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


def state_path(state_dir: Path, site: str) -> Path:
    """Where the site's state lives."""
    return state_dir / f"{site}.state.json"


def read_state(state_dir: Path, site: str) -> RunState | None:
    """The site's last successful run, or None when it never had one.

    A damaged file is a ``StateError`` rather than "no previous run": silently starting
    afresh would switch the shrink guard off exactly when something went wrong.
    """
    path = state_path(state_dir, site)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as e:
        raise StateError(f"{path}: cannot read the run state: {e.strerror or e}") from e
    try:
        return RunState.from_json(text)
    except (ValueError, KeyError, TypeError) as e:
        raise StateError(
            f"{path}: damaged run state ({e}); delete the file to start afresh (the "
            "source-shrink guard then waits for one successful run)") from e


def write_state(state_dir: Path, site: str, state: RunState) -> Path:
    """Replace the site's state atomically; returns the file's path."""
    path = state_path(state_dir, site)
    write_atomic(path, state.to_json())
    return path


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old or the new content only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    # The rename itself is durable only once the directory entry is on disk.
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
