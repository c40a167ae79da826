"""The PostgreSQL state backend through the real commands: migrate, plan, sync, rollback."""

from __future__ import annotations

import asyncio
import os
import sys
from dataclasses import replace

import asyncpg
import pytest

from support.agency import KEY, stock_of, write_fleet
from syncd.base.errors import StateError
from syncd.edges.backend.postgres import open_postgres
from syncd.edges.backend.schema import migrate
from syncd_emulator.config import EmulatorConfig
from syncd_emulator.multisite import MultiSiteConfig, serve_multisite

pytestmark = pytest.mark.timeout(180)


async def cli(*args: str, dsn: str | None, cwd) -> tuple[int, str, str]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}
    if dsn:
        env["SYNCD_DATABASE_URL"] = dsn
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "syncd", *args, env=env, cwd=cwd,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), timeout=120)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_db_migrate_creates_the_schema_once(pg_dsn, tmp_path):
    code, out, _ = await cli("db", "migrate", dsn=pg_dsn, cwd=tmp_path)
    assert code == 0 and "applied migration(s) 1, 2, 3, 4" in out
    code, out, _ = await cli("db", "migrate", dsn=pg_dsn, cwd=tmp_path)
    assert code == 0 and "already at version 6" in out
    conn = await asyncpg.connect(pg_dsn)
    try:
        assert await conn.fetchval("SELECT max(version) FROM syncd_schema_version") == 6
    finally:
        await conn.close()


async def test_db_migrate_upgrades_a_version_1_schema_and_keeps_its_run_state(pg_dsn, tmp_path):
    conn = await asyncpg.connect(pg_dsn)
    try:
        assert await migrate(conn, up_to=1) == [1]
        await conn.execute("INSERT INTO syncd_run_state (site, last_success_at, source_rows, "
                           "source_digest) VALUES ('shop', now(), 40, 'sha256:old')")
    finally:
        await conn.close()
    with pytest.raises(StateError, match="at version 1, this syncd needs 6"):
        async with open_postgres(pg_dsn):
            pass
    code, out, err = await cli("db", "migrate", dsn=pg_dsn, cwd=tmp_path)
    assert code == 0 and "applied migration(s) 2, 3, 4, 5, 6; schema at version 6" in out, err
    async with open_postgres(pg_dsn) as backend:
        old = await backend.read_state("shop")
        assert old is not None and (old.source_rows, old.matched_rows) == (40, None)
        await backend.write_state("shop", replace(old, matched_rows=37))
        assert await backend.read_state("shop") == replace(old, matched_rows=37)


async def test_a_command_on_an_unmigrated_database_says_to_migrate(pg_dsn, tmp_path):
    config = MultiSiteConfig(sites=1, template=EmulatorConfig(generate_products=5, api_key=KEY))
    async with serve_multisite(config) as running:
        stocks = {i: stock_of(running.site(i).store.state_rows()) for i in config.site_ids()}
        path = write_fleet(tmp_path, url=running.url, stocks=stocks, interval_s=60,
                           extra={"state_backend": "postgres"})
        code, _, err = await cli("sync", "--config", str(path), dsn=pg_dsn, cwd=tmp_path)
    assert code == 78
    assert "run `syncd db migrate` first" in err


async def test_plan_sync_and_rollback_work_against_postgres(pg_dsn, tmp_path):
    config = MultiSiteConfig(sites=2, template=EmulatorConfig(generate_products=20,
                                                              api_key=KEY))
    assert (await cli("db", "migrate", dsn=pg_dsn, cwd=tmp_path))[0] == 0
    async with serve_multisite(config) as running:
        ids = config.site_ids()
        before = {i: {r["sku"]: r["quantity"] for r in running.site(i).store.state_rows()}
                  for i in ids}
        stocks = {i: stock_of(running.site(i).store.state_rows()) for i in ids}
        path = write_fleet(tmp_path, url=running.url, stocks=stocks, interval_s=60,
                           extra={"state_backend": "postgres"})
        run = lambda *a: cli(*a, "--config", str(path), dsn=pg_dsn, cwd=tmp_path)  # noqa: E731
        assert (await run("plan"))[0] == 2  # changes pending
        code, out, err = await run("sync")
        assert code == 0, err
        for i in ids:
            store = {r["sku"]: r["quantity"] for r in running.site(i).store.state_rows()}
            assert all(store[sku] == q for sku, q in stocks[i].items())
        assert not (tmp_path / "state").exists()  # nothing went to the local directory
        code, out, _ = await run("rollback", "--list")
        assert code == 0 and f"site {ids[0]}: 1 run in the syncd_journal table" in out
        code, out, err = await run("rollback", "--site", ids[0])
        assert code == 0, err
        store = {r["sku"]: r["quantity"] for r in running.site(ids[0]).store.state_rows()}
        assert store == before[ids[0]]
    conn = await asyncpg.connect(pg_dsn)
    try:
        rows = await conn.fetch("SELECT site, write_id, outcome FROM syncd_journal")
        states = await conn.fetch("SELECT site, source_rows FROM syncd_run_state")
    finally:
        await conn.close()
    pending = {(r["site"], r["write_id"]) for r in rows if r["outcome"] == "pending"}
    applied = {(r["site"], r["write_id"]) for r in rows if r["outcome"] == "applied"}
    assert pending == applied and len(pending) == 5 * 2 + 5  # two syncs, one rollback
    assert {r["site"]: r["source_rows"] for r in states} == {i: len(stocks[i]) for i in ids}


async def test_validate_names_a_database_it_cannot_reach(tmp_path):
    (tmp_path / "key").write_text(KEY)
    (tmp_path / "stock.csv").write_text("sku,quantity\nA,1\n")
    (tmp_path / "syncd.yaml").write_text(
        "sites: [{name: shop, site_id: s1, api_key_file: key}]\n"
        "source: {path: stock.csv}\nstate_backend: postgres\n")
    code, out, err = await cli("validate", "--config", "syncd.yaml",
                               dsn="postgresql://syncd@127.0.0.1:1/none", cwd=tmp_path)
    assert code == 1, out + err
    assert "state backend: unreachable" in out
    assert out.rstrip().endswith("invalid")


async def test_db_migrate_reads_the_dsn_from_a_file(pg_dsn, tmp_path):
    (tmp_path / "database-dsn").write_text(pg_dsn + "\n")
    code, out, err = await cli("db", "migrate", "--dsn-file", "database-dsn", dsn=None,
                               cwd=tmp_path)
    assert code == 0, err
    assert "schema at version 6" in out


async def test_a_password_the_server_quotes_back_is_redacted_from_the_error(pg_dsn, tmp_path):
    # Trust authentication ignores the password; naming a database after it makes the
    # server quote it back in its error, as a library or a server may quote a DSN.
    password = "Pw-7f3a91c2e5"
    user_at = pg_dsn.split("//", 1)[1].split("@", 1)[0]
    server = pg_dsn.rsplit("/", 1)[0].replace(f"//{user_at}@", f"//{user_at}:{password}@")
    (tmp_path / "database-dsn").write_text(f"{server}/{password}\n")
    code, out, err = await cli("db", "status", "--dsn-file", "database-dsn", dsn=None,
                               cwd=tmp_path)
    assert code == 1
    assert "does not exist" in err and "[REDACTED]" in err
    assert password not in out + err


async def test_a_probe_report_is_kept_per_site_in_its_own_table(pg_dsn, tmp_path):
    """What ``syncd probe`` stores reads back as written, per site, replaced by the next."""
    from datetime import UTC, datetime

    from syncd.core.findings import Finding, ProbeReport

    assert (await cli("db", "migrate", dsn=pg_dsn, cwd=tmp_path))[0] == 0
    first = ProbeReport("shop", datetime(2026, 1, 2, tzinfo=UTC), 11, (
        Finding("numeric_bound", "string_only", "number bound nothing; string bound matches"),
        Finding("read_lag", "lag", "measured", {"seconds": 2.5})))
    second = replace(first, taken_at=datetime(2026, 2, 3, tzinfo=UTC), calls=12)
    async with open_postgres(pg_dsn) as backend:
        assert await backend.read_probe("shop") is None
        await backend.write_probe("shop", first)
        assert await backend.read_probe("shop") == first
        await backend.write_probe("shop", second)
        assert await backend.read_probe("shop") == second
        assert await backend.read_probe("other") is None
        # A finding carried from an earlier report keeps its own date.
        carried = replace(second, findings=(
            Finding("read_lag", "lag", "measured", {"seconds": 2.5},
                    at=datetime(2026, 1, 2, tzinfo=UTC)),
            Finding("numeric_bound", "string_only", "e", at=second.taken_at)))
        await backend.write_probe("shop", carried)
        back = await backend.read_probe("shop")
        assert back == carried
        assert back.finding("read_lag").at == datetime(2026, 1, 2, tzinfo=UTC)
