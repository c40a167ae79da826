"""A bad edit of the local source is seen at once, through the real daemon: ``/readyz``,
``syncd_source_ok`` and the console's row turn red as soon as the edit settles (no full
cycle needed), and green again when the row is fixed, which also runs a full cycle. Without
a file watcher, the incremental cycle that reads the bad row reports it the same way."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from deploy.daemon_process import DaemonProcess, base_env, write_config

pytestmark = pytest.mark.timeout(90)

REPO = Path(__file__).resolve().parents[2]


async def _get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(
            url, timeout=aiohttp.ClientTimeout(total=5)) as resp:
        return resp.status, await resp.text()


async def _until(check: Callable[[], Any], timeout_s: float = 10.0) -> None:
    """Poll ``check`` (an awaitable-returning callable) until it returns True."""
    async with asyncio.timeout(timeout_s):
        while not await check():  # noqa: ASYNC110 - polls the child over HTTP
            await asyncio.sleep(0.1)


def _source_ok(metrics: str) -> str | None:
    for line in metrics.splitlines():
        if line.startswith('syncd_source_ok{site="demo"}'):
            return line.rsplit(" ", 1)[1]
    return None


def _write(path: Path, text: str) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.replace(path)


async def test_a_bad_row_turns_readiness_metric_and_console_red_at_once_and_a_fix_back(
        emulator, tmp_path):
    emu = await emulator(generate_products=5, rate_limit=None)
    rows = [r for r in emu.state() if r["tracked"] and r["sku"]]
    good = "sku,quantity\n" + "".join(f"{r['sku']},{r['quantity']}\n" for r in rows)
    source = tmp_path / "stock.csv"
    source.write_text(good)
    key = tmp_path / "key"
    key.write_text("demo-key\n")
    config = write_config(tmp_path, emulator_url=emu.url, source=source, key_file=key,
                          settle_s=0.2)
    daemon = DaemonProcess([sys.executable, "-m", "syncd", "run", "--config", str(config)],
                           env=base_env(SYNCD_STATE_DIR=str(tmp_path / "state"),
                                        PYTHONPATH=str(REPO)), cwd=tmp_path)
    await daemon.start()
    try:
        await daemon.wait_for("cycle_finished", result="ok")
        url = f"http://127.0.0.1:{daemon.port}"
        assert (await _get(f"{url}/readyz"))[0] == 200
        assert _source_ok((await _get(f"{url}/metrics"))[1]) == "1.0"

        _write(source, good + "BROKEN-ROW,not-a-number\n")

        async def red() -> bool:
            return (await _get(f"{url}/readyz"))[0] == 503
        await _until(red)
        _, body = await _get(f"{url}/readyz")
        reason = json.loads(body)["sites"]["demo"]["reason"]
        assert reason.startswith("source failing") and "not-a-number" in reason, body
        assert _source_ok((await _get(f"{url}/metrics"))[1]) == "0.0"
        page = (await _get(f"{url}/ui/"))[1]
        row = page.split('data-site="demo"', 1)[1].split("</tr>", 1)[0]
        assert "source failing" in row, row
        fulls = len([e for e in daemon.events
                     if e.get("event") == "cycle_started" and e.get("kind") == "full"])
        assert fulls == 1  # no full cycle was needed to show it

        _write(source, good)

        async def green() -> bool:
            return (await _get(f"{url}/readyz"))[0] == 200
        await _until(green)
        assert _source_ok((await _get(f"{url}/metrics"))[1]) == "1.0"
        page = (await _get(f"{url}/ui/"))[1]
        assert "source failing" not in page.split('data-site="demo"', 1)[1].split("</tr>")[0]

        # Valid again: the site re-reads everything in a full cycle.
        async def full_again() -> bool:
            return len([e for e in daemon.events if e.get("event") == "cycle_finished"
                        and e.get("kind") == "full"]) == 2
        await _until(full_again, timeout_s=20)
    finally:
        daemon.signal(2)
        try:
            await daemon.wait(timeout_s=20)
        finally:
            await daemon.kill()


async def test_an_incremental_cycle_that_reads_a_bad_row_turns_readiness_red_at_once(
        emulator, tmp_path):
    emu = await emulator(generate_products=5, rate_limit=None)
    rows = [r for r in emu.state() if r["tracked"] and r["sku"]]
    good = "sku,quantity\n" + "".join(f"{r['sku']},{r['quantity']}\n" for r in rows)
    source = tmp_path / "stock.csv"
    source.write_text(good)
    key = tmp_path / "key"
    key.write_text("demo-key\n")
    config = write_config(tmp_path, emulator_url=emu.url, source=source, key_file=key, extra={
        "schedule": {"interval_seconds": 1, "jitter_seconds": 0, "watch_source": False,
                     "incremental": True, "resync_seconds": 3600}})
    daemon = DaemonProcess([sys.executable, "-m", "syncd", "run", "--config", str(config)],
                           env=base_env(SYNCD_STATE_DIR=str(tmp_path / "state"),
                                        PYTHONPATH=str(REPO)), cwd=tmp_path)
    await daemon.start()
    try:
        await daemon.wait_for("cycle_finished", result="ok")
        url = f"http://127.0.0.1:{daemon.port}"

        _write(source, good + "BROKEN-ROW,not-a-number\n")
        await daemon.wait_for("cycle_finished", kind="incremental", result="invalid_source")
        status, body = await _get(f"{url}/readyz")
        assert status == 503, body  # ready_max_age_seconds is 600: not the age speaking
        assert "not-a-number" in json.loads(body)["sites"]["demo"]["reason"], body
        assert _source_ok((await _get(f"{url}/metrics"))[1]) == "0.0"

        _write(source, good)

        async def green() -> bool:
            return (await _get(f"{url}/readyz"))[0] == 200
        await _until(green)
        assert _source_ok((await _get(f"{url}/metrics"))[1]) == "1.0"
    finally:
        daemon.signal(2)
        try:
            await daemon.wait(timeout_s=20)
        finally:
            await daemon.kill()
