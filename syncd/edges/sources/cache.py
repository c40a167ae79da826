"""Not parsing again a source file whose bytes have not changed since the last read.

A daemon reads every source at every cycle; parsing and checking a few thousand rows costs
more CPU than the rest of a quiet cycle but the walk. ``SourceCache`` keeps a site's last
``DesiredSource`` per file with a fingerprint of the file (its size, inode, modification
time and the SHA-256 of its bytes) and hands it back while the fingerprint is the same.
The bytes are hashed, not only stat'ed, so a rewrite inside one timestamp tick, or a copy
that keeps the timestamp, is still seen. A result is kept only when the file had the same
fingerprint before and after it was parsed (it did not change under the reader); a failed
read keeps nothing, so a bad file is read and reported at every cycle.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from syncd.edges.sources.rows import DesiredSource

_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """What identifies one version of a file."""

    size: int
    inode: int
    mtime_ns: int
    sha256: str


def fingerprint(path: Path) -> Fingerprint | None:
    """The file's fingerprint, or None when it cannot be read (the reader then reports)."""
    digest = hashlib.sha256()
    try:
        with path.open("rb") as file:
            stat = os.fstat(file.fileno())
            while chunk := file.read(_CHUNK):
                digest.update(chunk)
    except OSError:
        return None
    return Fingerprint(stat.st_size, stat.st_ino, stat.st_mtime_ns, digest.hexdigest())


class SourceCache:
    """One site's parsed sources, by file; used from one cycle at a time."""

    def __init__(self) -> None:
        self._entries: dict[Path, tuple[Fingerprint, DesiredSource]] = {}
        self.hits = 0
        """Reads answered from the cache (for tests and logs)."""

    def read(self, path: Path, load: Callable[[], DesiredSource]) -> DesiredSource:
        """``load()``'s result for ``path``, parsed again only when the file changed.
        Blocking: call it from a worker thread."""
        before = fingerprint(path)
        kept = self._entries.get(path)
        if before is not None and kept is not None and kept[0] == before:
            self.hits += 1
            return kept[1]
        self._entries.pop(path, None)
        result = load()
        if before is not None and fingerprint(path) == before:
            result.rows.compact()
            self._entries[path] = (before, result)
        return result
