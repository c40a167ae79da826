"""``syncd run`` paces the cyclic garbage collector for many stores' quiet cycles; ``syncd
sync`` and ``syncd plan`` for large plans."""

from __future__ import annotations

import argparse
import gc

import pytest

from syncd.frontends.cli import main
from syncd.frontends.commands.common import ExitCode
from syncd.frontends.commands.run import run_command
from syncd.frontends.daemon.collector import YOUNG_THRESHOLD


@pytest.fixture
def default_thresholds():
    saved = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    yield
    gc.set_threshold(*saved)


def test_run_collects_young_objects_less_often_keeping_older_generations(
        tmp_path, default_thresholds):
    status = run_command(argparse.Namespace(config=tmp_path / "missing.yaml"))
    assert status == ExitCode.CONFIG  # it paced the collector before reading the file
    assert gc.get_threshold() == (YOUNG_THRESHOLD, 10, 10)


@pytest.mark.parametrize("command", [["sync"], ["plan"], ["sync", "--dry-run"]])
def test_one_shot_syncs_collect_young_objects_less_often(tmp_path, default_thresholds, command):
    status = main([*command, "--config", str(tmp_path / "missing.yaml")])
    assert status == ExitCode.CONFIG  # it paced the collector before reading the file
    assert gc.get_threshold() == (YOUNG_THRESHOLD, 10, 10)
