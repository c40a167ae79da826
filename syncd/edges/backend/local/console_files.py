"""The console's state in the state directory: ``<site>.force`` and ``console-actions.json``.

An approval is the site's ``.force`` file holding the ``Approval`` as JSON, the file
``syncd sync --force`` already left for a daemon; the console leaves the same file, so a
daemon restarted between the approval and the cycle still finds it. A ``.force`` file
from an older syncd names no plan: it is taken as a request that matches no plan (the cycle
refuses, and the operator approves again). The action log is one JSON array of the last
``ACTIONS_KEPT`` actions, rewritten atomically (``write_private``) on every action:
actions are rare (people clicking), and a half-written log is never read. Signed-in
sessions are ``console-sessions.json`` the same way (hashes of their ids, never the ids).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from syncd.base.private_files import write_private
from syncd.edges.backend.console_state import (
    ACTIONS_KEPT,
    Approval,
    ConsoleAction,
    StoredSession,
)
from syncd.edges.backend.local.approve import approval_path

ACTIONS_FILE = "console-actions.json"
SESSIONS_FILE = "console-sessions.json"


def write_approval(state_dir: Path, site: str, approval: Approval) -> None:
    """Leave (or replace) the site's approval."""
    write_private(approval_path(state_dir, site), approval.to_json().encode())


def read_approval(state_dir: Path, site: str) -> Approval | None:
    """The site's waiting approval, or None."""
    try:
        text = approval_path(state_dir, site).read_text("utf-8")
    except FileNotFoundError:
        return None
    try:
        return Approval.from_json(text)
    except (ValueError, KeyError, TypeError):
        return Approval(digest="", by=text.strip()[:200] or "unknown", at_s=0.0)


def take_approval(state_dir: Path, site: str) -> Approval | None:
    """The site's waiting approval, removed (once), or None."""
    approval = read_approval(state_dir, site)
    if approval is None:
        return None
    try:
        approval_path(state_dir, site).unlink()
    except FileNotFoundError:
        return None  # taken by another reader meanwhile
    return approval


def read_actions(state_dir: Path) -> list[ConsoleAction]:
    """The kept actions, oldest first (an unreadable log reads as empty)."""
    try:
        data = json.loads((state_dir / ACTIONS_FILE).read_text("utf-8"))
    except (OSError, ValueError):
        return []
    actions = []
    for item in data if isinstance(data, list) else []:
        try:
            actions.append(ConsoleAction.from_dict(item))
        except (KeyError, TypeError, ValueError):
            continue
    return actions


def append_action(state_dir: Path, action: ConsoleAction) -> None:
    """Add ``action`` to the log, keeping the last ``ACTIONS_KEPT``."""
    kept = [*read_actions(state_dir), action][-ACTIONS_KEPT:]
    write_private(state_dir / ACTIONS_FILE,
                  json.dumps([a.to_dict() for a in kept], sort_keys=True).encode())


def read_sessions(state_dir: Path) -> list[StoredSession]:
    """The kept sessions (an unreadable file reads as none: people sign in again)."""
    try:
        data = json.loads((state_dir / SESSIONS_FILE).read_text("utf-8"))
    except (OSError, ValueError):
        return []
    sessions = []
    for item in data if isinstance(data, list) else []:
        try:
            sessions.append(StoredSession.from_dict(item))
        except (KeyError, TypeError, ValueError):
            continue
    return sessions


def write_sessions(state_dir: Path, *, save: StoredSession | None = None,
                   drop: frozenset[str] = frozenset(), max_age_s: float) -> None:
    """Save ``save`` and forget the sessions keyed ``drop`` and those opened more than
    ``max_age_s`` ago."""
    oldest = time.time() - max_age_s
    kept = [k for k in read_sessions(state_dir) if k.key not in drop and k.opened_at_s >= oldest
            and (save is None or k.key != save.key)]
    if save is not None:
        kept.append(save)
    write_private(state_dir / SESSIONS_FILE,
                  json.dumps([k.to_dict() for k in kept], sort_keys=True).encode())
