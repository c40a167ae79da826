"""Not parsing again a source file whose bytes have not changed since the last read.

A daemon reads every source at every cycle; parsing and checking a few thousand rows costs
more CPU than the rest of a quiet cycle but the walk. ``SourceCache`` keeps a site's last
``DesiredSource`` per file with a fingerprint of the file (its size, inode, modification
time and the SHA-256 of its bytes) and hands it back while the fingerprint is the same.
The bytes are hashed, not only stat'ed, so a rewrite inside one timestamp tick, or a copy
that keeps the timestamp, is still seen. A result is kept only when the file had the same
fingerprint before and after it was parsed (it did not change under the reader); a failed
read keeps nothing, so a bad file is read and reported at every cycle. A file that was
never kept is parsed at once: the parse fingerprints it before and after itself, in a
thread or in a worker process (``syncd.edges.sources.parsers``).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from syncd.edges.config.source import SourceSettings
from syncd.edges.sources.parsers import Fingerprint, SourceParsers, fingerprint
from syncd.edges.sources.rows import DesiredSource


class SourceCache:
    """One site's parsed sources, by file; used from one cycle at a time. ``parsers`` parse
    what is not kept (in a thread by default; see ``syncd.edges.sources.parsers``)."""

    def __init__(self, parsers: SourceParsers | None = None) -> None:
        self._entries: dict[Path, tuple[Fingerprint, DesiredSource]] = {}
        self._parsers = parsers or SourceParsers()
        self.hits = 0
        """Reads answered from the cache (for tests and logs)."""

    async def read(self, source: SourceSettings, file: Path | None = None) -> DesiredSource:
        """The rows of ``file`` (a feed's local copy) or ``source.path``, parsed again only
        when the file changed; raises ``SourceError``."""
        path = file or source.path
        kept = self._entries.get(path)
        if kept is not None:
            if await asyncio.to_thread(fingerprint, path) == kept[0]:
                self.hits += 1
                return kept[1]
            del self._entries[path]
        parsed = await self._parsers.parse(source, file)
        if parsed.unchanged and parsed.before is not None:
            parsed.source.rows.compact()  # (a worker process packs it already: a no-op)
            self._entries[path] = (parsed.before, parsed.source)
        return parsed.source
