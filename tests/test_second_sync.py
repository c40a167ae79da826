"""A second one-shot sync beside a running one: it exits 4 and never signals the first.

A lock held by a one-shot ``syncd sync`` must not be taken for a daemon's: ``--force``
asks a *daemon* for a forced cycle with SIGUSR2, a signal whose default action ends any
other process, mid-write.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

from support.sync import API_KEY, drifted_source, run_syncd, write_config
from syncd.edges.backend.local.approve import is_syncd_process
from syncd.frontends.commands.common import ExitCode


async def start_syncd(*args: str) -> asyncio.subprocess.Process:
    env = {**os.environ, "WIX_API_KEY": API_KEY, "SYNCD_LOG_FORMAT": "json"}
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "syncd", *args, env=env, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)


async def rate_bound_site(emulator, tmp_path: Path, products: int) -> Path:
    """A store with 40% of its variants to change, synced at 4 requests a second."""
    emu = await emulator(catalog="v1", api_key=API_KEY, rate_limit=None,
                         generate_products=products, seed=7)
    source = tmp_path / "stock.csv"
    drifted_source(emu.state(), source, drift=0.4)
    return write_config(tmp_path, url=emu.url, source=source, rate_limit=(4, 1.0),
                        policy={"write_mode": "absolute"})


async def test_two_forced_syncs_3_s_apart_the_first_finishes_and_the_second_exits_4(
        emulator, tmp_path):
    config = await rate_bound_site(emulator, tmp_path, 120)
    first = await start_syncd("sync", "--force", "--config", str(config), "--output", "json")
    await asyncio.sleep(3)
    assert first.returncode is None, "the first sync must still be writing after 3 s"
    code, _out, err = await run_syncd("sync", "--force", "--config", str(config))
    assert code == ExitCode.LOCKED, err
    assert "another syncd command" in err and "not signalled" not in err
    out, _err = await asyncio.wait_for(first.communicate(), timeout=120)
    assert first.returncode == ExitCode.OK
    account = json.loads(out)["sites"][0]["account"]
    assert account["written"] == account["planned"] > 20
    assert account["failed"] == account["not_sent"] == 0
    code, out, _ = await run_syncd("journal", "--pending", "--config", str(config),
                                   "--output", "json")
    assert code == ExitCode.OK
    assert json.loads(out)["sites"][0]["writes"] == []


async def test_a_one_shot_sync_is_not_ended_by_a_daemons_request_signals(emulator, tmp_path):
    config = await rate_bound_site(emulator, tmp_path, 60)
    proc = await start_syncd("sync", "--force", "--config", str(config), "--output", "json")
    # The site lock is taken once the command's signal handlers are in place (a signal
    # before that is a process start-up's, not a running sync's).
    for _ in range(600):
        if any(tmp_path.rglob("*.lock")):
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError("the sync never took its site lock")
    proc.send_signal(signal.SIGUSR2)
    proc.send_signal(signal.SIGUSR1)
    out, _err = await asyncio.wait_for(proc.communicate(), timeout=120)
    assert proc.returncode == ExitCode.OK
    assert json.loads(out)["sites"][0]["account"]["not_sent"] == 0


def test_only_a_syncd_process_of_this_user_counts_as_one(tmp_path: Path):
    assert not is_syncd_process(os.getpid())  # pytest: not syncd
    assert not is_syncd_process(1)  # init: another program (and maybe another user)
    assert not is_syncd_process(2**22 + 12345)  # no such process
