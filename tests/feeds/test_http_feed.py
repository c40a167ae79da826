"""HTTP feeds against a real server on 127.0.0.1: change detection, failures, and that a
failing feed never reaches the store."""

from __future__ import annotations

import pytest

from support.sync import API_KEY, load_site, write_config
from syncd.base.errors import SourceError
from syncd.cycle.sync import SiteSync
from syncd.edges.config import Secret, SourceFormat, SourceSettings
from syncd.edges.config.feed import FeedSettings
from syncd.edges.feeds.copy import FeedCopy, FetchResult
from syncd.edges.feeds.feed_errors import FeedError
from syncd.edges.sources import load_desired
from tests.feeds.httpfeed import FeedServer

TOKEN = "feed-token-3e9a61c0b7"


def _copy(tmp_path, url: str, **kw) -> FeedCopy:
    return FeedCopy(FeedSettings(url=url, **kw), tmp_path / "feeds")


def _rows(copy: FeedCopy) -> dict[str, int | None]:
    source = SourceSettings(path=copy.body, format=SourceFormat.CSV, feed=copy.feed)
    return {r.key: r.quantity for r in load_desired(source, file=copy.body).rows}


async def test_an_unchanged_feed_is_answered_304_and_a_changed_one_is_fetched(
        feed_server: FeedServer, tmp_path):
    copy = _copy(tmp_path, f"{feed_server.url}/stock.csv")
    assert await copy.refresh() is FetchResult.CHANGED
    assert _rows(copy) == {"A-1": 5, "B-2": 7}
    for _ in range(3):
        assert await copy.refresh() is FetchResult.NOT_MODIFIED
    assert feed_server.statuses == {200: 1, 304: 3}
    feed_server.body = b"sku,quantity\nA-1,5\nB-2,9\n"
    assert await copy.refresh() is FetchResult.CHANGED
    assert _rows(copy) == {"A-1": 5, "B-2": 9}


async def test_validators_survive_a_restart(feed_server: FeedServer, tmp_path):
    url = f"{feed_server.url}/stock.csv"
    await _copy(tmp_path, url).refresh()
    assert await _copy(tmp_path, url).refresh() is FetchResult.NOT_MODIFIED
    assert feed_server.statuses[304] == 1


async def test_a_feed_cut_off_while_sent_is_refused_and_the_old_copy_kept(
        feed_server: FeedServer, tmp_path):
    copy = _copy(tmp_path, f"{feed_server.url}/stock.csv")
    await copy.refresh()
    feed_server.body = b"sku,quantity\n" + b"".join(b"X-%d,1\n" % i for i in range(5000))
    feed_server.cut_at = 100
    with pytest.raises(FeedError) as caught:
        await copy.refresh()
    assert caught.value.kind == "truncated"
    assert _rows(copy) == {"A-1": 5, "B-2": 7}
    assert not list((tmp_path / "feeds").glob("*.part*"))


async def test_a_feed_over_the_size_cap_is_refused(feed_server: FeedServer, tmp_path):
    feed_server.body = b"sku,quantity\n" + b"X,1\n" * 1000
    copy = _copy(tmp_path, f"{feed_server.url}/stock.csv", max_bytes=1000)
    with pytest.raises(FeedError) as caught:
        await copy.refresh()
    assert caught.value.kind == "too_large"
    assert "1000" in str(caught.value)
    assert not copy.body.exists()


async def test_a_refused_credential_is_an_auth_failure_that_never_quotes_it(
        feed_server: FeedServer, tmp_path):
    feed_server.token = "the-right-one"
    copy = _copy(tmp_path, f"{feed_server.url}/stock.csv", secret=Secret(f"Bearer {TOKEN}"),
                 secret_origin="env FEED_TOKEN")
    with pytest.raises(FeedError) as caught:
        await copy.refresh()
    assert caught.value.kind == "auth"
    assert "env FEED_TOKEN" in str(caught.value)
    assert TOKEN not in str(caught.value)
    assert feed_server.auth_headers == [f"Bearer {TOKEN}"]


async def test_the_right_credential_is_sent_in_the_configured_header(
        feed_server: FeedServer, tmp_path):
    feed_server.token = TOKEN
    copy = _copy(tmp_path, f"{feed_server.url}/stock.csv", secret=Secret(f"Bearer {TOKEN}"))
    assert await copy.refresh() is FetchResult.CHANGED


async def test_a_server_that_hangs_fails_the_fetch_by_its_deadline(
        feed_server: FeedServer, tmp_path):
    feed_server.hang_s = 30
    copy = _copy(tmp_path, f"{feed_server.url}/stock.csv", timeout_s=0.5)
    with pytest.raises(FeedError) as caught:
        await copy.refresh()
    assert caught.value.kind == "timeout"


async def test_redirects_are_followed_up_to_the_limit(feed_server: FeedServer, tmp_path):
    moved = _copy(tmp_path, f"{feed_server.url}/moved.csv")
    assert await moved.refresh() is FetchResult.CHANGED
    looping = _copy(tmp_path, f"{feed_server.url}/loop", max_redirects=3)
    with pytest.raises(FeedError) as caught:
        await looping.refresh()
    assert caught.value.kind == "redirects"


async def test_an_empty_feed_is_refused(feed_server: FeedServer, tmp_path):
    feed_server.body = b""
    with pytest.raises(FeedError) as caught:
        await _copy(tmp_path, f"{feed_server.url}/stock.csv").refresh()
    assert caught.value.kind == "empty"


async def test_a_missing_feed_is_refused(feed_server: FeedServer, tmp_path):
    with pytest.raises(FeedError) as caught:
        await _copy(tmp_path, f"{feed_server.url}/nothing.csv").refresh()
    assert caught.value.kind == "not_found"


def _feed_site(tmp_path, emu, url: str):
    config = write_config(tmp_path, url=emu.url, source=tmp_path / "unused.csv",
                          rate_limit=(100_000, 1.0), policy={"max_changed_fraction": 1.0})
    text = config.read_text().replace(f"path: {tmp_path / 'unused.csv'}",
                                      f"path: {url}\n  feed: {{timeout_seconds: 1}}")
    config.write_text(text)
    return load_site(config)


@pytest.mark.parametrize("failure", ["hang", "cut", "auth", "empty", "too_large"])
async def test_a_failing_feed_writes_nothing(emulator, feed_server: FeedServer, tmp_path,
                                             failure: str):
    emu = await emulator(catalog="v1", generate_products=20, seed=5, rate_limit=None,
                         api_key=API_KEY)
    sku = next(str(r["sku"]) for r in emu.state() if r["sku"] and r["tracked"])
    feed_server.body = f"sku,quantity\n{sku},4321\n".encode() + b"".join(
        b"PAD-%d,1\n" % i for i in range(2000))
    if failure == "hang":
        feed_server.hang_s = 30
    elif failure == "cut":
        feed_server.cut_at = 40
    elif failure == "auth":
        feed_server.token = "needed"
    elif failure == "empty":
        feed_server.body = b""
    settings, site = _feed_site(tmp_path, emu, f"{feed_server.url}/stock.csv")
    if failure == "too_large":
        from dataclasses import replace
        assert site.source.feed is not None
        site = replace(site, source=replace(
            site.source, feed=replace(site.source.feed, max_bytes=100)))
    async with SiteSync(site, state_dir=settings.state_dir) as sync:
        with pytest.raises(SourceError, match="feed not used"):
            await sync.sync()
    assert emu.stats()["writes"]["calls"] == 0
    assert emu.stats()["requests_total"] == 0


async def test_a_feed_reaches_the_store(emulator, feed_server: FeedServer, tmp_path):
    emu = await emulator(catalog="v1", generate_products=20, seed=5, rate_limit=None,
                         api_key=API_KEY)
    sku = next(str(r["sku"]) for r in emu.state() if r["sku"] and r["tracked"])
    feed_server.body = f"sku,quantity\n{sku},4321\n".encode()
    settings, site = _feed_site(tmp_path, emu, f"{feed_server.url}/stock.csv")
    async with SiteSync(site, state_dir=settings.state_dir) as sync:
        result = await sync.sync()
    assert result.applied is not None and result.applied.written == 1
    assert result.planned.source.path == f"{feed_server.url}/stock.csv"
    assert [r["quantity"] for r in emu.state() if r["sku"] == sku] == [4321]


async def test_validate_fetches_a_feed_and_reports_its_rows_or_its_failure(
        feed_server: FeedServer, tmp_path, monkeypatch):
    import asyncio
    import io
    from argparse import Namespace

    from syncd.frontends.commands import validate

    config = tmp_path / "syncd.yaml"
    config.write_text(
        "sites: [{name: shop, site_id: s, api_key_env: KEY}]\n"
        f"source: {{path: '{feed_server.url}/stock.csv'}}\n")
    args = Namespace(config=str(config), site=None, strict=False)

    monkeypatch.setenv("KEY", API_KEY)

    def run() -> tuple[int, str]:
        out = io.StringIO()
        return validate.run(args, out=out), out.getvalue()

    code, text = await asyncio.to_thread(run)
    assert code == 0, text
    assert f"source {feed_server.url}/stock.csv (csv, on invalid rows: fail): 2 valid rows" in text
    feed_server.token = "needed"
    feed_server.body = b"sku,quantity\nA,1\n"
    code, text = await asyncio.to_thread(run)
    assert code == 1
    assert "feed not used (auth)" in text


async def test_a_workbook_feed_is_read_from_its_local_copy(feed_server: FeedServer, tmp_path):
    import io

    import openpyxl

    book = openpyxl.Workbook()
    book.active.append(["sku", "quantity"])
    book.active.append(["A-1", 12])
    buffer = io.BytesIO()
    book.save(buffer)
    feed_server.body = buffer.getvalue()
    copy = _copy(tmp_path, f"{feed_server.url}/stock.csv")
    await copy.refresh()
    source = SourceSettings(path=copy.body, format=SourceFormat.XLSX, feed=copy.feed)
    assert {r.key: r.quantity for r in load_desired(source, file=copy.body).rows} == {"A-1": 12}


async def test_a_compressed_feed_is_decompressed_and_its_size_capped_after(tmp_path):
    import gzip

    from aiohttp import web

    body = b"sku,quantity\n" + b"".join(b"G-%d,1\n" % i for i in range(20000))

    async def handle(request: web.Request) -> web.Response:
        return web.Response(body=gzip.compress(body), headers={"Content-Encoding": "gzip"})

    app = web.Application()
    app.router.add_get("/stock.csv", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/stock.csv"
    try:
        copy = _copy(tmp_path, url)
        assert await copy.refresh() is FetchResult.CHANGED
        assert copy.body.read_bytes() == body
        with pytest.raises(FeedError) as caught:
            await _copy(tmp_path / "capped", url, max_bytes=len(body) - 1).refresh()
        assert caught.value.kind == "too_large"
    finally:
        await runner.cleanup()


async def test_the_credential_is_not_sent_on_to_another_host(feed_server: FeedServer, tmp_path):
    front = await FeedServer(redirect_to=f"{feed_server.url}/stock.csv").start()
    try:
        copy = _copy(tmp_path, f"{front.url}/stock.csv", secret=Secret(f"Bearer {TOKEN}"))
        assert await copy.refresh() is FetchResult.CHANGED
        assert front.auth_headers == [f"Bearer {TOKEN}"]
        assert feed_server.auth_headers == [""]
    finally:
        await front.stop()
