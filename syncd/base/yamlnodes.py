"""YAML read as a node graph, so every value keeps the line it came from.

PyYAML's constructors throw away where each value was written, and they apply YAML 1.1's
surprises (``0123`` is octal, ``1:30`` is ninety, ``no`` is False). Configuration and stock
files need the opposite: every error names a line, and a SKU or a site id stays exactly the
text the user typed. So syncd composes the node graph with the safe loader (no arbitrary
objects) and reads scalars as text; each caller converts that text to the type it expects
and reports a failure with the node's line.

Anchors and aliases work (the composer resolves them, and content reached through an
alias is marked at the alias, so errors name the line that uses it); merge keys (``<<``) are not
supported and are reported by callers as unknown keys. ``syncd.edges.config.reader`` builds the
typed, line-aware reading of a configuration mapping on top of this module.
"""

from __future__ import annotations

import re

import yaml

NULL_TAG = "tag:yaml.org,2002:null"
_LINE_BREAK = re.compile("\r\n|[\n\r\x85\u2028\u2029]")
BOOL_TAG = "tag:yaml.org,2002:bool"


class YamlSyntaxError(ValueError):
    """The text is not YAML, or a mapping repeats a key. ``line`` is 1-based when known."""

    def __init__(self, line: int | None, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


class _AliasLineLoader(yaml.SafeLoader):
    """The safe loader, except that an alias (``*name``) gives a copy of its anchor's nodes
    marked at the alias: an error in aliased content names the line that uses it."""

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
            node = super().compose_node(parent, index)
            return None if node is None else _marked_copy(node, mark)
        return super().compose_node(parent, index)


def _marked_copy(node: yaml.Node, mark: yaml.Mark) -> yaml.Node:
    """``node`` and everything below it, copied with ``mark`` as their position."""
    if isinstance(node, yaml.ScalarNode):
        return yaml.ScalarNode(node.tag, node.value, mark, mark, style=node.style)
    if isinstance(node, yaml.SequenceNode):
        return yaml.SequenceNode(node.tag, [_marked_copy(n, mark) for n in node.value],
                                 mark, mark, flow_style=node.flow_style)
    if isinstance(node, yaml.MappingNode):
        return yaml.MappingNode(node.tag, [(_marked_copy(k, mark), _marked_copy(v, mark))
                                           for k, v in node.value],
                                mark, mark, flow_style=node.flow_style)
    return node


_FAST_LOADER: type[yaml.CSafeLoader] | None = getattr(yaml, "CSafeLoader", None)
"""libyaml's safe loader, when PyYAML was built with it: it composes the same nodes, with
the same marks, about five times faster (a fleet of 10,000 site files is read at every
start of the daemon)."""


def compose(text: str) -> yaml.Node | None:
    """The node graph of ``text`` (None for an empty document).

    A text without ``*`` holds no alias, so libyaml composes it when PyYAML has it; a text
    libyaml refuses is composed again by the pure-Python loader, whose messages are the
    ones reported."""
    if _FAST_LOADER is not None and "*" not in text:
        try:
            return yaml.compose(text, Loader=_FAST_LOADER)
        except yaml.YAMLError:
            pass  # the pure-Python loader says what is wrong, as with every other text
    try:
        return yaml.compose(text, Loader=_AliasLineLoader)
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
