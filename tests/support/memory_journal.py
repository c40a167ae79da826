"""A write journal kept in a list, for tests of the applier that need no files."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from syncd.core.journal import Journal, JournalEntry, JournalTail, unsettled


class MemoryStore:
    """The journal's lines in a list shared by every run of a test."""

    def __init__(self, lines: list[JournalEntry]) -> None:
        self.lines = lines

    async def open(self) -> None:
        pass

    async def close(self) -> None:
        pass

    async def append(self, entries: Sequence[JournalEntry]) -> None:
        self.lines.extend(entries)

    async def read_all(self, bad_lines: Any = None) -> list[JournalEntry]:
        return list(self.lines)

    async def read_since(self, position: object | None) -> JournalTail:
        start = int(position) if isinstance(position, int) else 0
        return JournalTail(tuple(self.lines[start:]), len(self.lines), position is None)

    async def read_open(self) -> list[JournalEntry]:
        return unsettled(self.lines)


def memory_journal(lines: list[JournalEntry], *, run_id: str, clock: Any) -> Journal:
    """A journal of site ``shop`` writing into ``lines``, timed by ``clock``."""
    return Journal(MemoryStore(lines), site="shop", run_id=run_id, clock=clock)
