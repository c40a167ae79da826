"""``syncd sync --force`` shows the plan it forces, with the digest ``syncd plan`` gives it."""

from __future__ import annotations

import json

from support.sync import API_KEY, drifted_source, run_syncd, write_config
from syncd.frontends.commands.common import ExitCode


async def test_sync_force_prints_the_plan_it_forces_and_its_digest(emulator, tmp_path):
    emu = await emulator(catalog="v1", generate_products=20, seed=11, rate_limit=None,
                         api_key=API_KEY)
    source = tmp_path / "stock.csv"
    drifted_source(emu.state(), source, drift=0.6)
    config = write_config(tmp_path, url=emu.url, source=source,
                          policy={"max_changed_fraction": 0.05, "max_zeroed": 100_000})
    code, out, err = await run_syncd("plan", "--output", "json", "--config", str(config))
    assert code == ExitCode.PENDING, err
    plan = json.loads(out)["sites"][0]["plan"]
    digest, changes = plan["digest"], plan["counts"]["changes"]
    assert len(digest) == 64 and changes > 0
    code, out, err = await run_syncd("sync", "--force", "--config", str(config))
    assert code == ExitCode.OK, err
    shown, _, account = out.partition(f"Forcing plan {digest[:12]} (digest {digest})")
    assert account, out  # the digest line sits between the plan and the account
    assert f"Plan: {changes} changes on " in shown
    assert emu.stats()["writes"]["calls"] > 0
