"""YAML read as a node graph, so every value keeps the line it came from.

PyYAML's constructors throw away where each value was written, and they apply YAML 1.1's
surprises (``0123`` is octal, ``1:30`` is ninety, ``no`` is False). Configuration and stock
files need the opposite: every error names a line, and a SKU or a site id stays exactly the
text the user typed. So syncd composes the node graph with the safe loader (no arbitrary
objects) and reads scalars as text; each caller converts that text to the type it expects
and reports a failure with the node's line.

Anchors and aliases work (the composer resolves them); merge keys (``<<``) are not
supported and are reported by callers as unknown keys. ``MapReader`` is the typed,
line-aware reading of a configuration mapping used by ``syncd.settings``.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from enum import StrEnum
from typing import TypeVar

import yaml

from syncd.errors import ConfigError

NULL_TAG = "tag:yaml.org,2002:null"
_LINE_BREAK = re.compile("\r\n|[\n\r\x85\u2028\u2029]")
BOOL_TAG = "tag:yaml.org,2002:bool"


class YamlSyntaxError(ValueError):
    """The text is not YAML, or a mapping repeats a key. ``line`` is 1-based when known."""

    def __init__(self, line: int | None, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


def compose(text: str) -> yaml.Node | None:
    """The node graph of ``text`` (None for an empty document)."""
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark is not None else None
        message = " ".join(part for part in (e.context, e.problem) if part) or "not valid YAML"
        raise YamlSyntaxError(line, f"not valid YAML: {message}") from e
    except yaml.reader.ReaderError as e:
        # A character YAML forbids (NUL, most control characters): the reader knows only its
        # position in the text, so count the line breaks before it, as YAML counts them.
        line = len(_LINE_BREAK.findall(text, 0, e.position)) + 1
        what = f"#x{e.character:04x}" if isinstance(e.character, int) else repr(e.character)
        raise YamlSyntaxError(line, f"not valid YAML: {e.reason} (character {what})") from e
    except yaml.YAMLError as e:
        raise YamlSyntaxError(None, f"not valid YAML: {e}") from e


def line_of(node: yaml.Node) -> int:
    """The 1-based line where ``node`` starts."""
    return int(node.start_mark.line) + 1


def is_null(node: yaml.Node) -> bool:
    """True for ``~``, ``null`` and an empty value (but not for a quoted empty string)."""
    return isinstance(node, yaml.ScalarNode) and node.tag == NULL_TAG


def scalar_text(node: yaml.Node) -> str | None:
    """The text of a scalar node as written, or None when the node is not a scalar."""
    if isinstance(node, yaml.ScalarNode):
        return str(node.value)
    return None


def kind_of(node: yaml.Node) -> str:
    """A short name for the node's kind, for error messages."""
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    return "a value"


def mapping_entries(node: yaml.MappingNode) -> list[tuple[str, yaml.Node, yaml.Node]]:
    """``(key text, key node, value node)`` per entry, in file order.

    Keys must be scalars, and a repeated key is an error: PyYAML would silently keep the last
    one, which in a config file hides a typo and in a stock file hides a conflict.
    """
    seen: dict[str, int] = {}
    entries: list[tuple[str, yaml.Node, yaml.Node]] = []
    for key_node, value_node in node.value:
        key = scalar_text(key_node)
        if key is None:
            raise YamlSyntaxError(line_of(key_node), "a key must be a plain value, not "
                                  f"{kind_of(key_node)}")
        if key in seen:
            raise YamlSyntaxError(
                line_of(key_node), f"{key}: given twice (first on line {seen[key]})"
            )
        seen[key] = line_of(key_node)
        entries.append((key, key_node, value_node))
    return entries


_INTEGER = re.compile(r"[+-]?[0-9]+")
_NUMBER = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")
_TRUE = frozenset({"true", "yes", "on"})
_FALSE = frozenset({"false", "no", "off"})

E = TypeVar("E", bound=StrEnum)


class MapReader:
    """A YAML mapping being read as configuration.

    Typed getters convert scalar text and, on failure, raise ``ConfigError`` as
    ``file:line: path.to.key: reason``. ``check_keys`` rejects unknown keys with a
    "did you mean" suggestion. Absent and null values both mean "use the default".
    """

    def __init__(self, file: str, node: yaml.Node | None, path: str, *, line: int = 1) -> None:
        self.file, self.path = file, path
        self.line = line_of(node) if node is not None else line
        if node is None or is_null(node):
            self.entries: dict[str, tuple[yaml.Node, yaml.Node]] = {}
            return
        if not isinstance(node, yaml.MappingNode):
            raise self.error(node, "", f"expected a mapping of keys, found {kind_of(node)}")
        try:
            self.entries = {k: (kn, vn) for k, kn, vn in mapping_entries(node)}
        except YamlSyntaxError as e:
            raise ConfigError(f"{file}:{e.line}: {path or 'top level'}: {e.message}") from e

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
                raise self.error(key_node, key, f"unknown key{hint} (known: {', '.join(known)})")

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
            raise self.error(node, key, f"expected a single value, found {kind_of(node)}")
        return text

    def string(self, key: str, default: str | None = None, *, required: str = "") -> str | None:
        """A string; ``required`` (an explanation) makes an absent key an error."""
        text = self.text(key)
        if text is None:
            if required:
                raise self.error(None, key, f"required: {required}")
            return default
        if not text.strip():
            raise self.error(self.node(key), key, "must not be empty")
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
        raise self.error(self.node(key), key, f"{reason}, not {text!r}")

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
        raise self.error(self.node(key), key, f"must be a number {bounds}, not {text!r}")

    def optional_number(self, key: str, *, positive: bool = False) -> float | None:
        return self.number(key, 0.0, positive=positive) if self.given(key) else None

    def boolean(self, key: str, default: bool) -> bool:
        text = self.text(key)
        if text is None:
            return default
        lowered = text.strip().lower()
        if lowered in _TRUE or lowered in _FALSE:
            return lowered in _TRUE
        raise self.error(self.node(key), key, f"must be true or false, not {text!r}")

    def choice(self, key: str, kind: type[E], default: E) -> E:
        text = self.text(key)
        if text is None:
            return default
        try:
            return kind(text.strip().lower())
        except ValueError:
            options = " | ".join(member.value for member in kind)
            raise self.error(self.node(key), key,
                             f"must be one of {options}, not {text!r}") from None

    def mapping(self, key: str) -> MapReader:
        """The nested mapping under ``key`` (empty when absent)."""
        return MapReader(self.file, self.node(key), self.key_path(key), line=self.line)

    def sequence(self, key: str) -> list[yaml.Node]:
        node = self.node(key)
        if node is None:
            return []
        if not isinstance(node, yaml.SequenceNode):
            raise self.error(node, key, f"expected a list, found {kind_of(node)}")
        return list(node.value)
