"""Whether the state directory can be used and trusted, asked before anything depends on it.

The journal, the run state and the site locks all live under ``state_dir``. A directory
that cannot be created or written (a read-only mount, a file in its place, ``/proc``) must
be reported as one clear line before a run starts, not as a traceback halfway through one.

Nor is a directory trusted blindly: one that another user owns, or that anyone may write
to, lets someone else swap a lock file or the journal for a link to a file of syncd's user
(and then syncd would truncate it), or forge the journal that ``rollback`` replays. So the
directory and its ``journal`` directory must be owned by this user (or by root, which is
how Kubernetes hands out an ``fsGroup`` volume) and not be writable by others (writable by
the group is allowed, for that same ``fsGroup``), and the files syncd keeps there must be
regular files, not links.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path

from syncd.base.errors import StateError
from syncd.base.private_files import check_private_file, make_private_dir

_STATE_FILES = ("*.lock", "*.state.json", "*.force")
"""The files syncd keeps at the top of the state directory (``journal/*.jsonl`` below)."""


def state_dir_problem(path: Path, *, keep: bool = True) -> str | None:
    """Why ``path`` cannot serve as the state directory, or None.

    A missing directory is created to prove it can be; with ``keep=False`` (``validate``)
    the directories created for the check are removed again."""
    created = [p for p in (path, *path.parents) if not p.exists()]
    try:
        return _problem(path)
    finally:
        if not keep:
            for made in created:
                with contextlib.suppress(OSError):
                    made.rmdir()


def _problem(path: Path) -> str | None:
    try:
        make_private_dir(path)
    except StateError as e:
        return f"state_dir {e}"
    if (distrust := untrusted_problem(path)) is not None:
        return distrust
    try:
        fd, probe = tempfile.mkstemp(dir=path, prefix=".syncd-probe-")
    except OSError as e:
        return f"state_dir {path}: cannot write in it ({e.strerror or e})"
    try:
        os.write(fd, b"ok")
        os.fsync(fd)
    except OSError as e:
        return f"state_dir {path}: cannot write in it ({e.strerror or e})"
    finally:
        os.close(fd)
        Path(probe).unlink(missing_ok=True)
    return None


def untrusted_problem(path: Path) -> str | None:
    """Why the existing state directory ``path`` cannot be trusted, or None (see the module
    docstring); the message names the path, what is wrong and how to fix it."""
    # The closed segments of each journal (``local.segments``) are as much the journal.
    segment_dirs = sorted((path / "journal").glob("*.jsonl.d"))
    for directory in (path, path / "journal", *segment_dirs):
        try:
            info = os.stat(directory)
        except FileNotFoundError:
            continue
        except OSError as e:
            return f"state_dir {directory}: cannot inspect ({e.strerror or e})"
        if os.path.islink(directory) and directory != path:
            return (f"state_dir {directory}: is a symbolic link; syncd keeps its journal "
                    "in a directory of its own: remove the link")
        if info.st_uid not in (os.geteuid(), 0):
            return (f"state_dir {directory}: owned by uid {info.st_uid}, not by this user "
                    f"(uid {os.geteuid()}): another user could replace its files; "
                    f"chown it to this user, or choose another state_dir")
        if info.st_mode & stat.S_IWOTH:
            return (f"state_dir {directory}: writable by every user (mode "
                    f"{stat.S_IMODE(info.st_mode):04o}): anyone could replace its files; "
                    f"chmod o-w {directory} (syncd creates it 0700)")
    candidates = [p for pattern in _STATE_FILES for p in path.glob(pattern)]
    candidates += list((path / "journal").glob("*.jsonl"))
    for directory in segment_dirs:
        candidates += list(directory.glob("*.jsonl"))
    for file in sorted(candidates):
        try:
            check_private_file(file)
        except StateError as e:
            return f"state_dir {e}"
    return None
