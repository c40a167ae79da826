"""Text from user files and the network, made safe to print on a terminal.

A header with ANSI escape codes, NUL bytes from a binary file read as latin-1, or a 2 KB
line must not reach the operator's terminal raw: control characters are escaped the way
Python writes them (``\\x1b``, ``\\x00``) and long values are cut with an ellipsis.
"""

from __future__ import annotations

import re

VALUE_MAX_CHARS = 120
"""A single value (a cell, a key, a body excerpt) is cut after this many characters."""

LINE_MAX_CHARS = 400
"""A line of a message is cut after this many characters."""

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_CONTROL_OR_NEWLINE = re.compile(
    r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    if match.group() in _NAMED:
        return _NAMED[match.group()]
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def cut(text: str, limit: int) -> str:
    """``text``, cut to ``limit`` characters with an ellipsis when longer."""
    return text if len(text) <= limit else text[: max(0, limit - 1)] + "…"


def safe_value(text: str, limit: int = VALUE_MAX_CHARS) -> str:
    """One value on one line: every control character (newlines too) escaped, then cut."""
    return cut(_CONTROL_OR_NEWLINE.sub(_escape, text), limit)


def safe_text(text: str, line_limit: int = LINE_MAX_CHARS) -> str:
    """A message of several lines: control characters escaped (newlines and tabs kept),
    each line cut to ``line_limit``."""
    return "\n".join(cut(_CONTROL.sub(_escape, line), line_limit)
                     for line in text.split("\n"))
