"""Where in a file a byte that is not valid text sits, as a line and column.

Python reports a decoding error as a byte offset (and, when reading through a text stream,
an offset into the chunk being decoded, not into the file). People look for lines: so
the file is decoded again as a whole and the offset turned into ``line L, column C``.
"""

from __future__ import annotations

from pathlib import Path


def bad_bytes_message(path: Path, encoding: str) -> str:
    """``L: column C: byte 0xe9 is not utf-8 (...)`` for the first undecodable byte of
    ``path``, to follow ``file:`` as every located message does (a plain description when
    the file now decodes or cannot be read)."""
    try:
        data = path.read_bytes()
        data.decode(encoding)
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        column = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        bad = data[e.start:e.end].hex(" ")
        return f"{line}: column {column}: byte 0x{bad} is not {encoding} ({e.reason})"
    except OSError as e:
        return f" cannot read ({e.strerror or e})"
    return f" not {encoding} text"
