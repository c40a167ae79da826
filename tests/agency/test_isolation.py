"""One daemon, several stores on the multi-site emulator: a throttled store and an
unreachable one delay no other store's cycles."""

from __future__ import annotations

import asyncio
import sys

import pytest
from deploy.daemon_process import DaemonProcess, base_env

from support.agency import KEY, cycles_by_site, stock_of, write_fleet
from syncd_emulator.config import EmulatorConfig
from syncd_emulator.multisite import MultiSiteConfig, serve_multisite

pytestmark = pytest.mark.timeout(180)

INTERVAL_S = 3.0
ON_TIME_S = 5.0


async def test_a_throttled_and_an_unreachable_store_delay_no_other_store(tmp_path):
    config = MultiSiteConfig(sites=6, template=EmulatorConfig(
        generate_products=300, api_key=KEY, rate_limit=(200, 60.0)))
    async with serve_multisite(config) as running:
        ids = config.site_ids()
        throttled, unreachable, healthy = ids[0], ids[1], ids[2:]
        running.site(throttled).set_faults(rate_limit="10/60")
        running.site(unreachable).set_faults(drop_rate=1.0)
        stocks = {i: stock_of(running.site(i).store.state_rows()) for i in ids}
        path = write_fleet(tmp_path, url=running.url, stocks=stocks, interval_s=INTERVAL_S,
                           extra={"max_concurrent_cycles": 3})
        daemon = DaemonProcess([sys.executable, "-m", "syncd", "run", "--config", str(path)],
                               env=base_env(), cwd=tmp_path)
        await daemon.start()
        try:
            async with asyncio.timeout(90):
                while True:
                    cycles = cycles_by_site(daemon.events)
                    if all(len(cycles.get(i, [])) >= 4 for i in healthy):
                        break
                    await asyncio.sleep(0.5)
        finally:
            daemon.signal(15)
            await daemon.wait(timeout_s=30)
        for site_id in healthy:
            mine = cycles[site_id]
            assert [c.result for c in mine] == ["ok"] * len(mine), daemon.log_text()
            late = [c.late_s for c in mine]
            assert all(x is not None and x <= ON_TIME_S for x in late), (site_id, late)
            store = {r["sku"]: r["quantity"] for r in running.site(site_id).store.state_rows()}
            assert all(store[sku] == q for sku, q in stocks[site_id].items())
        assert running.site(throttled).stats.rate_limited > 0
        assert all(c.result != "ok" for c in cycles.get(unreachable, []))
