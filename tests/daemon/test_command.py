"""``syncd run`` start-up failures and ``syncd healthcheck``, as real processes."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest

from syncd.cycle.metrics import Metrics
from syncd.edges.backend.local.lock import acquire_site_lock
from syncd.edges.config import ListenAddress
from syncd.frontends.commands.common import ExitCode
from syncd.frontends.daemon.health import SiteStatus
from syncd.frontends.daemon.health_endpoint import HealthView, HttpServer, build_app


async def syncd(*args: str, cwd: Path, env: dict[str, str] | None = None
                ) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "syncd", *args, cwd=cwd, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    async with asyncio.timeout(30):
        out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def valid_config(tmp_path: Path) -> Path:
    write(tmp_path / "key", "some-api-key-value\n")
    write(tmp_path / "stock.csv", "sku,quantity\nA,1\n")
    return write(tmp_path / "syncd.yaml", """\
sites:
  - {name: shop, site_id: s1, api_key_file: key, base_url: "http://127.0.0.1:9"}
source: {path: stock.csv}
state_dir: state
http: {listen: "127.0.0.1:0"}
log: {format: json}
""")


async def test_invalid_configuration_exits_config_naming_file_and_key(tmp_path):
    config = write(tmp_path / "syncd.yaml", "sites:\n  - name: shop\n")
    code, _, err = await syncd("run", "--config", str(config), cwd=tmp_path)
    assert code == ExitCode.CONFIG
    line = json.loads(err.strip().splitlines()[-1])
    assert line["event"] == "config_invalid"
    assert "syncd.yaml:2" in line["error"] and "site_id" in line["error"]


async def test_missing_configuration_file_exits_config(tmp_path):
    code, _, err = await syncd("run", "--config", str(tmp_path / "nope.yaml"), cwd=tmp_path)
    assert code == ExitCode.CONFIG
    assert "no such configuration file" in err


async def test_a_site_locked_by_another_process_exits_locked_naming_the_lock(tmp_path):
    config = valid_config(tmp_path)
    with acquire_site_lock(tmp_path / "state", "shop"):
        code, _, err = await syncd("run", "--config", str(config), cwd=tmp_path)
    assert code == ExitCode.LOCKED
    line = json.loads(err.strip().splitlines()[-1])
    assert line["event"] == "site_locked"
    assert line["lock_file"] == str(tmp_path / "state" / "shop.lock")
    assert "already being synced by another syncd command (process" in line["error"]


async def test_api_key_never_reaches_the_log(tmp_path):
    config = write(tmp_path / "syncd.yaml", valid_config(tmp_path).read_text().replace(
        'listen: "127.0.0.1:0"', 'listen: "some-api-key-value"'))
    code, _, err = await syncd("run", "--config", str(config), cwd=tmp_path)
    assert code == ExitCode.CONFIG
    assert "some-api-key-value" not in err
    assert "[REDACTED]" in err  # the message quoted it; redaction caught it


class TestHealthcheck:
    async def serve(self, statuses):
        view = HealthView(statuses=lambda: statuses, ready_max_age_s=60, started_at_s=0)
        server = HttpServer(build_app(view, metrics=Metrics()), ListenAddress("127.0.0.1", 0))
        address = await server.start()
        return server, address.port

    async def test_alive_daemon_passes_and_wildcard_listen_is_probed_on_loopback(self, tmp_path):
        server, port = await self.serve([SiteStatus("shop")])
        try:
            code, out, _ = await syncd("healthcheck", "--listen", f"0.0.0.0:{port}",
                                       cwd=tmp_path)
            assert code == 0
            assert f"http://127.0.0.1:{port}/healthz: 200" in out
            code, out, _ = await syncd("healthcheck", "--ready", "--listen",
                                       f"127.0.0.1:{port}", cwd=tmp_path)
            assert code == 1  # no cycle has succeeded yet
            assert "503" in out and "no cycle has finished yet" in out
        finally:
            await server.stop()

    async def test_listen_address_comes_from_the_environment(self, tmp_path):
        server, port = await self.serve([])
        try:
            env = {**os.environ, "SYNCD_HTTP_LISTEN": f"127.0.0.1:{port}"}
            code, _, _ = await syncd("healthcheck", cwd=tmp_path, env=env)
            assert code == 0
        finally:
            await server.stop()

    async def test_nothing_listening_fails(self, tmp_path):
        code, _, err = await syncd("healthcheck", "--listen", "127.0.0.1:9", "--timeout", "2",
                                   cwd=tmp_path)
        assert code == 1
        assert "127.0.0.1:9/healthz" in err

    @pytest.mark.parametrize("listen", ["nonsense", "127.0.0.1:99999"])
    async def test_malformed_address_is_a_usage_error(self, tmp_path, listen):
        code, _, err = await syncd("healthcheck", "--listen", listen, cwd=tmp_path)
        assert code == ExitCode.CONFIG
        assert "HOST:PORT" in err
