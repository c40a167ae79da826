"""The local copy of a feed: durable renames, a checked digest, and no URL on disk."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from support.sync import API_KEY, load_site, write_config
from syncd.cycle.sync import SiteSync
from syncd.edges.config.feed import FeedSettings
from syncd.edges.feeds.copy import FeedCopy, FetchResult
from syncd.edges.feeds.feed_errors import FeedError
from tests.feeds.httpfeed import FeedServer

QUERY_TOKEN = "qs-token-51c9e0d7f3"


def _copy(tmp_path: Path, url: str) -> FeedCopy:
    return FeedCopy(FeedSettings(url=url), tmp_path / "feeds")


async def test_a_damaged_copy_is_fetched_again_after_not_modified(
        feed_server: FeedServer, tmp_path):
    copy = _copy(tmp_path, f"{feed_server.url}/stock.csv")
    assert await copy.refresh() is FetchResult.CHANGED
    good = copy.body.read_bytes()
    copy.body.write_bytes(good.replace(b"5", b"0"))  # bit rot, a torn write, a hand edit
    with capture_logs() as logs:
        assert await copy.refresh() is FetchResult.CHANGED
    assert copy.body.read_bytes() == good
    assert feed_server.statuses == {200: 2, 304: 1}
    damaged = [e for e in logs if e["event"] == "feed_copy_damaged"]
    assert len(damaged) == 1 and damaged[0]["log_level"] == "warning"
    assert await copy.refresh() is FetchResult.NOT_MODIFIED  # and it is trusted again


async def test_the_body_is_synced_before_the_rename_and_the_directory_after(
        feed_server: FeedServer, tmp_path, monkeypatch: pytest.MonkeyPatch):
    copy = _copy(tmp_path, f"{feed_server.url}/stock.csv")
    steps: list[tuple[str, str]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        steps.append(("fsync", Path(os.readlink(f"/proc/self/fd/{fd}")).name))
        real_fsync(fd)

    def replace(src, dst) -> None:  # type: ignore[no-untyped-def]
        steps.append(("replace", f"{Path(src).suffix}->{Path(dst).name}"))
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    await copy.refresh()
    body, meta, feeds = copy.body.name, copy.body.with_suffix(".json").name, "feeds"
    renames = [i for i, (op, _) in enumerate(steps) if op == "replace"]
    assert len(renames) == 2
    first, second = renames
    assert steps[first][1].startswith(".part") and steps[first][1].endswith(f"->{body}")
    assert steps[first - 1][0] == "fsync" and ".part" in steps[first - 1][1]
    assert steps[first + 1] == ("fsync", feeds)
    assert steps[second][1].endswith(f"->{meta}") and steps[second - 1][0] == "fsync"
    assert steps[second + 1] == ("fsync", feeds)


async def test_the_copy_and_its_validators_are_private_files(
        feed_server: FeedServer, tmp_path):
    copy = _copy(tmp_path, f"{feed_server.url}/stock.csv")
    await copy.refresh()
    for path in (copy.body, copy.body.with_suffix(".json")):
        assert path.stat().st_mode & 0o777 == 0o600


def _write_old_format(copy: FeedCopy, url: str) -> Path:
    meta = copy.body.with_suffix(".json")
    old = json.loads(meta.read_text())
    meta.write_text(json.dumps({"etag": old["etag"], "last_modified": None,
                                "sha256": old["sha256"], "url": url}))
    return meta


async def test_an_old_validators_file_with_the_url_is_ignored_and_replaced(
        feed_server: FeedServer, tmp_path):
    url = f"{feed_server.url}/stock.csv?token={QUERY_TOKEN}"
    copy = _copy(tmp_path, url)
    await copy.refresh()
    meta = _write_old_format(copy, url)
    assert await copy.refresh() is FetchResult.CHANGED  # no validators sent: a full fetch
    assert feed_server.statuses == {200: 2}
    assert QUERY_TOKEN not in meta.read_text()


async def test_an_old_validators_file_is_removed_even_when_the_fetch_fails(
        feed_server: FeedServer, tmp_path):
    url = f"{feed_server.url}/stock.csv?token={QUERY_TOKEN}"
    copy = _copy(tmp_path, url)
    await copy.refresh()
    meta = _write_old_format(copy, url)
    feed_server.token = "now-required"
    with pytest.raises(FeedError):
        await copy.refresh()
    assert not meta.exists()


async def test_no_query_string_reaches_any_file_under_the_state_dir(
        emulator, feed_server: FeedServer, tmp_path):
    emu = await emulator(catalog="v1", generate_products=20, seed=5, rate_limit=None,
                         api_key=API_KEY)
    sku = next(str(r["sku"]) for r in emu.state() if r["sku"] and r["tracked"])
    feed_server.body = f"sku,quantity\n{sku},4321\n".encode()
    url = f"{feed_server.url}/stock.csv?token={QUERY_TOKEN}"
    config = write_config(tmp_path, url=emu.url, source=tmp_path / "unused.csv",
                          rate_limit=(100_000, 1.0), policy={"max_changed_fraction": 1.0})
    config.write_text(config.read_text().replace(f"path: {tmp_path / 'unused.csv'}",
                                                 f"path: '{url}'"))
    settings, site = load_site(config)
    async with SiteSync(site, state_dir=settings.state_dir) as sync:
        result = await sync.sync()
        assert result.applied is not None and result.applied.written == 1
        await sync.sync()  # a second cycle: validators read back and a 304
    assert feed_server.statuses == {200: 1, 304: 1}
    files = _files_under(Path(settings.state_dir))
    assert any(p.suffix == ".json" and p.parent.name == "feeds" for p in files)
    for path, data in files.items():
        assert QUERY_TOKEN.encode() not in data, path


def _files_under(directory: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in directory.rglob("*") if p.is_file()}
