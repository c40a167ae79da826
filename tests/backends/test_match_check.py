"""The check that a source is about this store compares each full run with the last good
one; the number it compares with survives in the run state of either backend."""

from __future__ import annotations

from support.backends import BackendUnderTest, syncd_cli
from support.sync import API_KEY, drifted_source, write_config
from syncd.edges.backend import StateBackend
from syncd.frontends.commands.common import ExitCode


async def test_far_fewer_matches_than_the_last_good_run_is_an_error(
    emulator, tmp_path, backend: BackendUnderTest, state_backend: StateBackend
):
    emu = await emulator(catalog="v1", api_key=API_KEY, rate_limit=None)
    source = tmp_path / "stock.csv"
    drifted_source(emu.state(), source, drift=0)
    config = write_config(tmp_path, url=emu.url, source=source,
                          policy={"max_source_shrink": 1.0})
    config.write_text(config.read_text() + backend.config_lines())
    code, _, err = await syncd_cli("sync", "--config", str(config), backend=backend, key=API_KEY)
    assert code == ExitCode.OK, err
    lines = source.read_text().splitlines()
    state = await state_backend.read_state("shop")
    assert state is not None and state.matched_rows == len(lines) - 1
    keep = max(1, (len(lines) - 1) // 4)
    # Same number of rows, but three quarters of them now name SKUs of another store.
    source.write_text("\n".join([lines[0], *lines[1:1 + keep],
                                 *(f"OTHER-{i},1" for i in range(len(lines) - 1 - keep))])
                      + "\n")
    code, _, err = await syncd_cli("sync", "--config", str(config), backend=backend, key=API_KEY)
    assert code == ExitCode.NO_MATCH, err
    assert "at the last good run" in err
