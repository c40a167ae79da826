"""Collecting configuration errors, so that one run reports every mistake of a file."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import NoReturn, TypeVar

from syncd.base.errors import ConfigError

T = TypeVar("T")


class ErrorList:
    """The configuration errors found so far, raised together as one ``ConfigError``."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def add(self, message: str) -> None:
        """Record one error (once: a section read twice reports its mistakes once)."""
        if message not in self.messages:
            self.messages.append(message)

    def run(self, check: Callable[[], T]) -> T | None:
        """``check()``, or None after recording the ``ConfigError`` it raised."""
        try:
            return check()
        except ConfigError as e:
            self.add(str(e))
            return None

    def raise_if_any(self) -> None:
        """One ``ConfigError`` for all: one line per error, by file and line."""
        if len(self.messages) == 1:
            raise ConfigError(self.messages[0])
        if self.messages:
            raise ConfigError(f"{len(self.messages)} errors:\n" + "\n".join(
                f"  {m}" for m in _by_place(self.messages)))


_PLACE = re.compile(r"(.*?):(\d+): ")


def _by_place(messages: list[str]) -> list[str]:
    """``messages`` by file (in the order files were first named) and line; those naming
    no line (an environment variable's) first, as found."""
    files: dict[str, int] = {}
    keys = []
    for message in messages:
        place = _PLACE.match(message)
        if place is None:
            keys.append((-1, 0))
        else:
            order = files.setdefault(place.group(1), len(files))
            keys.append((order, int(place.group(2))))
    return [m for _, m in sorted(zip(keys, messages, strict=True), key=lambda p: p[0])]


def raise_error(error: ConfigError) -> NoReturn:
    """Raise ``error`` (for a check written as a lambda)."""
    raise error
