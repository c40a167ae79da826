"""HTTP(S) feeds: a conditional GET, redirects followed by hand, the body streamed to disk.

``If-None-Match`` / ``If-Modified-Since`` carry the validators of the last copy, so an
unchanged feed costs one small 304 answer. Redirects are followed here rather than by
aiohttp so that their number is bounded, each one is checked against the rules of
``syncd.edges.feeds.redirects`` (no https to http, no way from a public address into a
private one) and the auth header is sent to the configured origin only. A body shorter
than its ``Content-Length`` (a connection dropped, a file replaced on the server while it
was sent) is refused as truncated.
"""

from __future__ import annotations

import asyncio
import ssl
from urllib.parse import urljoin

import aiohttp

from syncd.edges.config.feed import FeedSettings
from syncd.edges.feeds.copy import Sink, Validators
from syncd.edges.feeds.feed_errors import FeedError
from syncd.edges.feeds.redirects import (
    AddressGuard,
    GuardedResolver,
    check_scheme,
    same_origin,
)

_CHUNK = 1 << 16
_REDIRECTS = (301, 302, 303, 307, 308)


async def fetch_http(feed: FeedSettings, previous: Validators | None,
                     sink: Sink) -> Validators | None:
    """Fetch ``feed`` into ``sink``; None when the server answers 304 Not Modified."""
    headers: dict[str, str] = {}
    if previous is not None:
        if previous.etag:
            headers["If-None-Match"] = previous.etag
        if previous.last_modified:
            headers["If-Modified-Since"] = previous.last_modified
    secret = feed.secret
    timeout = aiohttp.ClientTimeout(total=feed.timeout_s)
    tls: ssl.SSLContext | bool = True
    if feed.ca_file is not None:
        try:
            tls = await asyncio.to_thread(ssl.create_default_context, cafile=feed.ca_file)
        except (OSError, ssl.SSLError) as e:
            raise FeedError(feed.display, "error", f"cannot use {feed.ca_file} "
                            f"(source.feed.ca_file): {e}") from None
    guard = AddressGuard(feed.display)
    url = feed.url
    try:
        # No DNS cache: every new connection resolves through the guard, and no cookie jar:
        # nothing one hop sets travels to the next.
        connector = aiohttp.TCPConnector(resolver=GuardedResolver(guard), use_dns_cache=False,
                                         ssl=tls)
        async with aiohttp.ClientSession(timeout=timeout, connector=connector,
                                         cookie_jar=aiohttp.DummyCookieJar()) as session:
            for hop in range(feed.max_redirects + 1):
                guard.hop, guard.url = hop, url
                guard.check_literal(url)
                sent = dict(headers)
                if secret is not None and same_origin(url, feed.url):
                    sent[feed.auth_header] = secret.reveal()
                async with session.get(url, headers=sent, allow_redirects=False) as resp:
                    if resp.status in _REDIRECTS and "Location" in resp.headers:
                        target = urljoin(url, resp.headers["Location"])
                        check_scheme(feed.display, hop=hop + 1, current=url, target=target)
                        url = target
                        continue
                    return await _answer(feed, resp, sink)
    except FeedError:
        raise
    except TimeoutError:
        raise FeedError(feed.display, "timeout",
                        f"no complete answer within {feed.timeout_s:g} s") from None
    except aiohttp.ClientPayloadError as e:
        raise FeedError(feed.display, "truncated",
                        f"the body ended early ({type(e).__name__})") from None
    except aiohttp.ClientConnectionError as e:
        raise FeedError(feed.display, "unreachable", f"{type(e).__name__}: {e}") from None
    except aiohttp.ClientError as e:
        raise FeedError(feed.display, "error", f"{type(e).__name__}: {e}") from None
    raise FeedError(feed.display, "redirects",
                    f"more than {feed.max_redirects} redirects (source.feed.max_redirects)")


async def _answer(feed: FeedSettings, resp: aiohttp.ClientResponse,
                  sink: Sink) -> Validators | None:
    status = resp.status
    if status == 304:
        return None
    if status in (401, 403):
        raise FeedError(feed.display, "auth", f"HTTP {status}: the server refused the "
                        f"credential ({feed.secret_origin or 'none configured'})")
    if status == 404:
        raise FeedError(feed.display, "not_found", "HTTP 404: no such feed")
    if status != 200:
        raise FeedError(feed.display, "http_error", f"HTTP {status} {resp.reason or ''}".strip())
    # A compressed body is decompressed on the way in; its Content-Length counts the
    # compressed bytes, so only an uncompressed one is checked against it (a cut-off
    # compressed body fails in aiohttp's decoder instead). The size cap counts the bytes
    # written, after decompression.
    compressed = resp.headers.get("Content-Encoding", "identity").lower() != "identity"
    length = None if compressed else resp.content_length
    sink.check_announced(length)
    async for chunk in resp.content.iter_chunked(_CHUNK):
        await sink.write(chunk)
    if length is not None and sink.size != length:
        raise FeedError(feed.display, "truncated",
                        f"{sink.size} bytes received, {length} announced")
    return Validators(etag=resp.headers.get("ETag"),
                      last_modified=resp.headers.get("Last-Modified"))
