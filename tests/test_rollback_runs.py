"""Rollback runs are marked as such: ``--list`` says what they undid, a plain rollback never
undoes a rollback, and a dry run works beside a running daemon (it takes no lock)."""

from __future__ import annotations

import asyncio
import os
import sys

from support.sync import API_KEY, drifted_source, write_config
from syncd.edges.backend.local.lock import acquire_site_lock
from syncd.frontends.commands.common import ExitCode


async def _syncd(*args: str) -> tuple[int, str, str]:
    env = {**os.environ, "WIX_API_KEY": API_KEY, "SYNCD_LOG_FORMAT": "json"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "syncd", *args, env=env, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), timeout=90)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def _quantities(emu) -> dict[str, int | None]:
    return {r["variant_id"]: r["quantity"] for r in emu.state()}


async def test_a_plain_rollback_after_a_rollback_does_not_redo_the_sync(emulator, tmp_path):
    emu = await emulator(catalog="v1", api_key=API_KEY, rate_limit=None)
    before = _quantities(emu)
    source = tmp_path / "stock.csv"
    drifted_source(emu.state(), source, drift=0.3)
    config = write_config(tmp_path, url=emu.url, source=source)
    code, _, err = await _syncd("sync", "--config", str(config))
    assert code == ExitCode.OK, err
    assert _quantities(emu) != before
    code, _, err = await _syncd("rollback", "--config", str(config))
    assert code == ExitCode.OK, err
    assert _quantities(emu) == before
    code, out, _ = await _syncd("rollback", "--config", str(config), "--list")
    assert code == ExitCode.OK
    runs = [line.split()[0] for line in out.splitlines()[1:]]
    assert len(runs) == 2 and f"rollback of {runs[0]}" in out.splitlines()[2]
    code, out, err = await _syncd("rollback", "--config", str(config))
    assert code == ExitCode.OK, err
    assert _quantities(emu) == before, "the second plain rollback redid the sync"


async def test_rollback_dry_run_works_while_a_daemon_holds_the_lock(emulator, tmp_path):
    emu = await emulator(catalog="v1", api_key=API_KEY, rate_limit=None)
    source = tmp_path / "stock.csv"
    drifted_source(emu.state(), source, drift=0.3)
    config = write_config(tmp_path, url=emu.url, source=source)
    code, _, err = await _syncd("sync", "--config", str(config))
    assert code == ExitCode.OK, err
    with acquire_site_lock(tmp_path / "state", "shop"):
        code, out, err = await _syncd("rollback", "--config", str(config), "--dry-run")
        assert code == ExitCode.PENDING, err
        assert "to restore" in out
        code, out, err = await _syncd("plan", "--config", str(config))
        assert code == ExitCode.OK, err
        code, _, err = await _syncd("rollback", "--config", str(config))
        assert code == ExitCode.LOCKED, "a real rollback still waits for the lock"
