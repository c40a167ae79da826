"""Progress while a sync runs: the plan before the first write, a live line naming the
budget wait, a log line at least every 10 s without a terminal, and live daemon metrics."""

from __future__ import annotations

import asyncio
import io
import itertools
import json
import os
import sys
from datetime import datetime
from pathlib import Path

from support.sync import API_KEY, drifted_source, write_config
from syncd.cycle.progress import ProgressLine, ProgressView, progress_text


def _view(**kw: object) -> ProgressView:
    values: dict[str, object] = dict(site="shop", writing=True, planned=450, done=150,
                                     api_calls=201, waiting=8, next_slot_s=40.2, eta_s=170.0,
                                     elapsed_s=30.0)
    values.update(kw)
    return ProgressView(**values)  # type: ignore[arg-type]


def test_the_line_names_the_budget_wait_and_the_eta():
    text = progress_text(_view())
    assert text == ("site shop: 150/450 writes, 201 API calls; waiting for the Wix budget, "
                    "next slot in 41 s, ETA 3 min")


def test_the_line_does_not_blame_the_budget_when_nothing_waits_for_it():
    text = progress_text(_view(waiting=0, next_slot_s=0.0, eta_s=5.0))
    assert "budget" not in text and text.endswith("ETA 5 s")


def test_the_line_while_reading_the_store():
    assert progress_text(_view(writing=False, planned=0, done=0, api_calls=1, waiting=0,
                               next_slot_s=0.0, eta_s=None)) == \
        "site shop: reading the store, 1 API call"


def test_the_line_is_redrawn_only_when_its_text_changes():
    class Fixed:
        site = "shop"

        def view(self) -> ProgressView:
            return _view()

    out = io.StringIO()
    line = ProgressLine(Fixed(), out)  # type: ignore[arg-type]
    line.draw()
    line.draw()
    assert out.getvalue().count("\r") == 1
    line.clear()
    assert out.getvalue().endswith("\r\x1b[K")


async def test_plan_comes_first_and_progress_is_logged_every_10_s_without_a_terminal(
        emulator, tmp_path: Path):
    rate = (40, 4.0)
    emu = await emulator(catalog="v1", api_key=API_KEY, generate_products=600,
                         rate_limit=rate, latency_ms=10)
    source = tmp_path / "stock.csv"
    drifted_source(emu.state(), source, drift=0.25)
    config = write_config(tmp_path, url=emu.url, source=source, rate_limit=rate,
                          policy={"max_changed_fraction": 1.0, "max_zeroed": 100000,
                                  "write_mode": "absolute"})
    env = {**os.environ, "WIX_API_KEY": API_KEY, "SYNCD_LOG_FORMAT": "json"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "syncd", "sync", "--config", str(config), env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    assert proc.stdout is not None
    writes_when_plan_shown = None
    out_lines = []
    while line := await asyncio.wait_for(proc.stdout.readline(), timeout=120):
        out_lines.append(line.decode())
        if writes_when_plan_shown is None and line.startswith(b"Plan:"):
            writes_when_plan_shown = emu.stats()["writes"]["calls"]
    _, err = await asyncio.wait_for(proc.communicate(), timeout=120)
    assert proc.returncode == 0, err.decode()
    total = emu.stats()["writes"]["calls"]
    assert writes_when_plan_shown is not None and writes_when_plan_shown < total / 2, \
        "the plan must be shown before the writes, not after them"
    stamps = [datetime.fromisoformat(d["timestamp"].replace("Z", "+00:00")).timestamp()
              for d in map(json.loads, err.decode().splitlines())
              if d.get("event") in ("sync_progress", "plan_ready")]
    progress = [json.loads(x) for x in err.decode().splitlines()
                if '"sync_progress"' in x]
    assert progress, "no progress line was logged"
    assert any(p["waiting_for_budget"] for p in progress)
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    assert max(gaps) < 10 + 2, f"progress log gaps {gaps}"
    assert "\r" not in "".join(out_lines) + err.decode(), "no live line when piped"



async def test_a_sync_by_deltas_reports_progress_as_its_calls_are_answered(emulator,
                                                                           tmp_path: Path):
    from support.sync import load_site
    from syncd.cycle.progress import SyncProgress
    from syncd.cycle.sync import SiteSync

    emu = await emulator(catalog="v1", api_key=API_KEY, generate_products=400,
                         rate_limit=None)
    source = tmp_path / "stock.csv"
    drifted_source(emu.state(), source, drift=0.6)
    config = write_config(tmp_path, url=emu.url, source=source, rate_limit=(100_000, 1.0),
                          policy={"max_changed_fraction": 1.0, "max_zeroed": 100000})
    settings, site = load_site(config)
    seen: list[tuple[int, int]] = []
    async with SiteSync(site, state_dir=settings.state_dir) as sync:
        tracker = SyncProgress("shop", sync.client)
        result = await sync.sync(
            progress=lambda done, total: seen.append((done, total)),
            on_plan=lambda planned: tracker.start_writing(planned.plan,
                                                          site.policy.write_mode))
        calls_written = sync.client.calls.total - tracker._calls_at_writing
    assert result.applied is not None and result.applied.deltas is not None
    adjust_calls = result.applied.deltas.adjust_calls
    assert adjust_calls >= 3, "the test needs several delta calls"
    total = len(result.planned.plan.changes)
    # One report as each delta call is answered, before the re-read settles them all.
    assert len([d for d, t in seen if 0 < d < total]) >= adjust_calls - 1
    assert seen[-1] == (total, total)
    # The ETA counts the calls the deltas take, not one write per product.
    assert tracker._planned_calls == calls_written
