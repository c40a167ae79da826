"""The state directory is private and written without following links.

Everything the local backend writes (lock files, journals, run state, approval requests)
is created 0700/0600 whatever the umask, opened with O_NOFOLLOW, and must be a regular file
with one link: a lock file swapped for a symbolic link must not truncate the file it names.
"""

from __future__ import annotations

import asyncio
import os
import stat
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from syncd.base.errors import StateError
from syncd.base.model import StoreVariant
from syncd.base.private_files import write_private
from syncd.core.journal import Journal
from syncd.core.plan import ChangeReason, StockChange
from syncd.edges.backend.console_state import Approval
from syncd.edges.backend.local import LocalBackend
from syncd.edges.backend.local.approve import approval_path, request_forced_cycle
from syncd.edges.backend.local.lock import acquire_site_lock
from syncd.edges.backend.local.statefile import state_path, write_state
from syncd.edges.backend.runstate import RunState

RUN_STATE = RunState(last_success_at=datetime(2026, 1, 1, tzinfo=UTC), source_rows=3,
                     source_digest="d")


async def first_append(journal: Journal) -> None:
    """A run's first journal line, which opens (and may create) the journal file."""
    v = StoreVariant(product_id="P", variant_id="V", inventory_item_id="I", sku="SKU",
                     tracked=True, quantity=1, in_stock=True, hidden=False)
    async with journal:
        await journal.write_pending([StockChange(v, 2, None, True, ChangeReason.QUANTITY,
                                                 None)])


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_a_symlinked_site_lock_is_refused_and_its_target_is_untouched(tmp_path: Path):
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    victim = tmp_path / "precious.txt"
    victim.write_text("the operator's data\n")
    (state / "shop.lock").symlink_to(victim)
    with pytest.raises(StateError, match=r"shop\.lock: is a symbolic link") as refused:
        with acquire_site_lock(state, "shop"):
            pytest.fail("the lock was taken through a link")
    assert "remove the link" in str(refused.value)
    assert victim.read_text() == "the operator's data\n"


def test_a_hard_linked_site_lock_is_refused_and_its_target_is_untouched(tmp_path: Path):
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    victim = tmp_path / "precious.txt"
    victim.write_text("the operator's data\n")
    os.link(victim, state / "shop.lock")
    with pytest.raises(StateError, match="2 hard links") as refused:
        with acquire_site_lock(state, "shop"):
            pytest.fail("the lock was taken through a hard link")
    assert "give it a file of its own: cp -p" in str(refused.value)
    assert victim.read_text() == "the operator's data\n"


def test_a_symlinked_journal_is_refused_and_its_target_is_untouched(tmp_path: Path):
    backend = LocalBackend(tmp_path / "state")
    journal_dir = tmp_path / "state" / "journal"
    journal_dir.mkdir(parents=True, mode=0o700)
    victim = tmp_path / "precious.txt"
    victim.write_text("kept")
    (journal_dir / "shop.jsonl").symlink_to(victim)
    journal = backend.journal("shop", run_id="r1")
    with pytest.raises(StateError, match=r"shop\.jsonl: is a symbolic link"):
        asyncio.run(first_append(journal))
    assert victim.read_text() == "kept"


def test_created_directories_are_0700_and_files_0600_under_umask_022(
        tmp_path: Path, umask_022: None):
    state = tmp_path / "deep" / "state"
    backend = LocalBackend(state)
    with acquire_site_lock(state, "shop"):
        pass

    async def journal_and_state() -> None:
        await first_append(backend.journal("shop", run_id="r1"))
        await backend.write_state("shop", RUN_STATE)

    asyncio.run(journal_and_state())
    assert mode(tmp_path / "deep") == 0o700
    assert mode(state) == 0o700
    assert mode(state / "journal") == 0o700
    assert mode(state / "journal" / "shop.jsonl") == 0o600
    assert mode(state / "shop.lock") == 0o600
    assert mode(state_path(state, "shop")) == 0o600
    assert not [p for p in state.iterdir() if p.name.endswith(".part")]


def test_an_approval_request_is_written_0600_and_never_through_a_link(
        tmp_path: Path, umask_022: None):
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    victim = tmp_path / "precious.txt"
    victim.write_text("kept")
    approval_path(state, "shop").symlink_to(victim)
    with pytest.raises(StateError, match="symbolic link"):
        write_private(approval_path(state, "shop"), b"requested\n")
    assert victim.read_text() == "kept"
    approval_path(state, "shop").unlink()
    write_private(approval_path(state, "shop"), b"requested\n")
    assert mode(approval_path(state, "shop")) == 0o600


def test_a_symlinked_state_file_is_not_replaced(tmp_path: Path):
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    victim = tmp_path / "precious.json"
    victim.write_text("{}")
    state_path(state, "shop").symlink_to(victim)
    with pytest.raises(StateError, match="symbolic link"):
        write_state(state, "shop", RUN_STATE)
    assert state_path(state, "shop").is_symlink()
    assert victim.read_text() == "{}"


def test_an_existing_world_readable_lock_file_becomes_private(tmp_path: Path):
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    (state / "shop.lock").write_text("")
    os.chmod(state / "shop.lock", 0o644)
    with acquire_site_lock(state, "shop"):
        pass
    assert mode(state / "shop.lock") == 0o600


def test_the_forced_cycle_request_of_a_foreign_pid_leaves_no_file(tmp_path: Path):
    with pytest.raises(OSError, match="not a syncd process"):
        request_forced_cycle(tmp_path, "shop", os.getpid(), Approval("d" * 64, "test", 0.0))
    assert not approval_path(tmp_path, "shop").exists()
