"""Whether the state directory can be used, asked before anything depends on it.

The journal, the run state and the site locks all live under ``state_dir``. A directory
that cannot be created or written (a read-only mount, a file in its place, ``/proc``) must
be reported as one clear line before a run starts, not as a traceback halfway through one.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


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
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        return f"state_dir {path}: exists and is not a directory"
    except OSError as e:
        return f"state_dir {path}: cannot be created ({e.strerror or e})"
    if not path.is_dir():
        return f"state_dir {path}: exists and is not a directory"
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
