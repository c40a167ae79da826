"""A daemon that parses its sources in a worker process syncs every store, re-reads an edited
source, and leaves no process behind when it stops."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import pytest
from deploy.daemon_process import DaemonProcess, base_env

from support.agency import (
    KEY,
    cycles_by_site,
    descendants,
    running,
    stock_of,
    write_fleet,
    write_source,
)
from syncd_emulator.config import EmulatorConfig
from syncd_emulator.multisite import MultiSiteConfig, serve_multisite

pytestmark = pytest.mark.timeout(180)


def quantities(emulator: Any, site_id: str) -> dict[str, int]:
    return {r["sku"]: r["quantity"] for r in emulator.site(site_id).store.state_rows()}


async def test_a_daemon_with_a_source_worker_syncs_and_stops_it(tmp_path):
    config = MultiSiteConfig(sites=3, template=EmulatorConfig(
        generate_products=40, api_key=KEY, rate_limit=(200, 60.0)))
    async with serve_multisite(config) as emulator:
        ids = config.site_ids()
        stocks = {i: stock_of(emulator.site(i).store.state_rows()) for i in ids}
        path = write_fleet(tmp_path, url=emulator.url, stocks=stocks, interval_s=2.0,
                           extra={"source_processes": 1})
        # The console script, not ``-m syncd``: the worker's server process imports it.
        syncd = Path(sys.executable).with_name("syncd")
        daemon = DaemonProcess([str(syncd), "run", "--config", str(path)],
                               env=base_env(), cwd=tmp_path)
        await daemon.start()
        try:
            await daemon.wait_for("source_processes", processes=1, timeout_s=30)
            async with asyncio.timeout(60):
                while True:
                    if all(len(cycles_by_site(daemon.events).get(i, [])) >= 1 for i in ids):
                        break
                    await asyncio.sleep(0.2)
            workers = descendants(daemon.pid)
            assert workers, daemon.log_text()

            edited = ids[0]
            sku = next(iter(stocks[edited]))
            stocks[edited] = {**stocks[edited], sku: stocks[edited][sku] + 11}
            write_source(tmp_path / "sources" / f"{edited}.csv", stocks[edited])
            async with asyncio.timeout(60):
                while True:
                    if quantities(emulator, edited)[sku] == stocks[edited][sku]:
                        break
                    await asyncio.sleep(0.2)
        finally:
            daemon.signal(15)
            await daemon.wait(timeout_s=30)
        cycles = cycles_by_site(daemon.events)
        for site_id in ids:
            assert {c.result for c in cycles[site_id]} == {"ok"}, daemon.log_text()
            store = quantities(emulator, site_id)
            assert all(store[s] == q for s, q in stocks[site_id].items())
        assert daemon.find("source_worker_lost") is None
        for _ in range(100):
            if not any(running(pid) for pid in workers):
                break
            await asyncio.sleep(0.1)
        assert not any(running(pid) for pid in workers)
