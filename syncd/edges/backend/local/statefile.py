"""The local run state: one JSON document per site, ``<state_dir>/<site>.state.json``.

Replaced atomically (``syncd.base.private_files.write_private``: written to a private
part file, fsynced, renamed over the old one, directory fsynced) so that a crash or a full
disk leaves either the old record or the new one, never half of each.
"""

from __future__ import annotations

from pathlib import Path

from syncd.base.errors import StateError
from syncd.base.private_files import write_private
from syncd.edges.backend.runstate import RunState


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
    """Write ``text`` to ``path`` so that readers see the old or the new content only
    (``write_private``: a private part file, fsynced, renamed, directory fsynced)."""
    write_private(path, text.encode("utf-8"))
