"""Collecting configuration errors, so that one run reports every mistake of a file."""

from __future__ import annotations

from collections.abc import Callable
from typing import NoReturn, TypeVar

from syncd.base.errors import ConfigError

T = TypeVar("T")


class ErrorList:
    """The configuration errors found so far, raised together as one ``ConfigError``."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def run(self, check: Callable[[], T]) -> T | None:
        """``check()``, or None after recording the ``ConfigError`` it raised."""
        try:
            return check()
        except ConfigError as e:
            self.messages.append(str(e))
            return None

    def raise_if_any(self) -> None:
        if len(self.messages) == 1:
            raise ConfigError(self.messages[0])
        if self.messages:
            raise ConfigError(f"{len(self.messages)} errors:\n" + "\n".join(
                f"  {m}" for m in self.messages))


def raise_error(error: ConfigError) -> NoReturn:
    """Raise ``error`` (for a check written as a lambda)."""
    raise error
