"""One bad file in ``sites_dir`` stops one store, never the agency.

Through the real daemon: 50 store files with one broken start 49 stores, ``/readyz`` stays
200 and names the broken one, ``syncd_site_config_ok`` says which; fixing the file and
SIGHUP brings that store up while the 49 run on (their cycle counters continue); a typo
made in another file does not hold back a reload's other changes, and that store keeps
running its previous settings. ``syncd validate`` still refuses the directory.
"""

from __future__ import annotations

import asyncio
import json
import re
import signal
import sys
from collections.abc import Callable
from pathlib import Path

import aiohttp
import pytest
from deploy.daemon_process import DaemonProcess, base_env

from support.agency import KEY, stock_of, write_fleet
from syncd_emulator.config import EmulatorConfig
from syncd_emulator.multisite import MultiSiteConfig, serve_multisite

pytestmark = pytest.mark.timeout(180)

REPO = Path(__file__).resolve().parents[2]
STORES = 50


async def _get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(
            url, timeout=aiohttp.ClientTimeout(total=10)) as resp:
        return resp.status, await resp.text()


def _gauge(metrics: str, name: str) -> dict[str, float]:
    """``name{site="..."} value`` lines of ``metrics``, by site."""
    pattern = re.compile(rf'^{name}{{site="([^"]+)"}} (\S+)$', re.MULTILINE)
    return {site: float(value) for site, value in pattern.findall(metrics)}


def _cycles(metrics: str) -> dict[str, float]:
    """``syncd_cycles_total`` summed per site."""
    totals: dict[str, float] = {}
    pattern = re.compile(r'^syncd_cycles_total{([^}]*)} (\S+)$', re.MULTILINE)
    for labels, value in pattern.findall(metrics):
        site = re.search(r'site="([^"]+)"', labels)
        assert site is not None
        totals[site.group(1)] = totals.get(site.group(1), 0.0) + float(value)
    return totals


async def _validate(path: Path) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "syncd", "validate", "--config", str(path),
        env=base_env(PYTHONPATH=str(REPO)), cwd=path.parent,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    async with asyncio.timeout(60):
        out, _ = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode()


async def _until(predicate: Callable[[], bool], timeout_s: float = 60) -> None:
    async with asyncio.timeout(timeout_s):
        while not predicate():  # noqa: ASYNC110 - polls the child's parsed log
            await asyncio.sleep(0.2)


def _finished(daemon: DaemonProcess) -> dict[str, int]:
    counts: dict[str, int] = {}
    for e in daemon.events:
        if e.get("event") == "cycle_finished":
            counts[e["site"]] = counts.get(e["site"], 0) + 1
    return counts


async def test_one_broken_site_file_disables_its_store_and_the_agency_runs_and_reloads(
        tmp_path):
    config = MultiSiteConfig(sites=STORES, template=EmulatorConfig(generate_products=5,
                                                                   api_key=KEY))
    async with serve_multisite(config) as running:
        ids = config.site_ids()
        stocks = {i: stock_of(running.site(i).store.state_rows(), drift=1) for i in ids}
        path = write_fleet(tmp_path, url=running.url, stocks=stocks, interval_s=3600)
        files = {i: tmp_path / "sites.d" / f"{i}.yaml" for i in ids}
        broken = ids[7]
        good_text = files[broken].read_text()
        files[broken].write_text(good_text.replace("api_key_file:", "api_key_fil:"))

        code, output = await _validate(path)
        assert code == 78, output  # the command that checks files still refuses it
        assert f"{broken}.yaml" in output

        daemon = DaemonProcess([sys.executable, "-m", "syncd", "run", "--config", str(path)],
                               env=base_env(PYTHONPATH=str(REPO)), cwd=tmp_path)
        await daemon.start()
        try:
            disabled = await daemon.wait_for("site_disabled", site=broken)
            assert re.search(rf"{broken}\.yaml:\d+: api_key_fil", disabled["error"]), disabled
            await _until(lambda: len(_finished(daemon)) == STORES - 1)
            url = f"http://127.0.0.1:{daemon.port}"
            status, body = await _get(f"{url}/readyz")
            ready = json.loads(body)
            assert status == 200, body
            assert (ready["sites_unready"], ready["sites_total"]) == (1, STORES), \
                [(s, v["reason"]) for s, v in ready["sites"].items() if not v["ready"]]
            assert ready["sites"][broken]["ready"] is False
            assert "api_key_fil" in ready["sites"][broken]["reason"]
            metrics = (await _get(f"{url}/metrics"))[1]
            config_ok = _gauge(metrics, "syncd_site_config_ok")
            assert config_ok[broken] == 0 and len(config_ok) == STORES
            assert all(config_ok[i] == 1 for i in ids if i != broken)
            page = (await _get(f"{url}/ui/"))[1]
            assert "Disabled sites" in page
            assert "api_key_fil" in page.split("Disabled sites", 1)[1]
            before = _cycles(metrics)
            assert len(before) == STORES - 1 and broken not in before

            # The fix comes up alone; the others run on.
            files[broken].write_text(good_text)
            daemon.signal(signal.SIGHUP)
            await _until(lambda: broken in _finished(daemon))
            metrics = (await _get(f"{url}/metrics"))[1]
            after = _cycles(metrics)
            assert all(after[i] >= before[i] for i in before)
            assert _gauge(metrics, "syncd_site_config_ok")[broken] == 1
            status, body = await _get(f"{url}/readyz")
            assert json.loads(body)["sites"][broken]["ready"] is True, body

        finally:
            daemon.signal(signal.SIGTERM)
            try:
                await daemon.wait(timeout_s=30)
            finally:
                await daemon.kill()
    starts: dict[str, int] = {}
    for e in daemon.events:
        if e.get("event") == "cycle_started":
            starts[e["site"]] = starts.get(e["site"], 0) + 1
    assert starts == {i: 1 for i in ids}, starts  # one start-up cycle each: no restarts
    assert daemon.find("config_reload_rejected") is None


async def test_a_typo_made_in_one_file_does_not_hold_back_a_reload_of_the_others(tmp_path):
    config = MultiSiteConfig(sites=STORES, template=EmulatorConfig(generate_products=5,
                                                                   api_key=KEY))
    async with serve_multisite(config) as running:
        ids = config.site_ids()
        stocks = {i: stock_of(running.site(i).store.state_rows(), drift=1) for i in ids}
        path = write_fleet(tmp_path, url=running.url, stocks=stocks, interval_s=3600)
        files = {i: tmp_path / "sites.d" / f"{i}.yaml" for i in ids}
        typo, removed, wrong_key = ids[20], ids[30], ids[40]
        bad_key = tmp_path / "wrong-key"
        bad_key.write_text("not-the-key")
        files[wrong_key].write_text(
            files[wrong_key].read_text().replace(str(tmp_path / "key"), str(bad_key)))
        daemon = DaemonProcess([sys.executable, "-m", "syncd", "run", "--config", str(path)],
                               env=base_env(PYTHONPATH=str(REPO)), cwd=tmp_path)
        await daemon.start()
        try:
            await _until(lambda: len(_finished(daemon)) == STORES)
            url = f"http://127.0.0.1:{daemon.port}"
            # One store with a wrong key: unready, and named, but the agency is ready.
            status, body = await _get(f"{url}/readyz")
            ready = json.loads(body)
            assert status == 200, body
            assert ready["sites"][wrong_key]["ready"] is False
            assert (ready["sites_unready"], ready["sites_total"], ready["unready_share"]) \
                == (1, STORES, 1.0)

            files[typo].write_text(files[typo].read_text() + "policy: {bufer: 2}\n")
            files[removed].unlink()
            daemon.signal(signal.SIGHUP)
            await daemon.wait_for("sites_changed", stopped=1)
            kept = await daemon.wait_for("site_file_invalid", site=typo)
            assert re.search(rf"{typo}\.yaml:\d+: policy\.bufer", kept["error"]), kept
            status, body = await _get(f"{url}/readyz")
            ready = json.loads(body)
            assert status == 200 and removed not in ready["sites"], body
            assert ready["sites"][typo]["ready"] is True  # still running as it was
            assert "bufer" in ready["sites"][typo]["config_error"]
            metrics = (await _get(f"{url}/metrics"))[1]
            config_ok = _gauge(metrics, "syncd_site_config_ok")
            assert config_ok[typo] == 0 and removed not in config_ok
            page = (await _get(f"{url}/ui/"))[1]
            disabled = page.split("Disabled sites", 1)[1]
            assert typo in disabled and "runs its previous configuration" in disabled
        finally:
            daemon.signal(signal.SIGTERM)
            try:
                await daemon.wait(timeout_s=30)
            finally:
                await daemon.kill()
    assert daemon.find("config_reload_rejected") is None
    starts = [e["site"] for e in daemon.events if e.get("event") == "cycle_started"
              and e["site"] != wrong_key]  # a failing store retries on its own back-off
    assert sorted(starts) == sorted(i for i in ids if i != wrong_key)  # nobody restarted


async def test_a_sites_dir_whose_only_file_is_bad_starts_the_daemon_unready(tmp_path):
    (tmp_path / "sites.d").mkdir()
    (tmp_path / "sites.d" / "shop.yaml").write_text("site_id: shop\napi_key_fil: key\n")
    path = tmp_path / "syncd.yaml"
    path.write_text("sites_dir: sites.d\nsource: {path: stock.csv}\n"
                    "http: {listen: '127.0.0.1:0'}\nlog: {level: info, format: json}\n")
    daemon = DaemonProcess([sys.executable, "-m", "syncd", "run", "--config", str(path)],
                           env=base_env(PYTHONPATH=str(REPO)), cwd=tmp_path)
    await daemon.start()
    try:
        await daemon.wait_for("site_disabled", site="shop")
        await daemon.wait_for("daemon_started")
        status, body = await _get(f"http://127.0.0.1:{daemon.port}/readyz")
        assert status == 503, body  # every store (the only one) is unready
        assert json.loads(body)["sites"]["shop"]["ready"] is False
    finally:
        daemon.signal(signal.SIGTERM)
        try:
            assert await daemon.wait(timeout_s=30) == 0
        finally:
            await daemon.kill()
