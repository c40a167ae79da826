"""A store walk that cannot prove it read the whole store stops the command: a non-zero
exit, a message naming what did not add up, and not one write."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest

from support.sync import API_KEY, drifted_source, write_config
from syncd.frontends.commands.common import ExitCode
from syncd_emulator.variants import WixVariants

NO_BOUND_MATCHES = WixVariants.parse("strict_numeric_bound,numeric_bound_string_only")
"""A server on which a numericId filter matches nothing whatever the bound's type: only the
unfiltered first and last pages of a 1,000-product store can be read."""


async def _syncd(*args: str) -> tuple[int, str, str]:
    env = {**os.environ, "WIX_API_KEY": API_KEY, "SYNCD_LOG_FORMAT": "json"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "syncd", *args, env=env, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), timeout=90)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def _journal_text(path: Path) -> str:
    return path.read_text().strip() if path.exists() else ""


@pytest.mark.parametrize("command", ["plan", "sync"])
async def test_a_walk_that_cannot_prove_completeness_exits_non_zero_and_writes_nothing(
        emulator, tmp_path, command):
    emu = await emulator(catalog="v1", generate_products=1_000, seed=5, rate_limit=None,
                         api_key=API_KEY, variants=NO_BOUND_MATCHES)
    source = tmp_path / "stock.csv"
    drifted_source(emu.state(), source, drift=0.2)
    config = write_config(tmp_path, url=emu.url, source=source, catalog="v1")
    code, out, err = await _syncd(command, "--config", str(config))
    assert code == ExitCode.FAILED, (out, err)
    assert "cannot prove it read the whole store" in err
    assert "records read" in err and "numericIds" in err
    assert emu.stats()["writes"] == {"calls": 0, "variants": 0}
    assert _journal_text(tmp_path / "state" / "journal" / "shop.jsonl") == ""


async def test_the_json_account_names_the_failed_proof(emulator, tmp_path):
    emu = await emulator(catalog="v1", generate_products=1_000, seed=5, rate_limit=None,
                         api_key=API_KEY, variants=NO_BOUND_MATCHES)
    source = tmp_path / "stock.csv"
    drifted_source(emu.state(), source, drift=0.2)
    config = write_config(tmp_path, url=emu.url, source=source, catalog="v1")
    code, out, _ = await _syncd("sync", "--config", str(config), "--output", "json")
    answer = json.loads(out)
    assert code == answer["exit_code"] == ExitCode.FAILED
    assert answer["outcome"] == "failed"
    assert "cannot prove it read the whole store" in answer["sites"][0]["reason"]
    assert emu.stats()["writes"] == {"calls": 0, "variants": 0}
