"""The daemon tells the truth and stops promptly: SIGTERM during a rate-bound cycle sends
nothing more, a source matching nothing turns /readyz red, an unusable state_dir is an exit
code systemd does not restart on, and ``--config`` defaults to ./syncd.yaml."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
import time
from collections import Counter
from pathlib import Path

import aiohttp
import pytest
import yaml

from support.sync import API_KEY, drifted_source, write_config
from syncd.core.journal import Outcome
from syncd.edges.backend.local.journal import read_journal
from syncd.frontends.commands.common import ExitCode

RATE = (100, 4.0)
UNIT = Path(__file__).resolve().parents[2] / "deploy" / "syncd.service"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _daemon_config(config: Path, port: int) -> None:
    doc = yaml.safe_load(config.read_text())
    doc["http"] = {"listen": f"127.0.0.1:{port}"}
    doc["log"] = {"format": "json"}
    doc["schedule"] = {"interval_seconds": 3600, "watch_source": False}
    config.write_text(yaml.safe_dump(doc))


async def _start(config: Path, cwd: Path) -> asyncio.subprocess.Process:
    env = {**os.environ, "WIX_API_KEY": API_KEY}
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "syncd", "run", "--config", str(config), cwd=cwd, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)


async def test_sigterm_during_a_rate_bound_cycle_sends_nothing_more(emulator, tmp_path):
    emu = await emulator(catalog="v1", api_key=API_KEY, generate_products=1500,
                         rate_limit=RATE, latency_ms=40)
    source = tmp_path / "stock.csv"
    drifted_source(emu.state(), source, drift=0.3)
    config = write_config(tmp_path, url=emu.url, source=source, rate_limit=RATE,
                          policy={"max_changed_fraction": 1.0, "max_zeroed": 100000,
                                  "write_mode": "absolute"})
    _daemon_config(config, _free_port())
    proc = await _start(config, tmp_path)
    for _ in range(600):
        if emu.stats()["writes"]["calls"] >= RATE[0]:
            break
        await asyncio.sleep(0.1)  # the emulator offers no event to wait on
    await asyncio.sleep(1.0)
    at_signal = emu.stats()["writes"]["calls"]
    signalled = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    _, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode == 0, err.decode()[-2000:]
    assert time.monotonic() - signalled < 2 + 10
    at_exit = emu.stats()["writes"]
    assert at_exit["calls"] - at_signal <= 8, "only requests on the wire may land"
    await asyncio.sleep(1)
    assert emu.stats()["writes"] == at_exit
    entries = list(read_journal(tmp_path / "state" / "journal" / "shop.jsonl"))
    final = {e.write_id: e.outcome for e in entries}
    assert Outcome.PENDING not in final.values()
    counts = Counter(final.values())
    assert counts[Outcome.APPLIED] == at_exit["variants"] and counts[Outcome.UNKNOWN] == 0


async def test_a_source_matching_nothing_turns_readyz_red(emulator, tmp_path):
    emu = await emulator(catalog="v1", api_key=API_KEY, rate_limit=None)
    source = tmp_path / "stock.csv"
    source.write_text("sku,quantity\nno-such-sku-1,1\nno-such-sku-2,2\n")
    config = write_config(tmp_path, url=emu.url, source=source)
    port = _free_port()
    _daemon_config(config, port)
    proc = await _start(config, tmp_path)
    try:
        body: dict[str, object] = {}
        async with aiohttp.ClientSession() as http:
            for _ in range(150):
                await asyncio.sleep(0.2)
                try:
                    async with http.get(f"http://127.0.0.1:{port}/readyz") as r:
                        body = await r.json(content_type=None)
                        status = r.status
                except aiohttp.ClientError:
                    continue
                site = body["sites"]["shop"]  # type: ignore[index]
                if site["last_result"] is not None:
                    break
        assert status == 503 and body["ready"] is False
        assert site["last_result"] == "no_match"
        assert "0 of 2 source rows match" in site["reason"]
        assert site["consecutive_failures"] == 1
    finally:
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.communicate(), timeout=30)


async def test_run_with_an_unusable_state_dir_exits_73_in_one_line(tmp_path):
    (tmp_path / "key").write_text("some-api-key-value\n")
    (tmp_path / "stock.csv").write_text("sku,quantity\nA,1\n")
    (tmp_path / "blocker").write_text("a file, not a directory")
    (tmp_path / "syncd.yaml").write_text(
        "sites:\n  - {name: shop, site_id: s1, api_key_file: key, "
        "base_url: \"http://127.0.0.1:9\"}\nsource: {path: stock.csv}\n"
        "state_dir: blocker/state\nhttp: {listen: \"127.0.0.1:0\"}\nlog: {format: json}\n")
    env = {k: v for k, v in os.environ.items() if k != "SYNCD_CONFIG"}
    proc = await asyncio.create_subprocess_exec(  # no --config: ./syncd.yaml is the default
        sys.executable, "-m", "syncd", "run", cwd=tmp_path, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    _, err = await asyncio.wait_for(proc.communicate(), timeout=30)
    assert proc.returncode == ExitCode.STATE
    lines = err.decode().strip().splitlines()
    last = json.loads(lines[-1])
    assert last["event"] == "state_unusable" and "blocker" in last["error"]
    assert "Traceback" not in err.decode()
    unit = await asyncio.to_thread(UNIT.read_text)
    assert "73" in next(line for line in unit.splitlines()
                        if line.startswith("RestartPreventExitStatus")).split("=")[1].split()


async def _readyz(port: int, until: str, *, timeout_s: float = 30) -> dict[str, object]:
    body: dict[str, object] = {}
    async with aiohttp.ClientSession() as http:
        for _ in range(int(timeout_s / 0.2)):
            await asyncio.sleep(0.2)
            try:
                async with http.get(f"http://127.0.0.1:{port}/readyz") as r:
                    body = await r.json(content_type=None)
            except aiohttp.ClientError:
                continue
            if body["sites"]["shop"]["last_result"] == until:  # type: ignore[index]
                return body
    raise AssertionError(f"readyz never said {until}: {body}")


@pytest.mark.parametrize("output", ["text", "json"])
async def test_a_refused_plan_is_approved_without_stopping_the_daemon(emulator, tmp_path,
                                                                      output):
    """``sync --force`` beside a daemon shows the plan it forces (its changes and digest,
    in text and in the JSON envelope), and the daemon applies exactly that plan."""
    emu = await emulator(catalog="v1", api_key=API_KEY, rate_limit=None)
    source = tmp_path / "stock.csv"
    drifted_source(emu.state(), source, drift=0.5)
    config = write_config(tmp_path, url=emu.url, source=source,
                          policy={"max_changed_fraction": 0.05})
    port = _free_port()
    _daemon_config(config, port)
    proc = await _start(config, tmp_path)
    try:
        await _readyz(port, "refused")
        assert emu.stats()["writes"]["calls"] == 0
        env = {**os.environ, "WIX_API_KEY": API_KEY}
        for command in (["plan"], ["rollback", "--dry-run"]):  # read-only: no lock needed
            cli = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "syncd", *command, "--config", str(config), env=env,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
            _, err = await asyncio.wait_for(cli.communicate(), timeout=60)
            assert cli.returncode != ExitCode.LOCKED, err.decode()
        cli = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "syncd", "sync", "--force", "--output", output,
            "--config", str(config),
            env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(cli.communicate(), timeout=60)
        assert cli.returncode == ExitCode.OK, err.decode()
        if output == "text":
            assert "asked it to apply plan" in err.decode()
            shown = out.decode()
            assert "Plan: " in shown and " changes on " in shown  # the changes it forces
            digest = shown.split("Forcing plan ", 1)[1].split("(digest ", 1)[1].split(")")[0]
            changes = int(shown.split("Plan: ", 1)[1].split(" change", 1)[0])
        else:
            envelope = json.loads(out.decode())
            site = envelope["sites"][0]
            assert site["outcome"] == "delegated"
            digest = site["plan"]["digest"]
            changes = site["plan"]["counts"]["changes"]
            assert len(site["plan"]["changes"]) == changes
        assert len(digest) == 64 and changes > 0
        await _readyz(port, "ok")
        assert emu.stats()["writes"]["calls"] > 0
    finally:
        proc.send_signal(signal.SIGTERM)
        _, log = await asyncio.wait_for(proc.communicate(), timeout=30)
    events = [json.loads(line) for line in log.decode().splitlines() if line.startswith("{")]
    refused = next(e for e in events if e.get("result") == "refused")
    assert "syncd sync --force" in refused["summary"]
    taken = next(e for e in events if e["event"] == "approval_taken")
    assert digest.startswith(taken["digest"])  # the daemon was asked for the plan shown
    assert any(e["event"] == "cycle_forced_by_approval" for e in events)
    assert not any(e["event"] == "approval_stale" for e in events)
    applied = next(e for e in events if e["event"] == "cycle_finished"
                   and e.get("result") == "ok")
    assert applied["planned"] == changes


async def test_cycles_started_by_a_source_change_are_counted(emulator, tmp_path):
    emu = await emulator(catalog="v1", api_key=API_KEY, rate_limit=None)
    source = tmp_path / "stock.csv"
    desired = drifted_source(emu.state(), source, drift=0)
    config = write_config(tmp_path, url=emu.url, source=source)
    port = _free_port()
    _daemon_config(config, port)
    doc = yaml.safe_load(config.read_text())
    doc["schedule"] = {"interval_seconds": 3600, "watch_source": True, "settle_seconds": 0.2}
    config.write_text(yaml.safe_dump(doc))
    proc = await _start(config, tmp_path)
    try:
        await _readyz(port, "ok")
        sku = next(iter(desired))
        text = source.read_text().replace(f"{sku},{desired[sku]}\n",
                                          f"{sku},{desired[sku] + 3}\n")
        source.write_text(text)
        samples = ""
        async with aiohttp.ClientSession() as http:
            for _ in range(100):
                await asyncio.sleep(0.2)
                async with http.get(f"http://127.0.0.1:{port}/metrics") as r:
                    samples = await r.text()
                total = sum(float(line.rsplit(" ", 1)[1]) for line in samples.splitlines()
                            if line.startswith("syncd_cycles_total{"))
                if total >= 2:
                    break
        assert total >= 2, samples
    finally:
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.communicate(), timeout=30)
