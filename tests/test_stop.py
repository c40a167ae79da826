"""Ctrl-C during a long, rate-bound sync: nothing is sent after the signal, the process
ends promptly with the account, and the journal says what happened to every write."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from collections import Counter
from pathlib import Path

from support.sync import API_KEY, drifted_source, run_syncd, write_config
from syncd.core.journal import Outcome
from syncd.edges.backend.local.journal import read_journal
from syncd.frontends.commands.common import ExitCode

PRODUCTS = 1500
RATE = (100, 4.0)
"""A compressed window (Wix: 200 per 60 s) so the run is rate-bound within seconds."""
CONCURRENCY = 8


async def _start_sync(emulator, tmp_path: Path):
    emu = await emulator(catalog="v1", api_key=API_KEY, generate_products=PRODUCTS,
                         rate_limit=RATE, latency_ms=40)
    source = tmp_path / "stock.csv"
    drifted_source(emu.state(), source, drift=0.3)
    config = write_config(tmp_path, url=emu.url, source=source, rate_limit=RATE,
                          policy={"max_changed_fraction": 1.0, "max_zeroed": 100000,
                                 "write_mode": "absolute"})
    env = {**os.environ, "WIX_API_KEY": API_KEY, "SYNCD_LOG_FORMAT": "json"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "syncd", "sync", "--config", str(config), env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    # Wait until the run is writing and has met the budget at least once.
    for _ in range(600):
        if emu.stats()["writes"]["calls"] >= RATE[0]:
            break
        await asyncio.sleep(0.1)  # the emulator offers no event to wait on
    assert emu.stats()["writes"]["calls"] >= RATE[0], "the sync never got to writing"
    await asyncio.sleep(1.0)  # now inside a budget wait
    return emu, proc, tmp_path / "state" / "journal" / "shop.jsonl"


async def test_first_ctrl_c_stops_sending_at_once_and_journals_every_write(emulator,
                                                                           tmp_path):
    emu, proc, journal = await _start_sync(emulator, tmp_path)
    at_signal = emu.stats()["writes"]["calls"]
    signalled = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, err = await asyncio.wait_for(proc.communicate(), timeout=30)
    took = time.monotonic() - signalled
    assert proc.returncode == ExitCode.STOPPED, err.decode()
    # Requests on the wire may finish (at most the site's concurrency of them, each
    # bounded by the request timeout); nothing new leaves after the signal.
    assert took < 2 + 10, f"took {took:.1f} s to stop"
    at_exit = emu.stats()["writes"]
    assert at_exit["calls"] - at_signal <= CONCURRENCY
    await asyncio.sleep(2)
    assert emu.stats()["writes"] == at_exit, "a write arrived after the process ended"
    text = out.decode()
    assert "not sent" in text and "Traceback" not in err.decode()
    entries = list(read_journal(journal))
    final = {e.write_id: e.outcome for e in entries}
    pending = {e.write_id for e in entries if e.outcome is Outcome.PENDING}
    assert all(final[w] is not Outcome.PENDING for w in pending), "a pending write has no outcome"
    outcomes = Counter(final.values())
    assert outcomes[Outcome.APPLIED] == at_exit["variants"], "journal and store disagree"
    assert outcomes[Outcome.UNKNOWN] == 0


async def test_second_ctrl_c_quits_at_once_without_a_traceback(emulator, tmp_path):
    _, proc, _ = await _start_sync(emulator, tmp_path)
    proc.send_signal(signal.SIGINT)
    await asyncio.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    signalled = time.monotonic()
    _, err = await asyncio.wait_for(proc.communicate(), timeout=30)
    assert time.monotonic() - signalled < 3
    assert proc.returncode in (ExitCode.ABORTED, ExitCode.STOPPED), err.decode()[-3000:]
    assert "Traceback" not in err.decode() and "KeyboardInterrupt" not in err.decode()



async def _pending_writes(config: Path) -> int:
    code, out, err = await run_syncd("journal", "--pending", "--config", str(config),
                                     "--output", "json")
    assert code == ExitCode.OK, err
    return len(json.loads(out)["sites"][0]["writes"])


async def test_after_ctrl_c_the_account_and_the_journal_agree_on_what_is_pending(
        emulator, tmp_path):
    """Deltas sent before the stop whose confirming re-read never came are unconfirmed:
    the account counts them apart from what was never sent, as many as
    ``journal --pending`` lists."""
    emu = await emulator(catalog="v1", api_key=API_KEY, generate_products=600,
                         rate_limit=None)
    source = tmp_path / "stock.csv"
    drifted_source(emu.state(), source, drift=0.3)
    policy = {"max_changed_fraction": 1.0, "max_zeroed": 100000, "write_mode": "delta"}
    config = write_config(tmp_path, url=emu.url, source=source, policy=policy)
    code, out, err = await run_syncd("plan", "--config", str(config), "--output", "json")
    assert code == ExitCode.PENDING, err
    walk_calls = json.loads(out)["sites"][0]["plan"]["walk"]["api_calls"]
    # syncd's own budget lasts for the walk and a delta call or two: the re-read that
    # would confirm them waits for the next window, and the stop comes during that wait.
    config = write_config(tmp_path, url=emu.url, source=source, policy=policy,
                          rate_limit=(walk_calls + 3, 60.0))
    env = {**os.environ, "WIX_API_KEY": API_KEY, "SYNCD_LOG_FORMAT": "json"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "syncd", "sync", "--config", str(config), "--output", "json",
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    for _ in range(600):
        if emu.stats()["writes"]["calls"] >= 1 or proc.returncode is not None:
            break
        await asyncio.sleep(0.05)  # the emulator offers no event to wait on
    await asyncio.sleep(1.0)  # now waiting for the budget
    if proc.returncode is None:
        proc.send_signal(signal.SIGINT)
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode == ExitCode.STOPPED, err.decode()[-3000:]
    run = json.loads(out)
    [site] = run["sites"]
    account = site["account"]
    assert account is not None, f"a run that sent writes has an account: {site['reason']}"
    pending = await _pending_writes(config)
    assert pending > 0, "a delta call was sent: its deltas await their re-read"
    assert account["unconfirmed"] == pending
    assert account["written"] + account["failed"] + account["unconfirmed"] \
        + account["not_sent"] == account["planned"]
    assert f"{pending} sent but unconfirmed" in site["reason"]
    assert "journal --pending" in site["reason"]
