"""Files only this user can read, opened without following links: how the state is written.

The state directory holds the write journal, the run state, the lock files and approval
requests. Anyone who can swap one of them for a symbolic link could make syncd truncate
or overwrite a file of their choosing (a lock file is truncated on every acquisition), and
anyone who can read them learns the store's stock history. So every file syncd writes
there goes through this module:

* directories it creates are ``0700`` and files ``0600``, whatever the umask;
* files are opened with ``O_NOFOLLOW`` and must then be regular files with one link (a
  hard link to another file would be written through just like a symbolic one);
* whole-file writes are atomic: a part file is written, fsynced and renamed over the old
  one, and the directory is fsynced, so readers see the old or the new content only.

A path that fails these checks is a ``StateError`` naming it, what is wrong and what to do.
Directories that already exist are left as they are: whether they can be trusted is
``syncd.edges.backend.local.check``'s question, asked before a command writes anything.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from pathlib import Path

from syncd.base.errors import StateError

DIR_MODE = 0o700
"""Directories syncd creates for its state."""

FILE_MODE = 0o600
"""Files syncd creates for its state."""


def make_private_dir(path: Path) -> None:
    """Create ``path`` and any missing parents as ``0700`` directories (an existing one is
    left alone); ``StateError`` when it cannot be, or is not a directory."""
    missing: list[Path] = []
    for candidate in (path, *path.parents):
        if os.path.lexists(candidate):
            break
        missing.append(candidate)
    for directory in reversed(missing):
        try:
            os.mkdir(directory, DIR_MODE)
        except FileExistsError:
            pass  # made by another process meanwhile: checked below like any other
        except OSError as e:
            raise StateError(f"{directory}: cannot create the directory "
                             f"({e.strerror or e})") from e
        else:
            # mkdir's mode is filtered by the umask; a umask of 0277 would leave 0500.
            os.chmod(directory, DIR_MODE)
    if not path.is_dir():
        raise StateError(f"{path}: exists and is not a directory; move it away or choose "
                         "another state_dir")


def open_private(path: Path, flags: int) -> int:
    """``os.open(path, flags)`` for a state file: created ``0600``, never through a link.

    ``flags`` are the access flags (``os.O_RDWR | os.O_CREAT``, ``os.O_APPEND``...);
    ``O_NOFOLLOW`` and ``O_CLOEXEC`` are added. The file must be a regular file with a single
    link, else ``StateError`` (the file is not written). The parent directory is created
    (``make_private_dir``) when ``O_CREAT`` is given. Returns the descriptor."""
    if flags & os.O_CREAT:
        make_private_dir(path.parent)
    try:
        fd = os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC, FILE_MODE)
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise StateError(_link_message(path, "a symbolic link")) from None
        raise StateError(f"{path}: cannot open ({e.strerror or e}); check the state "
                         "directory's permissions") from e
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise StateError(f"{path}: not a regular file; syncd keeps only regular files "
                             "there: remove it")
        if info.st_nlink != 1:
            raise StateError(_link_message(path, f"a file with {info.st_nlink} hard links"))
        if stat.S_IMODE(info.st_mode) & 0o077 and info.st_uid == os.geteuid():
            # A file of an older version, or one created under another umask.
            os.fchmod(fd, FILE_MODE)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _link_message(path: Path, what: str) -> str:
    if what == "a symbolic link":
        fix = "remove the link (or put the file it names in its place)"
    else:  # hard links: the content may be the real state, so keep it in a file of its own
        fix = f"give it a file of its own: cp -p {path} {path}.copy && mv {path}.copy {path}"
    return (f"{path}: is {what}; syncd never writes through links in its state directory "
            f"(it could overwrite another file): {fix}, and check who else can write to "
            "that directory")


def check_private_file(path: Path) -> None:
    """``StateError`` when ``path`` exists and is not a single-link regular file (what
    ``open_private`` would refuse); nothing when it is, or is missing."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    except OSError as e:
        raise StateError(f"{path}: cannot inspect ({e.strerror or e})") from e
    if stat.S_ISLNK(info.st_mode):
        raise StateError(_link_message(path, "a symbolic link"))
    if not stat.S_ISREG(info.st_mode):
        raise StateError(f"{path}: not a regular file; syncd keeps only regular files "
                         "there: remove it")
    if info.st_nlink != 1:
        raise StateError(_link_message(path, f"a file with {info.st_nlink} hard links"))


def write_private(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically: a ``0600`` part file beside it, written
    and fsynced, renamed over ``path``, then the directory fsynced. An existing ``path``
    that is a link or not a regular file is refused (``StateError``), not replaced."""
    check_private_file(path)
    part = path.with_name(f".{path.name}.{os.getpid()}.part")
    with contextlib.suppress(FileNotFoundError):
        os.unlink(part)  # left by a crash of this pid's predecessor
    fd = open_private(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(part, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(part)
        raise
    fsync_dir(path.parent)


def fsync_dir(path: Path) -> None:
    """Make the names in directory ``path`` durable (after a create or a rename)."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    except OSError as e:  # some file systems cannot sync a directory; nothing more to do
        if e.errno not in (errno.EINVAL, errno.ENOTSUP):
            raise
    finally:
        os.close(fd)
