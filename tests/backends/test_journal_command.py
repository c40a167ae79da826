"""``syncd journal`` shows what the journal holds, on either backend: the runs and their
counts, one run's writes, and the writes a killed run left without an outcome."""

from __future__ import annotations

import json
from pathlib import Path

import asyncpg

from support.backends import BackendUnderTest, syncd_cli
from support.faults import API_KEY, KEY_ENV, SITE, SITE_ID, make_desired, write_site
from syncd.cycle.sync import SiteSync
from syncd.edges.backend import StateBackend
from syncd.edges.config import Settings
from syncd.frontends.commands.common import ExitCode


async def _site(emulator, tmp_path: Path, backend: BackendUnderTest, seed: int):
    emu = await emulator(catalog="v1", generate_products=40, seed=seed, site_id=SITE_ID,
                         api_key=API_KEY, rate_limit=None)
    initial = emu.state()
    desired = make_desired(initial, drift=0.3, seed=seed)
    files = write_site(tmp_path, url=emu.url, desired=desired)
    files.config.write_text(files.config.read_text() + backend.config_lines())

    async def cli(*args: str) -> tuple[int, str, str]:
        return await syncd_cli(*args, "--config", str(files.config), backend=backend,
                               key=API_KEY, key_env=KEY_ENV)

    return emu, initial, desired, files, cli


async def test_journal_lists_runs_shows_a_run_and_says_what_a_rollback_undid(
    emulator, tmp_path, backend: BackendUnderTest
):
    emu, initial, desired, _, cli = await _site(emulator, tmp_path, backend, seed=71)
    before = {r["sku"]: r["quantity"] for r in initial}
    changed = {sku for sku, q in desired.items() if before[sku] != q}
    code, _, err = await cli("sync")
    assert code == ExitCode.OK, err

    code, out, err = await cli("journal", "--output", "json")
    assert code == ExitCode.OK, err
    (site,) = json.loads(out)["sites"]
    (run,) = site["runs"]
    assert site["site"] == SITE and site["unreadable_lines"] == []
    assert (run["applied"], run["failed"], run["unknown"], run["pending"]) == (
        len(changed), 0, 0, 0)
    sync_run = run["run_id"]

    code, out, err = await cli("journal", "--run", sync_run, "--output", "json")
    assert code == ExitCode.OK, err
    writes = json.loads(out)["sites"][0]["writes"]
    assert {w["sku"] for w in writes} == changed
    assert all(w["before"]["quantity"] == before[w["sku"]]
               and w["after"]["quantity"] == desired[w["sku"]]
               and w["outcome"] == "applied" for w in writes)
    code, out, _ = await cli("journal", "--run", sync_run)
    sku = sorted(changed)[0]
    (row,) = [line.split() for line in out.splitlines() if line.split()[:1] == [sku]]
    assert row[1:3] == [str(before[sku]), str(desired[sku])] and "applied" in row

    code, out, err = await cli("journal", "--run", "20000101T000000Z-nosuch")
    assert code == ExitCode.FAILED and out == ""
    assert "no run '20000101T000000Z-nosuch'" in err
    code, out, _ = await cli("journal", "--run", "20000101T000000Z-nosuch", "--output", "json")
    assert code == ExitCode.FAILED and json.loads(out)["outcome"] == "failed"

    code, _, err = await cli("rollback")
    assert code == ExitCode.OK, err
    assert {r["sku"]: r["quantity"] for r in emu.state()} == before
    code, listed, _ = await cli("journal")
    assert code == ExitCode.OK
    lines = listed.splitlines()
    assert lines[0].startswith(f"site {SITE}: 2 runs in ")
    assert lines[1].split()[0] == sync_run
    assert f"{len(changed)} writes applied, 0 failed, 0 unknown, 0 pending" in lines[1]
    assert lines[2].endswith(f"rollback of {sync_run}")
    code, out, _ = await cli("rollback", "--list")
    assert code == ExitCode.OK and out == listed  # one listing, two commands


async def test_journal_pending_shows_what_a_killed_run_left_open_until_a_sync_settles_it(
    emulator, tmp_path, backend: BackendUnderTest, state_backend: StateBackend
):
    _, _, _, files, cli = await _site(emulator, tmp_path, backend, seed=72)
    site = Settings.from_file(files.config, env={KEY_ENV: API_KEY, **backend.env}).sites[0]
    async with SiteSync(site, state_dir=files.state_dir, backend=state_backend) as sync:
        planned = await sync.plan()
    changes = [c for c in planned.plan.changes if c.variant.quantity is not None][:3]
    deltas = [c.quantity - (c.variant.quantity or 0) for c in changes]
    async with state_backend.journal(SITE, run_id="killed-run") as journal:
        await journal.write_pending(changes, deltas=deltas)  # then killed: nothing sent

    code, out, err = await cli("journal", "--pending", "--output", "json")
    assert code == ExitCode.OK, err
    writes = json.loads(out)["sites"][0]["writes"]
    assert [(w["run_id"], w["sku"], w["delta"], w["outcome"]) for w in writes] == [
        ("killed-run", c.variant.sku, d, "pending") for c, d in zip(changes, deltas,
                                                                   strict=True)]
    code, out, _ = await cli("journal", "--pending")
    assert f"site {SITE}: 3 writes never settled" in out
    assert all(f"{d:+d}" in out and c.variant.sku in out
               for c, d in zip(changes, deltas, strict=True))
    code, out, _ = await cli("journal")
    assert "killed-run" in out and "0 writes applied, 0 failed, 0 unknown, 3 pending" in out

    code, _, err = await cli("sync")  # settles the three by a re-read: none had landed
    assert code == ExitCode.OK, err
    code, out, _ = await cli("journal", "--pending")
    assert code == ExitCode.OK and f"site {SITE}: every write is settled" in out
    code, out, _ = await cli("journal", "--output", "json")
    killed = next(r for r in json.loads(out)["sites"][0]["runs"] if r["run_id"] == "killed-run")
    assert (killed["failed"], killed["pending"]) == (3, 0)


async def test_journal_reports_an_unreadable_line_instead_of_hiding_it(
    tmp_path, backend: BackendUnderTest
):
    files = write_site(tmp_path, url="http://127.0.0.1:9", desired={"SKU-1": 1})
    files.config.write_text(files.config.read_text() + backend.config_lines())
    if backend.dsn is None:
        files.journal.parent.mkdir(parents=True)
        files.journal.write_text('{"write_id": "torn')  # a crash in the middle of an append
    else:
        conn = await asyncpg.connect(backend.dsn)
        try:
            await conn.execute("INSERT INTO syncd_journal (site, write_id, run_id, outcome, "
                               "entry) VALUES ($1, 'w', 'r', 'pending', 'not json')", SITE)
        finally:
            await conn.close()
    code, out, err = await syncd_cli("journal", "--config", str(files.config),
                                     backend=backend, key=API_KEY, key_env=KEY_ENV)
    assert code == ExitCode.OK, err
    assert "note: 1 unreadable line(s) skipped (line 1: " in out
    code, out, _ = await syncd_cli("journal", "--config", str(files.config), "--output",
                                   "json", backend=backend, key=API_KEY, key_env=KEY_ENV)
    assert [b["line"] for b in json.loads(out)["sites"][0]["unreadable_lines"]] == [1]


async def test_absolute_writes_a_killed_run_left_pending_leave_the_list_once_a_sync_reads_them(
    emulator, tmp_path, backend: BackendUnderTest, state_backend: StateBackend
):
    """A later sync that read the store settles a killed run's absolute writes: they leave
    ``--pending`` and the run list counts them ``settled``, with what that sync read."""
    _, initial, _, files, cli = await _site(emulator, tmp_path, backend, seed=73)
    before = {r["sku"]: r["quantity"] for r in initial}
    site = Settings.from_file(files.config, env={KEY_ENV: API_KEY, **backend.env}).sites[0]
    async with SiteSync(site, state_dir=files.state_dir, backend=state_backend) as sync:
        planned = await sync.plan()
    changes = [c for c in planned.plan.changes if c.variant.quantity is not None][:3]
    async with state_backend.journal(SITE, run_id="killed-run") as journal:
        await journal.write_pending(changes)  # absolute writes, then killed: nothing sent
    code, out, _ = await cli("journal", "--pending")
    assert f"site {SITE}: 3 writes never settled" in out

    for _ in range(2):  # the first sync settles them; the second must not bring them back
        code, _, err = await cli("sync")
        assert code == ExitCode.OK, err
        code, out, err = await cli("journal", "--pending", "--output", "json")
        assert code == ExitCode.OK, err
        assert json.loads(out)["sites"][0]["writes"] == []
    code, out, _ = await cli("journal", "--pending")
    assert f"site {SITE}: every write is settled" in out
    code, out, _ = await cli("journal", "--run", "killed-run", "--output", "json")
    writes = json.loads(out)["sites"][0]["writes"]
    assert [(w["sku"], w["outcome"]) for w in writes] == [
        (c.variant.sku, "settled") for c in changes]
    assert all(f"read {before[w['sku']]} and planned from it" in w["note"] for w in writes)
    code, out, _ = await cli("journal")
    assert "killed-run" in out and "0 pending, 3 settled" in out
