"""Configuration mappings read with their lines: typed getters that fail as ``ConfigError``.

Every error names the file, the line and the key path (``syncd.yaml:7: sites[0].rate_limit:
...``); unknown keys get a "did you mean".

A reader given an ``ErrorList`` collects instead of raising: a getter that finds a bad value
records the error and returns the default, so that reading goes on and one run reports
every mistake of a section (the loader raises them together at the end). Mappings read
from it (``mapping``, ``child``) collect into the same list.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable
from enum import StrEnum
from typing import TypeVar

import yaml

from syncd.base.errors import ConfigError
from syncd.base.yamlnodes import (
    YamlSyntaxError,
    is_null,
    kind_of,
    line_of,
    mapping_entries,
    scalar_text,
)
from syncd.edges.config.errorlist import ErrorList

_INTEGER = re.compile(r"[+-]?[0-9]+")
_NUMBER = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")
_TRUE = frozenset({"true", "yes", "on"})
_FALSE = frozenset({"false", "no", "off"})

E = TypeVar("E", bound=StrEnum)
T = TypeVar("T")


class MapReader:
    """A YAML mapping being read as configuration.

    Typed getters convert scalar text and, on failure, raise ``ConfigError`` as
    ``file:line: path.to.key: reason``. ``check_keys`` rejects unknown keys with a
    "did you mean" suggestion. Absent and null values both mean "use the default".
    With ``errors``, a failure is recorded there instead and the default returned.
    """

    def __init__(self, file: str, node: yaml.Node | None, path: str, *, line: int = 1,
                 errors: ErrorList | None = None) -> None:
        self.file, self.path = file, path
        self.errors = errors
        self.line = line_of(node) if node is not None else line
        self.entries: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        if node is None or is_null(node):
            return
        if not isinstance(node, yaml.MappingNode):
            self.fail(self.error(node, "", f"expected a mapping of keys, found {kind_of(node)}"))
            return
        try:
            self.entries = {k: (kn, vn) for k, kn, vn in mapping_entries(node)}
        except YamlSyntaxError as e:
            self.fail(ConfigError(f"{file}:{e.line}: {path or 'top level'}: {e.message}"))

    def fail(self, error: ConfigError) -> None:
        """Record ``error`` when collecting, else raise it."""
        if self.errors is None:
            raise error
        self.errors.add(str(error))

    def collect(self, check: Callable[[], T]) -> T | None:
        """``check()``; when collecting, None after recording the ``ConfigError`` it raised
        (a check that cannot go on once one thing is wrong, such as a secret's)."""
        if self.errors is None:
            return check()
        return self.errors.run(check)

    def child(self, node: yaml.Node | None, path: str) -> MapReader:
        """Another mapping of the same file (a list entry), collecting as this one does."""
        return MapReader(self.file, node, path, line=self.line, errors=self.errors)

    def key_path(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path and key else (self.path or key)

    def error(self, node: yaml.Node | None, key: str, message: str) -> ConfigError:
        """A ConfigError for ``key`` (at ``node``'s line, else the mapping's)."""
        line = line_of(node) if node is not None else self.line
        return ConfigError(f"{self.file}:{line}: {self.key_path(key) or 'top level'}: {message}")

    def check_keys(self, allowed: Iterable[str]) -> None:
        """Every key must be one of ``allowed``."""
        known = list(allowed)
        for key, (key_node, _) in self.entries.items():
            if key not in known:
                close = difflib.get_close_matches(key, known, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                self.fail(self.error(key_node, key,
                                     f"unknown key{hint} (known: {', '.join(known)})"))

    def given(self, key: str) -> bool:
        """True when ``key`` is present with a non-null value."""
        entry = self.entries.get(key)
        return entry is not None and not is_null(entry[1])

    def node(self, key: str) -> yaml.Node | None:
        """The value node of ``key``, None when absent or null."""
        return self.entries[key][1] if self.given(key) else None

    def text(self, key: str) -> str | None:
        """The scalar text of ``key``, None when absent or null."""
        node = self.node(key)
        if node is None:
            return None
        text = scalar_text(node)
        if text is None:
            self.fail(self.error(node, key, f"expected a single value, found {kind_of(node)}"))
        return text

    def string(self, key: str, default: str | None = None, *, required: str = "") -> str | None:
        """A string; ``required`` (an explanation) makes an absent key an error."""
        text = self.text(key)
        if text is None:
            if required and self.node(key) is None:  # (a wrong value is reported already)
                self.fail(self.error(None, key, f"required: {required}"))
            return default
        if not text.strip():
            self.fail(self.error(self.node(key), key, "must not be empty"))
            return default
        return text.strip()

    def integer(self, key: str, default: int, *, minimum: int = 0,
                maximum: int | None = None) -> int:
        text = self.text(key)
        if text is None:
            return default
        if _INTEGER.fullmatch(text.strip()):
            value = int(text)
            if value >= minimum and (maximum is None or value <= maximum):
                return value
        if maximum is not None:
            reason = f"must be a whole number within {minimum}..{maximum}"
        elif minimum == 1:
            reason = "must be a positive integer"
        else:
            reason = f"must be a whole number, {minimum} or more"
        self.fail(self.error(self.node(key), key, f"{reason}, not {text!r}"))
        return default

    def number(self, key: str, default: float, *, positive: bool = False,
               maximum: float | None = None) -> float:
        """A non-negative number (seconds, fractions); ``positive`` excludes 0."""
        text = self.text(key)
        if text is None:
            return default
        if _NUMBER.fullmatch(text.strip()):
            value = float(text)
            if (value > 0 if positive else value >= 0) and (maximum is None or value <= maximum):
                return value
        bounds = f"within 0..{maximum:g}" if maximum is not None else (
            "above 0" if positive else "0 or more")
        self.fail(self.error(self.node(key), key, f"must be a number {bounds}, not {text!r}"))
        return default

    def optional_number(self, key: str, *, positive: bool = False) -> float | None:
        return self.number(key, 0.0, positive=positive) if self.given(key) else None

    def boolean(self, key: str, default: bool) -> bool:
        text = self.text(key)
        if text is None:
            return default
        lowered = text.strip().lower()
        if lowered in _TRUE or lowered in _FALSE:
            return lowered in _TRUE
        self.fail(self.error(self.node(key), key, f"must be true or false, not {text!r}"))
        return default

    def choice(self, key: str, kind: type[E], default: E) -> E:
        text = self.text(key)
        if text is None:
            return default
        try:
            return kind(text.strip().lower())
        except ValueError:
            options = " | ".join(member.value for member in kind)
            self.fail(self.error(self.node(key), key, f"must be one of {options}, not {text!r}"))
            return default

    def mapping(self, key: str) -> MapReader:
        """The nested mapping under ``key`` (empty when absent)."""
        return MapReader(self.file, self.node(key), self.key_path(key), line=self.line,
                         errors=self.errors)

    def sequence(self, key: str) -> list[yaml.Node]:
        node = self.node(key)
        if node is None:
            return []
        if not isinstance(node, yaml.SequenceNode):
            self.fail(self.error(node, key, f"expected a list, found {kind_of(node)}"))
            return []
        return list(node.value)
