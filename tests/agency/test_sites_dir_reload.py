"""SIGHUP re-reads the sites directory: a site file added or removed starts or stops that
site's loop, and the other sites' loops run on undisturbed."""

from __future__ import annotations

import asyncio
import signal
import sys

import pytest
from deploy.daemon_process import DaemonProcess, base_env

from support.agency import KEY, cycles_by_site, stock_of, write_fleet
from syncd_emulator.config import EmulatorConfig
from syncd_emulator.multisite import MultiSiteConfig, serve_multisite

pytestmark = pytest.mark.timeout(120)


async def test_sighup_starts_an_added_site_and_stops_a_removed_one_alone(tmp_path):
    config = MultiSiteConfig(sites=3, template=EmulatorConfig(generate_products=10,
                                                              api_key=KEY))
    async with serve_multisite(config) as running:
        ids = config.site_ids()
        stocks = {i: stock_of(running.site(i).store.state_rows()) for i in ids}
        path = write_fleet(tmp_path, url=running.url, stocks=stocks, interval_s=3600)
        added = tmp_path / "sites.d" / f"{ids[2]}.yaml"
        parked = tmp_path / f"{ids[2]}.yaml.parked"
        added.rename(parked)  # the daemon starts with two sites
        daemon = DaemonProcess([sys.executable, "-m", "syncd", "run", "--config", str(path)],
                               env=base_env(), cwd=tmp_path)
        await daemon.start()
        try:
            await _until(lambda: len(cycles_by_site(daemon.events)) == 2)
            parked.rename(added)
            daemon.signal(signal.SIGHUP)
            await _until(lambda: ids[2] in cycles_by_site(daemon.events))
            (tmp_path / "sites.d" / f"{ids[0]}.yaml").unlink()
            daemon.signal(signal.SIGHUP)
            await daemon.wait_for("sites_changed", stopped=1)
        finally:
            daemon.signal(signal.SIGTERM)
            await daemon.wait(timeout_s=30)
    starts = [e["site"] for e in daemon.events if e.get("event") == "cycle_started"]
    assert sorted(starts) == sorted(ids)  # one start-up cycle each: nobody was restarted
    stopped = [e["site"] for e in daemon.events if e.get("event") == "site_loop_stopped"]
    assert stopped[0] == ids[0] and stopped.count(ids[0]) == 1
    changes = [(e["started"], e["stopped"], e["running"])
               for e in daemon.events if e.get("event") == "sites_changed"]
    assert changes == [(2, 0, 2), (1, 0, 3), (0, 1, 2)], changes


async def _until(predicate, timeout_s: float = 60) -> None:
    async with asyncio.timeout(timeout_s):
        while not predicate():  # noqa: ASYNC110 - polls the child's parsed log
            await asyncio.sleep(0.2)
