"""The JSON lines reader: one object per line, keys named like CSV columns.

    {"sku": "TSHIRT-RED-M", "quantity": 12}
    {"sku": "MUG-CLASSIC", "in_stock": false}

Read as a stream, one line at a time. Numbers, booleans and strings are turned into the
text a CSV cell would hold, so every value goes through the same checks and messages.
"""

from __future__ import annotations

import difflib
import json

from syncd.base.errors import SourceError
from syncd.edges.config.source import SourceSettings
from syncd.edges.sources.csvfile import file_encoding
from syncd.edges.sources.rows import RowCollector


def cell_text(value: object) -> str | None:
    """A JSON or spreadsheet value as cell text; None for a value that cannot be one."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int | float | str):
        return str(value).strip()
    return None


def read_jsonl(source: SourceSettings, collector: RowCollector) -> None:
    """Feed every line of the JSON lines file to ``collector``."""
    name = collector.source
    by_name = source.columns.field_for()
    try:
        with source.path.open(encoding=file_encoding(source.path, source.encoding)) as f:
            for number, line in enumerate(f, start=1):
                if line.strip():
                    _read_line(line, number, source, by_name, collector)
    except UnicodeDecodeError as e:
        raise SourceError(f"{name}: not {source.encoding} text ({e.reason} at byte {e.start}); "
                          "set source.encoding") from e


def _read_line(line: str, number: int, source: SourceSettings, by_name: dict[str, str],
               collector: RowCollector) -> None:
    try:
        record = json.loads(line)
    except ValueError as e:
        collector.data_rows += 1
        collector.error(number, "row", f"not JSON: {e}")
        return
    if not isinstance(record, dict):
        collector.data_rows += 1
        collector.error(number, "row", "expected an object like {\"sku\": ..., \"quantity\": ...}")
        return
    cells: dict[str, str] = {}
    bad = False
    for key, value in record.items():
        lowered = str(key).strip().lower()
        field = by_name.get(lowered)
        if field is None:
            if lowered in source.ignore_columns:
                continue
            close = difflib.get_close_matches(lowered, list(by_name), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            collector.error(number, str(key), f"unknown key{hint}; list keys to ignore in "
                            "source.ignore_columns")
            bad = True
            continue
        text = cell_text(value)
        if text is None:
            collector.error(number, str(key), f"expected a value, found {type(value).__name__}")
            bad = True
        elif text:
            cells[field] = text
    if bad:
        collector.data_rows += 1
        return
    collector.add(number, cells)
