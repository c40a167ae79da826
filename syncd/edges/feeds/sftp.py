"""SFTP feeds (the ``sftp`` extra, asyncssh): a stat, and the whole file only when it moved.

The file's size and modification time are its validators: an unchanged stamp costs one
``stat`` and no download. The file is stat'ed again after it was read; if it was replaced
or grew meanwhile (an ERP still writing its export), the fetch is refused and the next
poll reads the finished file. A stamp less than ``_FRESH_S`` old is not trusted as a
validator (second-granular mtimes cannot tell two writes within one second apart): the
next check downloads the file again and compares its bytes.

The password (or the key's passphrase) comes from ``source.feed.secret_env``/``secret_file``.
The server's key is always checked against one explicit known_hosts file
(``source.feed.known_hosts``, default ``~/.ssh/known_hosts``); a missing file is an error,
never "no checking". No OpenSSH client configuration is read: a ``~/.ssh/config`` with
``StrictHostKeyChecking no`` or ``UserKnownHostsFile none`` must not switch checking off.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any, cast
from urllib.parse import unquote, urlsplit

from syncd.edges.config.feed import FeedSettings
from syncd.edges.feeds.copy import Sink, Validators
from syncd.edges.feeds.feed_errors import FeedError

_CHUNK = 1 << 16
_FRESH_S = 2


def known_hosts_file(feed: FeedSettings) -> Path:
    """The known_hosts file the server's key is checked against; raises ``FeedError`` when
    it does not exist (asyncssh would otherwise trust nothing or, through a user's
    configuration, everything)."""
    path = Path(feed.known_hosts) if feed.known_hosts is not None else (
        Path.home() / ".ssh" / "known_hosts")
    if not path.is_file():
        setting = ("source.feed.known_hosts" if feed.known_hosts is not None
                   else "source.feed.known_hosts is not set, so the default")
        raise FeedError(feed.display, "auth", f"no known_hosts file at {path} ({setting}): "
                        "add the server's key to it (ssh-keyscan -p PORT HOST >> FILE, then "
                        "check the fingerprint) or point source.feed.known_hosts at one")
    return path


def _connect_options(feed: FeedSettings) -> dict[str, Any]:
    parts = urlsplit(feed.url)
    options: dict[str, Any] = {"host": parts.hostname, "port": parts.port or 22,
                               "username": unquote(parts.username) if parts.username else None,
                               "connect_timeout": feed.timeout_s,
                               # No OpenSSH client configuration at all: everything the
                               # connection needs is set here, from syncd's settings.
                               "config": None,
                               "known_hosts": str(known_hosts_file(feed))}
    secret = feed.secret.reveal() if feed.secret is not None else None
    if feed.key_file is not None:
        options["client_keys"] = [feed.key_file]
        options["passphrase"] = secret
        options["password"] = None
    else:
        options["client_keys"] = None
        options["password"] = secret
    options["agent_path"] = None
    return options


async def fetch_sftp(feed: FeedSettings, previous: Validators | None,
                     sink: Sink) -> Validators | None:
    """Fetch ``feed`` into ``sink``; None when its stamp matches the last copy's."""
    try:
        import asyncssh
    except ImportError:
        raise FeedError(feed.display, "error", "SFTP feeds need asyncssh: pip install "
                        "'syncd[sftp]'") from None
    path = unquote(urlsplit(feed.url).path)
    options = await asyncio.to_thread(_connect_options, feed)
    try:
        async with asyncssh.connect(**options) as conn, \
                conn.start_sftp_client() as sftp:
            before = await sftp.stat(path)
            stamp = f"{before.size}-{before.mtime}"
            if previous is not None and previous.etag == stamp:
                return None
            sink.check_announced(before.size)
            async with sftp.open(path, "rb", encoding=None) as f:
                while chunk := await f.read(_CHUNK):
                    await sink.write(cast(bytes, chunk))
            after = await sftp.stat(path)
    except FeedError:
        raise
    except asyncssh.HostKeyNotVerifiable:
        raise FeedError(feed.display, "auth", "the server's host key is not in "
                        f"{options['known_hosts']} (source.feed.known_hosts)") from None
    except asyncssh.PermissionDenied:
        raise FeedError(feed.display, "auth", "the server refused the credential "
                        f"({feed.secret_origin or feed.key_file or 'none configured'})") from None
    except asyncssh.SFTPNoSuchFile:
        raise FeedError(feed.display, "not_found", "no such file on the server") from None
    except asyncssh.SFTPPermissionDenied:
        raise FeedError(feed.display, "auth", "the server denies reading the file") from None
    except (OSError, asyncssh.DisconnectError, asyncssh.ConnectionLost) as e:
        raise FeedError(feed.display, "unreachable", f"{type(e).__name__}: {e}") from None
    except asyncssh.Error as e:
        raise FeedError(feed.display, "error", f"{type(e).__name__}: {e}") from None
    if (after.size, after.mtime) != (before.size, before.mtime) or sink.size != before.size:
        raise FeedError(feed.display, "changed_while_read",
                        f"the file changed while it was read ({before.size} -> {after.size} "
                        "bytes); it is read again at the next check")
    fresh = before.mtime is None or before.mtime >= time.time() - _FRESH_S
    return Validators(etag=None if fresh else stamp)
