"""``syncd validate`` reports each site's run state from the configured backend, and a
backend it cannot use as a problem."""

from __future__ import annotations

from support.backends import BackendUnderTest, syncd_cli
from support.faults import API_KEY, KEY_ENV, SITE, SITE_ID, make_desired, write_site
from syncd.frontends.commands.common import ExitCode


async def test_validate_reads_the_run_state_a_sync_left_in_the_backend(
    emulator, tmp_path, backend: BackendUnderTest
):
    emu = await emulator(catalog="v1", generate_products=20, seed=5, site_id=SITE_ID,
                         api_key=API_KEY, rate_limit=None)
    desired = make_desired(emu.state(), drift=0.2, seed=5)
    files = write_site(tmp_path, url=emu.url, desired=desired)
    files.config.write_text(files.config.read_text() + backend.config_lines())

    async def validate() -> tuple[int, str]:
        code, out, err = await syncd_cli("validate", "--config", str(files.config),
                                         backend=backend, key=API_KEY, key_env=KEY_ENV)
        return code, out + err

    code, out = await validate()
    assert code == ExitCode.OK, out
    assert "run state: no successful run yet" in out

    code, _, err = await syncd_cli("sync", "--config", str(files.config), backend=backend,
                                   key=API_KEY, key_env=KEY_ENV)
    assert code == ExitCode.OK, err
    code, out = await validate()
    assert code == ExitCode.OK, out
    assert f"site {SITE}:" in out
    assert f"{len(desired)} source rows" in out and "run state: last success" in out
