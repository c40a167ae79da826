"""The daemon on an HTTP feed: an unchanged feed costs one 304 per poll and no Wix call; a
changed row reaches the store within a poll interval (plus a fast cycle); a failing feed
shows in /readyz and the metrics and writes nothing."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import yaml

from support.sync import API_KEY, unique_skus
from syncd.cycle.metrics import Metrics
from syncd.edges.config import Settings
from syncd.frontends.daemon.supervisor import Daemon
from syncd.frontends.daemon.wiring import build_setup
from tests.feeds.httpfeed import FeedServer

POLL_S = 0.3


async def _until(check: Callable[[], bool], *, timeout_s: float, what: str) -> float:
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > timeout_s:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)
    return time.monotonic() - started


@asynccontextmanager
async def _daemon(tmp_path: Path, emu, *feed_urls: str) -> AsyncIterator[Daemon[object]]:
    config = tmp_path / "syncd.yaml"
    config.write_text(yaml.safe_dump({
        "sites": [{"name": "shop", "site_id": emu.config.site_id, "api_key_env": "KEY",
                   "base_url": emu.url, "catalog": "v1",
                   "rate_limit": {"requests": 100_000, "per_seconds": 1}}],
        "source": [{"path": url, "feed": {"poll_seconds": POLL_S, "timeout_seconds": 2}}
                   for url in feed_urls],
        "policy": {"max_changed_fraction": 1.0},
        "schedule": {"interval_seconds": 3600, "jitter_seconds": 0},
        "http": {"listen": "127.0.0.1:0"},
        "state_dir": str(tmp_path / "state"),
    }))
    metrics = Metrics()
    settings = Settings.from_file(config, env={"KEY": API_KEY})
    daemon: Daemon[object] = Daemon(lambda: build_setup(settings, metrics=metrics),
                                    metrics=metrics, env={})
    task = asyncio.create_task(daemon.run(build_setup(settings, metrics=metrics)))
    try:
        await asyncio.wait_for(daemon.started.wait(), 10)
        yield daemon
    finally:
        daemon.request_stop("test")
        await asyncio.wait_for(task, 20)


async def test_an_unchanged_feed_costs_304s_and_no_wix_call_then_an_edit_lands(
        emulator, tmp_path):
    emu = await emulator(catalog="v1", generate_products=30, seed=7, rate_limit=None,
                         api_key=API_KEY)
    state = emu.state()
    unique = unique_skus(state)
    stock = {str(r["sku"]): int(r["quantity"] or 0) for r in state
             if str(r["sku"]) in unique and r["tracked"]}
    server = await FeedServer(body=_csv(stock)).start()
    try:
        async with _daemon(tmp_path, emu, f"{server.url}/stock.csv") as daemon:
            status = daemon.statuses["shop"]
            await _until(lambda: status.last_outcome is not None, timeout_s=30,
                         what="the first cycle")
            assert status.last_outcome is not None and status.last_outcome.succeeded
            wix_calls = emu.stats()["requests_total"]
            not_modified = server.statuses[304]
            await _until(lambda: server.statuses[304] >= not_modified + 10, timeout_s=30,
                         what="ten polls")
            assert server.statuses[200] == 1  # the first fetch only
            assert emu.stats()["requests_total"] == wix_calls
            assert status.cycles == 1

            sku = sorted(stock)[0]
            stock[sku] = (stock[sku] + 17) % 1000
            server.body = _csv(stock)
            took_s = await _until(
                lambda: [r["quantity"] for r in emu.state() if r["sku"] == sku] == [stock[sku]],
                timeout_s=POLL_S + 3 + 10, what="the edited row in the store")
            print(f"edited row reached the store in {took_s:.2f} s (poll {POLL_S} s)")
            assert took_s <= POLL_S + 3.0
            assert emu.stats()["writes"]["calls"] == 1
    finally:
        await server.stop()


async def test_a_failing_feed_shows_in_readyz_and_metrics_and_writes_nothing(
        emulator, tmp_path):
    emu = await emulator(catalog="v1", generate_products=10, seed=7, rate_limit=None,
                         api_key=API_KEY)
    sku = next(str(r["sku"]) for r in emu.state() if r["tracked"] and r["sku"])
    server = await FeedServer(body=f"sku,quantity\n{sku},4444\n".encode(),
                              token="required").start()
    try:
        async with _daemon(tmp_path, emu, f"{server.url}/stock.csv") as daemon:
            status = daemon.statuses["shop"]
            await _until(lambda: status.last_outcome is not None, timeout_s=30,
                         what="the first cycle")
            await _until(lambda: server.statuses[401] >= 3, timeout_s=30, what="three polls")
            assert daemon.http_address is not None
            base = f"http://127.0.0.1:{daemon.http_address.port}"
            async with aiohttp.ClientSession() as http:
                async with http.get(f"{base}/readyz") as r:
                    assert r.status == 503
                    body = await r.json()
                async with http.get(f"{base}/metrics") as r:
                    metrics = await r.text()
            reason = body["sites"]["shop"]["reason"]
            assert "source failing" in reason and "(auth)" in reason
            assert (f'syncd_feed_fetches_total{{result="auth",source="{server.url}/stock.csv"}}'
                    in metrics)
            assert 'syncd_source_ok{site="shop"} 0.0' in metrics
            assert status.source_error is not None  # what the console's row shows
            assert str(status.last_outcome.result) == "invalid_source"
            assert emu.stats()["writes"]["calls"] == 0
    finally:
        await server.stop()


async def test_one_failing_feed_of_two_keeps_the_site_unready(emulator, tmp_path):
    emu = await emulator(catalog="v1", generate_products=10, seed=7, rate_limit=None,
                         api_key=API_KEY)
    sku = next(str(r["sku"]) for r in emu.state() if r["tracked"] and r["sku"])
    good = await FeedServer(body=f"sku,quantity\n{sku},4444\n".encode()).start()
    bad = await FeedServer(body=b"sku,quantity\nX,1\n", token="required").start()
    try:
        async with _daemon(tmp_path, emu, f"{good.url}/stock.csv",
                           f"{bad.url}/stock.csv") as daemon:
            status = daemon.statuses["shop"]
            await _until(lambda: good.statuses[304] >= 3 and bad.statuses[401] >= 3,
                         timeout_s=30, what="polls of both feeds")
            assert status.source_error is not None
            assert f"{bad.url}/stock.csv" in status.source_error
            assert emu.stats()["writes"]["calls"] == 0
    finally:
        await good.stop()
        await bad.stop()


def _csv(stock: dict[str, int]) -> bytes:
    return ("sku,quantity\n" + "".join(f"{s},{q}\n" for s, q in stock.items())).encode()


def test_every_source_of_a_site_is_watched_or_polled(tmp_path):
    from syncd.frontends.daemon.wiring import watched_sources

    config = tmp_path / "syncd.yaml"
    config.write_text(yaml.safe_dump({
        "sites": [{"name": "a", "site_id": "A", "api_key_env": "KEY",
                   "source": [{"path": "local.csv"},
                              {"path": "https://feeds.example/a.csv?token=x"}]},
                  {"name": "b", "site_id": "B", "api_key_env": "KEY",
                   "source": {"path": "local.csv"}}]}))
    settings = Settings.from_file(config, env={"KEY": API_KEY})
    sources = {str(s.path): s for s in watched_sources(settings)}
    assert set(sources) == {str(tmp_path / "local.csv"), "https://feeds.example/a.csv"}
    assert sources[str(tmp_path / "local.csv")].sites == ("a", "b")
    assert sources[str(tmp_path / "local.csv")].poller is None
    feed = sources["https://feeds.example/a.csv"]
    assert feed.sites == ("a",) and feed.poller is not None
