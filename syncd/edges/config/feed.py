"""Where a remote feed lives and how it is fetched: values only, built by
``syncd.edges.config.loader``.

A source whose ``path`` is a URL (``https://``, ``http://``, ``sftp://``, ``s3://``) gets a
``FeedSettings``. Credentials never sit in the URL the rest of syncd sees: ``display`` is the
URL without user, password or query string, and is what logs, metrics, plans and journals
name; secrets are held as ``syncd.edges.config.Secret`` values.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

if TYPE_CHECKING:
    from syncd.edges.config.secrets import Secret


class FeedScheme(StrEnum):
    """How a feed is fetched."""

    HTTP = "http"
    HTTPS = "https"
    SFTP = "sftp"
    S3 = "s3"


REMOTE_SCHEMES = tuple(f"{s.value}://" for s in FeedScheme)
"""Prefixes of ``source.path`` values that name a remote feed."""

DEFAULT_POLL_S = 300.0
DEFAULT_TIMEOUT_S = 60.0
FEED_MEMORY_PER_BYTE = {"csv": 16, "jsonl": 8, "xlsx": 24, "yaml": 96}
"""Bytes of memory a changed feed takes per byte of the feed, by format: its parse plus the
rows of the last reading, which the daemon holds while it compares the two. Measured with
tests/bench/bench_feed_memory.py (tracemalloc's peak over ``load_desired`` plus the rows it
returns, divided by the file's size; 100,000 rows, 2026-12-06): CSV 9.1 + 4.6, JSON lines
3.8 + 1.9, XLSX 16.7 + 5.6, YAML 84.4 + 2.1 (PyYAML keeps a node per scalar). Each rounded
up with about 10 % headroom for what tracemalloc does not see (allocator slack)."""

FEED_MEMORY_BUDGET = 384 * 1024 * 1024
"""Memory a feed at its default cap may take (``FEED_MEMORY_PER_BYTE`` x the cap). The
shipped Kubernetes manifests leave this much above their memory request
(tests/deploy/test_feed_sizes.py)."""

DEFAULT_MAX_BYTES = 16 * 1024 * 1024
"""The default cap of a feed whose format parses within the budget at that size (CSV,
JSON lines, XLSX); a YAML feed's default is smaller (``default_max_bytes``)."""
DEFAULT_MAX_REDIRECTS = 5


def default_max_bytes(source_format: str) -> int:
    """The default ``max_bytes`` of a feed in ``source_format`` (``csv``, ``yaml``...): at most
    ``DEFAULT_MAX_BYTES``, and small enough that its parse fits ``FEED_MEMORY_BUDGET``
    (whole MiB)."""
    per_byte = FEED_MEMORY_PER_BYTE.get(source_format, max(FEED_MEMORY_PER_BYTE.values()))
    mib = 1024 * 1024
    return min(DEFAULT_MAX_BYTES, FEED_MEMORY_BUDGET // per_byte // mib * mib)


def is_remote(path: str) -> bool:
    """True when ``path`` is a URL syncd fetches rather than a local file."""
    return path.lower().startswith(REMOTE_SCHEMES)


def display_url(url: str) -> str:
    """``url`` without credentials and query string: safe for logs, metrics and plans."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def is_loopback_host(host: str | None) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1): the only hosts a
    plain ``http`` S3 endpoint may name without ``allow_insecure_http``."""
    if host is None:
        return False
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def insecure_endpoint(feed: FeedSettings) -> str | None:
    """Why ``feed.endpoint_url`` may not be used, or None: plain ``http`` is allowed to a
    loopback host only, unless ``allow_insecure_http`` says otherwise (S3 requests are
    signed, but the object itself, and what an attacker on the path sends back, travel in
    clear text)."""
    if feed.endpoint_url is None or feed.allow_insecure_http:
        return None
    parts = urlsplit(feed.endpoint_url)
    if parts.scheme.lower() == "https":
        return None
    if parts.scheme.lower() == "http" and is_loopback_host(parts.hostname):
        return None
    if parts.scheme.lower() != "http":
        return f"endpoint_url must be an https:// URL, not {parts.scheme or 'no'} scheme"
    return (f"plain http to {parts.hostname or '(no host)'} is refused (only a loopback "
            "host may be reached over http): use https, or set "
            "source.feed.allow_insecure_http: true beside endpoint_url on a network you trust")


@dataclass(frozen=True, slots=True)
class FeedSettings:
    """One remote feed: its URL, its credential and the limits its fetch must respect."""

    url: str
    """The URL as configured (it may carry a user name, never a password: see ``secret``)."""

    poll_s: float = DEFAULT_POLL_S
    """Seconds between two checks by the daemon; an unchanged feed costs one small request
    (HTTP 304, an SFTP stat, an S3 304) and no Wix call."""

    timeout_s: float = DEFAULT_TIMEOUT_S
    """Deadline for one whole fetch (connect, headers and body); a server that stops sending
    fails the fetch instead of holding the cycle."""

    max_bytes: int = DEFAULT_MAX_BYTES
    """A feed larger than this is refused before or while it is read. The configuration
    sets ``default_max_bytes`` of the source's format when ``source.feed.max_bytes`` is not
    given."""

    max_redirects: int = DEFAULT_MAX_REDIRECTS
    """HTTP redirects followed; more is an error. The auth header is sent to the configured
    origin (scheme, host, port) only; a redirect from https to http, or from a public address
    to a non-public one, is refused (``syncd.edges.feeds.redirects``)."""

    ca_file: str | None = None
    """HTTPS: a PEM file of the certificate authorities to trust instead of the system's
    (a private CA of an internal feed server)."""

    auth_header: str = "Authorization"
    """HTTP: the header that carries ``secret`` (``Authorization``, ``X-Api-Key``...)."""

    secret: Secret | None = None
    """HTTP: the auth header's value; SFTP: the password (or the key's passphrase with
    ``key_file``); S3: unused (credentials come from the usual AWS chain)."""

    secret_origin: str = ""
    """Where the secret came from (``env FEED_TOKEN``), for messages; never the value."""

    key_file: str | None = None
    """SFTP: a private key file."""

    known_hosts: str | None = None
    """SFTP: a known_hosts file to check the server's key against; None uses
    ``~/.ssh/known_hosts``."""

    endpoint_url: str | None = None
    """S3: the endpoint of an S3-compatible server (MinIO, Ceph...); None for AWS."""

    region: str | None = None
    """S3: the bucket's region; None uses the AWS configuration."""

    allow_insecure_http: bool = False
    """S3: allow a plain ``http://`` ``endpoint_url`` to a host other than loopback."""

    @property
    def scheme(self) -> FeedScheme:
        return FeedScheme(urlsplit(self.url).scheme.lower())

    @property
    def display(self) -> str:
        """The URL to show: no credentials, no query string."""
        return display_url(self.url)
