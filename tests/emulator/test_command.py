"""The ``syncd emulator`` command: help, the URL line, serving and clean exit on SIGTERM."""

from __future__ import annotations

import asyncio
import signal
import sys

import aiohttp
import pytest

from syncd.edges.config.schema import is_loopback_host
from syncd.frontends.cli import build_parser
from syncd.frontends.commands.common import ExitCode
from syncd.frontends.commands.emulator import config_from_args


def test_help_explains_every_option_and_the_store_format(capsys: pytest.CaptureFixture[str]):
    """--help lists each option and documents the store file format."""
    with pytest.raises(SystemExit) as caught:
        build_parser().parse_args(["emulator", "--help"])
    assert caught.value.code == 0
    text = capsys.readouterr().out
    for option in ("--host", "--port", "--catalog", "--site-id", "--api-key", "--store",
                   "--generate-products", "--seed", "--rate-limit", "--retry-after",
                   "--fail-rate", "--drop-rate", "--latency-ms", "--shopper-rate",
                   "--stale-status"):
        assert option in text
    assert "store file format" in text
    assert "/__emulator/stats" in text


def test_options_become_an_emulator_config():
    """Parsed options map onto EmulatorConfig, rate limit included."""
    args = build_parser().parse_args([
        "emulator", "--catalog", "v3", "--rate-limit", "off", "--generate-products", "20",
        "--fail-rate", "0.1", "--stale-status", "428", "--port", "0"])
    config = config_from_args(args)
    assert (config.catalog, config.rate_limit, config.generate_products, config.fail_rate,
            config.stale_status, config.port) == ("v3", None, 20, 0.1, 428, 0)
    assert config_from_args(build_parser().parse_args(["emulator"])).rate_limit == (200, 60.0)


@pytest.mark.parametrize("argv", [["--fail-rate", "2"], ["--rate-limit", "fast"]])
def test_bad_option_values_exit_config_with_a_message(argv, capsys: pytest.CaptureFixture[str]):
    """Out-of-range settings are reported, not served."""
    args = build_parser().parse_args(["emulator", *argv])
    assert args.func(args) == ExitCode.CONFIG
    assert "syncd emulator:" in capsys.readouterr().err


async def test_command_prints_its_url_serves_and_exits_cleanly_on_sigterm():
    """One URL line on stdout, real answers, exit code 0 after SIGTERM."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "syncd", "emulator", "--port", "0", "--catalog", "v3",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), timeout=20)).decode()
        assert line.startswith("syncd emulator: serving catalog v3 for site demo-site on "
                               "http://127.0.0.1:")
        url = line.rsplit(" ", 1)[1].strip()
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
            async with session.get(f"{url}/stores/v3/provision/version", headers={
                    "Authorization": "demo-key", "wix-site-id": "demo-site"}) as response:
                assert (await response.json()) == {"catalogVersion": "V3_CATALOG"}
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), timeout=10) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


@pytest.mark.parametrize(("host", "loopback"), [
    ("127.0.0.1", True), ("::1", True), ("localhost", True), ("0.0.0.0", False),
    ("192.168.1.4", False), ("example.com", False)])
def test_only_loopback_hosts_count_as_safe(host: str, loopback: bool):
    """Binding anything else is warned about."""
    assert is_loopback_host(host) is loopback
