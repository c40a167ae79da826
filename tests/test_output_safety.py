"""What reaches the operator's terminal and logs: control characters escaped, long values
cut, lists logged as lists, request logs at debug level, a closed pipe ending quietly."""

from __future__ import annotations

import asyncio
import io
import json
import os
import sys
from contextlib import redirect_stderr

import structlog

from support.sync import API_KEY, drifted_source, write_config
from syncd.base.logs import SECRETS, configure_logging
from syncd.base.textsafe import safe_text, safe_value


def test_control_characters_are_escaped_and_long_values_cut():
    assert safe_value("\x1b[31mred\x00") == "\\x1b[31mred\\x00"
    assert safe_value("a\nb") == "a\\nb"
    long = safe_value("x" * 2048)
    assert len(long) == 120 and long.endswith("…")
    assert safe_text("line 1\n\x1b[2Jline 2\tok") == "line 1\n\\x1b[2Jline 2\tok"


def test_json_log_lines_keep_lists_as_lists():
    SECRETS.add("a-secret-key-123")
    out = io.StringIO()
    with redirect_stderr(out):
        configure_logging(level="info", json=True)
        structlog.get_logger("t").info("daemon_started", sites=["demo", "eu"],
                                       note="key a-secret-key-123")
    line = json.loads(out.getvalue().strip().splitlines()[-1])
    assert line["sites"] == ["demo", "eu"]
    assert "a-secret-key-123" not in out.getvalue()


async def _run(*args: str, stdin_pipe_closed: bool = False) -> tuple[int, str, str]:
    env = {**os.environ, "WIX_API_KEY": API_KEY, "SYNCD_LOG_FORMAT": "json"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "syncd", *args, env=env, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), timeout=90)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_debug_log_level_adds_a_line_per_request(emulator, tmp_path):
    emu = await emulator(catalog="v1", api_key=API_KEY, rate_limit=None)
    source = tmp_path / "stock.csv"
    drifted_source(emu.state(), source, drift=0.1)
    config = write_config(tmp_path, url=emu.url, source=source)
    _, _, err = await _run("plan", "--config", str(config), "--log-level", "debug")
    requests = [json.loads(x) for x in err.splitlines() if '"wix_request"' in x]
    assert len(requests) == emu.stats()["requests_total"]
    assert {"endpoint", "status", "duration_s"} <= requests[0].keys()


async def test_a_closed_pipe_ends_quietly(emulator, tmp_path):
    emu = await emulator(catalog="v1", api_key=API_KEY, rate_limit=None)
    source = tmp_path / "stock.csv"
    drifted_source(emu.state(), source, drift=0.5)
    config = write_config(tmp_path, url=emu.url, source=source)
    read_fd, write_fd = os.pipe()
    os.close(read_fd)  # the reader (`| head`) is gone before syncd writes
    env = {**os.environ, "WIX_API_KEY": API_KEY, "SYNCD_LOG_FORMAT": "json"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "syncd", "plan", "--config", str(config), "--output", "json",
        env=env, stdout=write_fd, stderr=asyncio.subprocess.PIPE)
    os.close(write_fd)
    _, err = await asyncio.wait_for(proc.communicate(), timeout=90)
    assert "Traceback" not in err.decode() and "BrokenPipeError" not in err.decode()


async def test_escape_codes_in_a_source_do_not_reach_the_terminal(emulator, tmp_path):
    emu = await emulator(catalog="v1", api_key=API_KEY, rate_limit=None)
    source = tmp_path / "stock.csv"
    source.write_text("sku,quantity,\x1b[31mcolour\nTSHIRT-RED-M,7,x\n"
                      "MUG,\x1b[2J\x00" + "9" * 2000 + ",y\n")
    config = write_config(tmp_path, url=emu.url, source=source)
    code, out, err = await _run("sync", "--config", str(config))
    assert code != 0
    assert "\x1b" not in out + err and "\x00" not in out + err
    assert "\\x1b[31mcolour" in out + err
    assert max(len(line) for line in err.splitlines()) <= 500


async def test_counts_of_one_are_singular(tmp_path):
    source = tmp_path / "stock.csv"
    source.write_text("sku,quantity\nA,1\n")
    config = write_config(tmp_path, url="http://127.0.0.1:9", source=source)
    _, out, _ = await _run("validate", "--config", str(config))
    assert "1 valid row" in out and "1 valid rows" not in out
