"""A daemon with its console on emulated stores, for the console's tests."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from deploy.daemon_process import DaemonProcess, base_env

from syncd_emulator import EmulatorConfig, RunningEmulator, serve

REPO = Path(__file__).resolve().parents[2]
TOKEN = "console-token-0123456789abcdef"
KEY = "console-test-key"


@dataclass
class Setup:
    daemon: DaemonProcess
    shop: RunningEmulator
    outlet: RunningEmulator
    source: Path
    tmp: Path
    shop_initial: list[dict[str, Any]]
    """The shop's store before the daemon's first cycle."""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.daemon.port}"


def write_source(path: Path, rows: dict[str, int]) -> None:
    lines = ["sku,quantity", *(f"{sku},{q}" for sku, q in rows.items())]
    tmp = path.with_suffix(".tmp")
    tmp.write_text("\n".join(lines) + "\n")
    tmp.replace(path)


@contextlib.asynccontextmanager
async def console_daemon(tmp: Path, *, token: bool = True, listen: str = "127.0.0.1:0",
                         shop_policy: dict[str, Any] | None = None,
                         outlet_policy: dict[str, Any] | None = None,
                         console: dict[str, Any] | None = None,
                         shop_key: str = KEY) -> AsyncIterator[Setup]:
    """Two sites (``shop`` on a V1 demo store, ``outlet`` on a V3 one) and a daemon.

    ``console`` adds settings to the ``console:`` section; a ``shop_key`` other than the
    store's makes every cycle of ``shop`` fail."""
    key_file = tmp / "key"
    key_file.write_text(KEY)
    shop_key_file = tmp / "shop-key"
    shop_key_file.write_text(shop_key)
    source = tmp / "stock.csv"
    source.write_text((REPO / "config" / "stock.example.csv").read_text())
    outlet_source = tmp / "outlet.csv"
    outlet_source.write_text("sku,quantity\nMUG-CLASSIC,7\n")
    async with contextlib.AsyncExitStack() as stack:
        shop = await stack.enter_async_context(serve(EmulatorConfig(
            catalog="v1", api_key=KEY, rate_limit=None)))
        outlet = await stack.enter_async_context(serve(EmulatorConfig(
            catalog="v3", api_key=KEY, rate_limit=None)))
        shop_initial = shop.state()
        site = {"site_id": "demo-site", "api_key_file": str(key_file)}
        config: dict[str, Any] = {
            "sites": [
                {"name": "shop", "base_url": shop.url, **site,
                 "api_key_file": str(shop_key_file),
                 **({"policy": shop_policy} if shop_policy else {})},
                {"name": "outlet", "base_url": outlet.url, **site,
                 **({"policy": outlet_policy} if outlet_policy else {}),
                 "source": {"path": str(outlet_source)}},
            ],
            "source": {"path": str(source)},
            "state_dir": str(tmp / "state"),
            "schedule": {"interval_seconds": 3600, "jitter_seconds": 0, "watch_source": True,
                         "settle_seconds": 0.2},
            "http": {"listen": listen},
            "shutdown_grace_seconds": 5,
            "log": {"level": "info", "format": "json"},
        }
        env = base_env(PYTHONPATH=str(REPO))  # this checkout's syncd, whatever is installed
        config["console"] = dict(console or {})
        if token:
            config["console"]["token_env"] = "SYNCD_CONSOLE_TOKEN"
            env["SYNCD_CONSOLE_TOKEN"] = TOKEN
        path = tmp / "syncd.yaml"
        path.write_text(yaml.safe_dump(config))
        daemon = DaemonProcess([sys.executable, "-m", "syncd", "run", "--config", str(path)],
                               env=env, cwd=tmp)
        await daemon.start()
        stack.push_async_callback(daemon.kill)
        await daemon.wait_for("daemon_started")
        for name in ("shop", "outlet"):
            await daemon.wait_for("cycle_finished", site=name)
        yield Setup(daemon, shop, outlet, source, tmp, shop_initial)


def client() -> aiohttp.ClientSession:
    """A client that keeps cookies set by an IP address (the daemon on 127.0.0.1)."""
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


async def sign_in(session: aiohttp.ClientSession, url: str, token: str = TOKEN) -> str:
    """Sign in; returns the CSRF token of the session (read from a site page's form)."""
    async with session.post(f"{url}/ui/login", data={"token": token},
                            allow_redirects=False) as resp:
        assert resp.status == 303, await resp.text()
    async with session.get(f"{url}/ui/site/shop") as resp:
        text = await resp.text()
    marker = 'name="csrf" value="'
    assert marker in text, "no action form after signing in"
    return text.split(marker, 1)[1].split('"', 1)[0]
