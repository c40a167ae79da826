"""``syncd sync`` killed with SIGKILL at random points: the journal still tells the truth,
and the next run finishes the job.

Each round resets the emulated store, starts ``syncd sync`` as a subprocess, and kills it
with SIGKILL (no handler, no cleanup) at a random point: most rounds after a random number
of product writes has landed (so the kill lands among the writes, possibly between a
journal fsync and the request, or between the answer and its settlement), some at a
random time (start-up, walk or plan). Latency on every request keeps writes in flight.

After each kill the journal must parse (``read_journal`` skips a torn last line, nothing
else may be unreadable) and agree with the store (``support.journal_errors``: applied
writes are in the store, writes without an outcome either landed or not, nothing changed
without a journal entry). Then ``syncd sync`` runs again, as many times as it takes (at most
three), and the store must end exactly as the source says, with the journal still agreeing.

The V1 delta path (``write_mode: delta``) is killed the same way, at a random request of
the run (the walk, an Increment call in flight, the re-read that verifies it, or between
them): besides the checks above, no variant may ever receive more delta units than it
needed (``support.double_applied_errors``), however many runs the job took.

Short: 3 kills on Catalog V1 (absolute), 4 on the delta path. ``--long-faults``: 20 on V1,
24 on the delta path and 6 on V3.
"""

from __future__ import annotations

import asyncio
import os
import random
import sys
from pathlib import Path

import pytest

from support.faults import (
    API_KEY,
    KEY_ENV,
    SITE_ID,
    SiteFiles,
    double_applied_errors,
    end_state_errors,
    journal_errors,
    make_desired,
    read_entries,
    wait_for,
    write_site,
)
from syncd_emulator import RunningEmulator

pytestmark = pytest.mark.faults

PRODUCTS = 300
LATENCY_MS = 20


async def _start_sync(files: SiteFiles) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "syncd", "sync", "--config", str(files.config),
        "--output", "json", stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, KEY_ENV: API_KEY})


async def _sync_to_completion(files: SiteFiles) -> tuple[int, str]:
    process = await _start_sync(files)
    _, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    return process.returncode or 0, stderr.decode(errors="replace")


async def _kill_somewhere(emu: RunningEmulator, files: SiteFiles, rng: random.Random,
                          *, expected_writes: int, at_request: int | None = None) -> str | None:
    """Start a sync and SIGKILL it at a random point; says where it was killed (None when
    the run had already finished). ``at_request``: right after that request of the run
    arrived at the emulator, instead of after a random number of writes."""
    process = await _start_sync(files)

    def writes() -> int:
        return int(emu.stats()["writes"]["calls"])  # type: ignore[index]

    def requests() -> dict[str, int]:
        return emu.stats()["requests"]  # type: ignore[return-value]

    if at_request is not None:
        target = at_request
        await wait_for(lambda: sum(requests().values()) >= target
                       or process.returncode is not None, timeout_s=30)
        # A little later still: requests sent together (the Increment calls go several at
        # a time) are then caught before, while and after they land.
        await asyncio.sleep(rng.uniform(0.0, 0.04))
        seen = requests()
        where = (f"at request {sum(seen.values())} of about {expected_writes} "
                 f"({seen.get('POST /stores/v2/inventoryItems/increment', 0)} increments "
                 f"sent, {emu.stats()['deltas']['entries']} deltas applied)")
    elif rng.random() < 0.25:
        delay_s = rng.uniform(0.3, 2.0)
        await wait_for(lambda: process.returncode is not None, timeout_s=delay_s)
        where = f"after {delay_s:.2f} s"
    else:
        target = rng.randint(1, max(1, expected_writes - 1))
        await wait_for(lambda: writes() >= target or process.returncode is not None,
                       timeout_s=30)
        where = f"after {writes()} of {expected_writes} write calls landed"
    if process.returncode is not None:
        return None
    process.kill()
    await process.wait()
    return where


async def _kill_rounds(emulator, tmp_path: Path, *, catalog: str, kills: int, seed: int,
                       write_mode: str = "absolute") -> None:
    emu = await emulator(catalog=catalog, generate_products=PRODUCTS, seed=seed,
                         site_id=SITE_ID, api_key=API_KEY, rate_limit=None,
                         latency_ms=LATENCY_MS)
    initial = emu.state()
    # The delta path: every named variant changes, so a run sends several Increment calls.
    desired = make_desired(initial, drift=1.0 if write_mode == "delta" else 0.3, seed=seed)
    changed_products = len({r["product_id"] for r in initial
                            if r["sku"] in desired and desired[r["sku"]] != r["quantity"]})
    expected_writes = changed_products if catalog == "v1" else 1
    deltas = write_mode == "delta"
    if deltas:  # every request of the run: version, walk, increments, re-reads
        changed = sum(1 for r in initial if r["sku"] in desired
                      and desired[r["sku"]] != r["quantity"])
        expected_writes = 1 + 2 * (PRODUCTS // 100 + 1) + changed // 300 + 1
    rng = random.Random(f"kill9/{catalog}/{write_mode}/{seed}")
    # The delta path is killed after each request of the run in turn (shuffled), so every
    # stage is hit: the walk, each Increment call, the re-read that verifies them.
    positions = list(range(1, expected_writes + 1))
    rng.shuffle(positions)
    killed: list[str] = []
    for round_ in range(2 * kills):
        if len(killed) == kills:
            break
        emu.reset()
        files = write_site(tmp_path / f"{catalog}-round{round_}", url=emu.url, desired=desired,
                           write_mode=write_mode)
        where = await _kill_somewhere(
            emu, files, rng, expected_writes=expected_writes,
            at_request=positions[round_ % len(positions)] if deltas else None)
        if where is None:
            continue  # the run was over before the kill came: not a kill, try again
        killed.append(where)

        after_kill = emu.state()
        _, bad = read_entries(files)
        assert all(line.torn for line in bad), (where, bad)
        assert journal_errors(files, initial=initial, final=after_kill, desired=desired) == [], \
            where

        for _attempt in range(3):
            code, stderr = await _sync_to_completion(files)
            if code == 0:
                break
        assert code == 0, (where, stderr[-2000:])
        final = emu.state()
        assert end_state_errors(initial, final, desired) == [], where
        assert journal_errors(files, initial=initial, final=final, desired=desired) == [], where
        assert double_applied_errors(emu.stats(), initial, desired) == [], where
    assert len(killed) == kills
    print(f"\n{catalog} ({write_mode}): {len(killed)} runs killed with SIGKILL, each "
          "resumed to the source: "
          + "; ".join(killed))


async def test_sync_killed_at_random_points_resumes_to_the_source_with_a_truthful_journal(
    emulator, tmp_path, long_faults
):
    await _kill_rounds(emulator, tmp_path, catalog="v1", kills=20 if long_faults else 3,
                       seed=31)


async def test_v1_delta_sync_killed_at_random_requests_never_applies_a_delta_twice(
    emulator, tmp_path, long_faults
):
    await _kill_rounds(emulator, tmp_path, catalog="v1", kills=24 if long_faults else 4,
                       seed=33, write_mode="delta")


async def test_v3_sync_killed_at_random_points_resumes_to_the_source(
    emulator, tmp_path, long_faults
):
    if not long_faults:
        pytest.skip("part of the long fault run (--long-faults)")
    await _kill_rounds(emulator, tmp_path, catalog="v3", kills=6, seed=32)
