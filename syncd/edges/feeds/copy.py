"""The last complete copy of each feed on local disk, and the conditional fetch that renews it.

A feed is fetched into a temporary file next to the copy, checked (not empty, not over the
size cap, as long as announced) and only then renamed over the copy: the readers never see
a partial body, and a failed fetch leaves the previous copy and its validators untouched.
The validators (ETag, Last-Modified, or an SFTP stamp) are kept in a small JSON file beside
the copy, so that even after a restart an unchanged feed answers "not modified".

A copy survives a crash: the body is fsync'ed before it is renamed over the copy, and the
directory after, so a power cut leaves the old copy or the new one, never a torn one. The
JSON file also keeps the copy's SHA-256; a "not modified" answer is only trusted when the
copy on disk still has it (else ``feed_copy_damaged`` is logged and the feed fetched again
without validators). The JSON file names the feed by its display URL and a SHA-256 of the
full URL, never the URL itself: a query-string token does not reach the disk.

``FeedCopies`` holds one ``FeedCopy`` per feed for a process (or a daemon generation), so
the daemon's poller and the cycles share one copy and one lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from enum import StrEnum
from pathlib import Path
from typing import BinaryIO

import structlog

from syncd.base.private_files import fsync_dir, make_private_dir, open_private, write_private
from syncd.edges.config.feed import FeedScheme, FeedSettings
from syncd.edges.feeds.feed_errors import FeedError

log = structlog.get_logger("syncd.edges.feeds")

_FLUSH_BYTES = 1 << 20
_META_FORMAT = 2
"""Version of the validators file; files of another version are ignored (a full fetch)."""


def _create_private(path: Path) -> BinaryIO:
    """A new file only its owner can read (0600), never through a link: the state
    directory's rule (``syncd.base.private_files``). The one place this module opens a
    file for writing; the name is this process's own, so one left by a crashed process
    is removed first."""
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    return os.fdopen(open_private(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL), "wb")


def _replace_durably(part: Path, target: Path) -> None:
    """Rename an fsync'ed ``part`` over ``target`` and sync the directory."""
    os.replace(part, target)
    fsync_dir(target.parent)


def _file_sha256(path: Path) -> str | None:
    """The file's SHA-256, None when it cannot be read."""
    digest = hashlib.sha256()
    try:
        with path.open("rb") as f:
            while chunk := f.read(_FLUSH_BYTES):
                digest.update(chunk)
    except OSError:
        return None
    return digest.hexdigest()


def url_sha256(url: str) -> str:
    """What the validators file keeps of a feed's URL (query string and all)."""
    return hashlib.sha256(url.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Validators:
    """What the server said identifies this version of the feed."""

    etag: str | None = None
    """HTTP/S3: the ETag as sent; SFTP: the file's ``size-mtime`` stamp."""
    last_modified: str | None = None
    """HTTP: the Last-Modified header as sent; S3: the object's modification time."""
    sha256: str = ""
    """Digest of the body, so a server without validators still skips an unchanged body."""


class FetchResult(StrEnum):
    CHANGED = "changed"
    """A new body replaced the copy."""
    NOT_MODIFIED = "not_modified"
    """The server (or the body's digest) said nothing changed; the copy stays."""


class Sink:
    """Where a fetcher writes the body: a temporary file, counted, capped and hashed."""

    def __init__(self, path: Path, *, feed: str, max_bytes: int) -> None:
        self.path = path
        self.feed = feed
        self.max_bytes = max_bytes
        self.size = 0
        self._hash = hashlib.sha256()
        self._buffer: list[bytes] = []
        self._buffered = 0
        self._file: BinaryIO | None = None

    def check_announced(self, length: int | None) -> None:
        """Refuse before reading when the announced size is already over the cap."""
        if length is not None and length > self.max_bytes:
            raise FeedError(self.feed, "too_large",
                            f"{length} bytes announced, over the cap of {self.max_bytes} "
                            "(source.feed.max_bytes)")

    async def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.max_bytes:
            raise FeedError(self.feed, "too_large",
                            f"more than {self.max_bytes} bytes (source.feed.max_bytes)")
        self._hash.update(chunk)
        self._buffer.append(chunk)
        self._buffered += len(chunk)
        if self._buffered >= _FLUSH_BYTES:
            await self._flush()

    async def _flush(self) -> None:
        data = b"".join(self._buffer)
        self._buffer.clear()
        self._buffered = 0
        if self._file is None:
            self._file = await asyncio.to_thread(_create_private, self.path)
        await asyncio.to_thread(self._file.write, data)

    async def close(self) -> str:
        """Write what is buffered, fsync and close; returns the body's SHA-256."""
        await self._flush()
        if self._file is not None:
            await asyncio.to_thread(self._sync_and_close, self._file)
            self._file = None
        return self._hash.hexdigest()

    @staticmethod
    def _sync_and_close(file: BinaryIO) -> None:
        file.flush()
        os.fsync(file.fileno())
        file.close()

    def discard(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


Fetcher = Callable[[FeedSettings, Validators | None, Sink], Awaitable[Validators | None]]
"""Fetch ``feed`` into the sink unless it still matches the validators (then None)."""


def _fetcher_for(scheme: FeedScheme) -> Fetcher:
    # Imported on use: the SFTP and S3 clients are optional extras.
    if scheme in (FeedScheme.HTTP, FeedScheme.HTTPS):
        from syncd.edges.feeds.http_feed import fetch_http
        return fetch_http
    if scheme is FeedScheme.SFTP:
        from syncd.edges.feeds.sftp import fetch_sftp
        return fetch_sftp
    from syncd.edges.feeds.s3 import fetch_s3
    return fetch_s3


class FeedCopy:
    """One feed's local copy. ``refresh`` renews it; ``body`` is what the readers open."""

    def __init__(self, feed: FeedSettings, directory: Path, *,
                 fetcher: Fetcher | None = None) -> None:
        self.feed = feed
        name = url_sha256(feed.url)[:24]
        self.directory = directory
        self.body = directory / f"{name}.body"
        self._meta = directory / f"{name}.json"
        self._fetcher = fetcher
        self._lock = asyncio.Lock()
        self.checked_at_s: float | None = None
        """Monotonic time of the last successful check (changed or not)."""

    def validators(self) -> Validators | None:
        """The stored validators, or None when there is no complete copy."""
        try:
            data = json.loads(self._meta.read_text(encoding="utf-8"))
            if "url" in data:
                # Written by an earlier syncd, with the whole URL (a query-string token too):
                # removed now rather than when a fetch next succeeds.
                self._meta.unlink(missing_ok=True)
                return None
            if (data.get("format") != _META_FORMAT or not data.get("sha256")
                    or data.get("url_sha256") != url_sha256(self.feed.url)
                    or not self.body.exists()):
                return None
            return Validators(etag=data.get("etag"), last_modified=data.get("last_modified"),
                              sha256=str(data.get("sha256", "")))
        except (OSError, ValueError, AttributeError):
            return None

    async def refresh(self) -> FetchResult:
        """Fetch the feed if it changed; raises ``FeedError`` (the copy stays as it was)."""
        async with self._lock:
            result = await self._refresh()
            self.checked_at_s = time.monotonic()
            return result

    async def ensure(self, *, max_age_s: float) -> None:
        """Refresh unless a check succeeded within ``max_age_s`` and a copy exists."""
        checked = self.checked_at_s
        if (checked is not None and time.monotonic() - checked < max_age_s
                and self.body.exists()):
            return
        await self.refresh()

    async def _refresh(self) -> FetchResult:
        feed = self.feed
        await asyncio.to_thread(make_private_dir, self.directory)
        previous = await asyncio.to_thread(self.validators)
        result = await self._fetch(previous)
        if result is not None:
            return result
        if previous is not None:
            # "Not modified" vouches for the copy only if it is still what was stored.
            found = await asyncio.to_thread(_file_sha256, self.body)
            if found == previous.sha256:
                return FetchResult.NOT_MODIFIED
            log.warning("feed_copy_damaged", feed=feed.display,
                        expected_sha256=previous.sha256, found_sha256=found,
                        action="fetching the whole feed again, without validators")
            result = await self._fetch(None)
            if result is not None:
                return result
        raise FeedError(feed.display, "error", "the server answered 'not modified' to a "
                        "request without validators, and there is no good local copy to keep")

    async def _fetch(self, previous: Validators | None) -> FetchResult | None:
        """One fetch into a part file; None when the server said the copy is current."""
        feed = self.feed
        # A name of its own: another process (a one-shot command beside the daemon) may be
        # fetching the same feed into the same directory.
        sink = Sink(self.body.with_suffix(f".part{os.getpid()}-{id(self):x}"),
                    feed=feed.display, max_bytes=feed.max_bytes)
        fetch = self._fetcher or _fetcher_for(feed.scheme)
        try:
            try:
                got = await asyncio.wait_for(fetch(feed, previous, sink), feed.timeout_s)
            except TimeoutError:
                raise FeedError(feed.display, "timeout",
                                f"no complete answer within {feed.timeout_s:g} s "
                                "(source.feed.timeout_seconds)") from None
            if got is None:
                return None
            digest = await sink.close()
            if sink.size == 0:
                raise FeedError(feed.display, "empty", "the feed is empty (0 bytes); "
                                "refusing to treat it as 'everything is out of stock'")
            if previous is not None and digest == previous.sha256:
                await asyncio.to_thread(self._store, got, digest, None)
                return FetchResult.NOT_MODIFIED
            await asyncio.to_thread(self._store, got, digest, sink.path)
            return FetchResult.CHANGED
        finally:
            sink.discard()

    def _store(self, got: Validators, digest: str, part: Path | None) -> None:
        meta = {**asdict(got), "sha256": digest, "format": _META_FORMAT,
                "source": self.feed.display, "url_sha256": url_sha256(self.feed.url)}
        if part is not None:
            # No validators while the body is swapped: a crash in between means a full fetch.
            with contextlib.suppress(FileNotFoundError):
                self._meta.unlink()
            _replace_durably(part, self.body)
        write_private(self._meta, json.dumps(meta).encode())


class FeedCopies:
    """One ``FeedCopy`` per feed, shared by everything in one process that reads it."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._copies: dict[str, FeedCopy] = {}

    def get(self, feed: FeedSettings) -> FeedCopy:
        copy = self._copies.get(feed.url)
        if copy is None or copy.feed != feed:
            copy = self._copies[feed.url] = FeedCopy(feed, self.directory)
        return copy
