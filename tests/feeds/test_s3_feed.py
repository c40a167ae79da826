"""S3 feeds against an S3-compatible server (moto in server mode) on 127.0.0.1."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from aiobotocore.session import get_session
from moto import settings as moto_settings
from moto.core.responses import ActionAuthenticatorMixin
from moto.server import ThreadedMotoServer

from syncd.edges.config.feed import FeedSettings
from syncd.edges.feeds.copy import FeedCopy, FetchResult
from syncd.edges.feeds.feed_errors import FeedError
from tests.feeds.silent import silent_server

BUCKET = "supplier"
SECRET_KEY = "s3-secret-key-0d8e44a9b1"


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
async def bucket(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[str]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    await _put(moto_endpoint, b"sku,quantity\nA-1,5\n", create=True)
    yield moto_endpoint


async def _put(endpoint: str, body: bytes, *, create: bool = False) -> None:
    async with get_session().create_client("s3", endpoint_url=endpoint) as s3:
        if create:
            try:
                await s3.create_bucket(Bucket=BUCKET)
            except s3.exceptions.BucketAlreadyOwnedByYou:
                pass
        await s3.put_object(Bucket=BUCKET, Key="stock.csv", Body=body)


def _copy(tmp_path, endpoint: str, **kw) -> FeedCopy:
    feed = FeedSettings(url=f"s3://{BUCKET}/stock.csv", endpoint_url=endpoint,
                        region="us-east-1", timeout_s=10, **kw)
    return FeedCopy(feed, tmp_path / "feeds")


async def test_an_unchanged_object_is_not_downloaded_and_a_changed_one_is(bucket, tmp_path):
    copy = _copy(tmp_path, bucket)
    assert await copy.refresh() is FetchResult.CHANGED
    assert await copy.refresh() is FetchResult.NOT_MODIFIED
    await _put(bucket, b"sku,quantity\nA-1,8\n")
    assert await copy.refresh() is FetchResult.CHANGED
    assert copy.body.read_bytes() == b"sku,quantity\nA-1,8\n"


async def test_an_object_over_the_size_cap_is_refused(bucket, tmp_path):
    with pytest.raises(FeedError) as caught:
        await _copy(tmp_path, bucket, max_bytes=5).refresh()
    assert caught.value.kind == "too_large"


async def test_a_missing_object_is_refused(bucket, tmp_path):
    feed = FeedSettings(url=f"s3://{BUCKET}/nothing.csv", endpoint_url=bucket,
                        region="us-east-1", timeout_s=10)
    with pytest.raises(FeedError) as caught:
        await FeedCopy(feed, tmp_path / "feeds").refresh()
    assert caught.value.kind == "not_found"


async def test_refused_credentials_are_an_auth_failure_that_never_quotes_them(
        bucket, tmp_path, monkeypatch: pytest.MonkeyPatch):
    # Make the server check signatures from now on, against keys it has never issued.
    monkeypatch.setattr(moto_settings, "INITIAL_NO_AUTH_ACTION_COUNT", 0)
    monkeypatch.setattr(ActionAuthenticatorMixin, "request_count", 0)
    with pytest.raises(FeedError) as caught:
        await _copy(tmp_path, bucket).refresh()
    assert caught.value.kind == "auth"
    assert SECRET_KEY not in str(caught.value)


async def test_a_server_that_hangs_fails_by_the_deadline(tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)

    async with silent_server() as port:
        feed = FeedSettings(url=f"s3://{BUCKET}/stock.csv",
                            endpoint_url=f"http://127.0.0.1:{port}",
                            region="us-east-1", timeout_s=0.5)
        with pytest.raises(FeedError) as caught:
            await FeedCopy(feed, tmp_path / "feeds").refresh()
        assert caught.value.kind == "timeout"


def _validate(tmp_path, endpoint_lines: str) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "syncd.yaml"
    config.write_text(
        "sites: [{name: shop, site_id: s, api_key_env: KEY}]\n"
        "source:\n"
        f"  path: 's3://{BUCKET}/stock.csv'\n"
        "  feed:\n"
        "    region: us-east-1\n"
        f"{endpoint_lines}")
    env = {**os.environ, "KEY": "k", "PYTHONPATH": str(Path(__file__).parents[2])}
    return subprocess.run([sys.executable, "-m", "syncd", "validate", "--config", str(config)],
                          capture_output=True, text=True, env=env, timeout=60, check=False)


def test_a_plain_http_endpoint_off_loopback_is_a_config_error_naming_its_line(tmp_path):
    done = _validate(tmp_path, "    endpoint_url: http://minio.internal:9000\n")
    assert done.returncode != 0
    assert (f"{tmp_path / 'syncd.yaml'}:6: source.feed.endpoint_url: plain http to "
            "minio.internal is refused") in done.stderr + done.stdout
    assert "allow_insecure_http: true" in done.stderr + done.stdout


def test_a_plain_http_endpoint_is_allowed_to_loopback_or_when_the_source_says_so(tmp_path):
    from syncd.edges.config import Settings

    config = tmp_path / "syncd.yaml"
    for endpoint, flag in (("http://127.0.0.1:9000", ""), ("http://localhost:9000", ""),
                           ("http://minio.internal:9000", "allow_insecure_http: true, ")):
        config.write_text(
            "sites: [{name: shop, site_id: s, api_key_env: KEY}]\n"
            f"source: {{path: 's3://{BUCKET}/k.csv',\n"
            f"         feed: {{{flag}endpoint_url: '{endpoint}'}}}}\n")
        feed = Settings.from_file(config, env={"KEY": "k"}).sites[0].source.feed
        assert feed is not None and feed.endpoint_url == endpoint
