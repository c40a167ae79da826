"""S3 feeds (the ``s3`` extra, aiobotocore): a conditional GetObject on the object's ETag.

``s3://bucket/key``; credentials come from the usual AWS chain (environment variables,
shared credentials file, instance role), never from syncd's configuration, and
``source.feed.endpoint_url`` points at an S3-compatible server (MinIO, Ceph, a test server):
``https``, or plain ``http`` to loopback only unless ``allow_insecure_http`` is set.
An unchanged object answers 304 and is not downloaded. A body shorter than its announced
length is refused as truncated.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlsplit

from syncd.edges.config.feed import FeedSettings, insecure_endpoint
from syncd.edges.feeds.copy import Sink, Validators
from syncd.edges.feeds.feed_errors import FeedError

_CHUNK = 1 << 16
_AUTH_CODES = frozenset({"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch",
                         "ExpiredToken", "InvalidToken"})


async def fetch_s3(feed: FeedSettings, previous: Validators | None,
                   sink: Sink) -> Validators | None:
    """Fetch ``feed`` into ``sink``; None when the object still has the last copy's ETag."""
    try:
        from aiobotocore.config import AioConfig
        from aiobotocore.session import get_session
        from botocore.exceptions import BotoCoreError, ClientError
    except ImportError:
        raise FeedError(feed.display, "error", "S3 feeds need aiobotocore: pip install "
                        "'syncd[s3]'") from None
    refused = insecure_endpoint(feed)
    if refused is not None:
        # The configuration refuses this already; a FeedSettings built some other way must
        # not reach the network either.
        raise FeedError(feed.display, "error", f"source.feed.endpoint_url: {refused}")
    parts = urlsplit(feed.url)
    bucket, key = parts.hostname or "", unquote(parts.path.lstrip("/"))
    request: dict[str, Any] = {"Bucket": bucket, "Key": key}
    if previous is not None and previous.etag:
        request["IfNoneMatch"] = previous.etag
    config = AioConfig(connect_timeout=feed.timeout_s, read_timeout=feed.timeout_s,
                       retries={"max_attempts": 2})
    try:
        async with get_session().create_client(
                "s3", endpoint_url=feed.endpoint_url, region_name=feed.region,
                config=config) as client:
            answer = await client.get_object(**request)
            length = answer.get("ContentLength")
            sink.check_announced(length)
            async with answer["Body"] as body:
                while chunk := await body.read(_CHUNK):
                    await sink.write(chunk)
    except FeedError:
        raise
    except ClientError as e:
        _client_error(feed, e.response)
        return None
    except BotoCoreError as e:
        raise FeedError(feed.display, "unreachable", f"{type(e).__name__}: {e}") from None
    except OSError as e:
        raise FeedError(feed.display, "unreachable", f"{type(e).__name__}: {e}") from None
    if length is not None and sink.size != length:
        raise FeedError(feed.display, "truncated", f"{sink.size} bytes received, {length} "
                        "announced")
    modified = answer.get("LastModified")
    return Validators(etag=answer.get("ETag"),
                      last_modified=modified.isoformat() if modified is not None else None)


def _client_error(feed: FeedSettings, response: Any) -> None:
    """Returns for "not modified"; raises ``FeedError`` for everything else."""
    error = response.get("Error", {})
    code = str(error.get("Code", ""))
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    if status == 304 or code in ("304", "NotModified"):
        return
    if code in _AUTH_CODES or status == 403:
        raise FeedError(feed.display, "auth", f"S3 refused the credentials ({code})")
    if code in ("NoSuchKey", "NoSuchBucket") or status == 404:
        raise FeedError(feed.display, "not_found", f"no such object ({code})")
    raise FeedError(feed.display, "http_error", f"S3 error {code or status}")
