"""The CSV reader: a header row, then one target and one value per row, read as a stream.

Spreadsheets export CSV in many dialects, so the reader detects the delimiter from the
header (``,`` ``;`` tab ``|``), accepts UTF-8 with or without Excel's byte-order mark, reads
UTF-16 and UTF-32 files by their byte-order mark (Excel's "Unicode text" is UTF-16 with
one), and reads other encodings when told. It never holds the file in memory: rows go one by one to
the ``RowCollector``, which keeps only the accepted values.
"""

from __future__ import annotations

import codecs
import csv
import difflib
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from syncd.base.errors import SourceError
from syncd.base.model import RowError
from syncd.base.textpos import bad_bytes_message
from syncd.edges.config.source import FIELDS, SourceSettings
from syncd.edges.sources.rows import InvalidRowsError, RowCollector

DELIMITERS = (",", ";", "\t", "|")
"""Candidates, in order of preference when the header contains several equally often."""


def detect_delimiter(header_line: str) -> str:
    """The candidate that occurs most often in the header line (``,`` when none does)."""
    counts = [(header_line.count(d), -i, d) for i, d in enumerate(DELIMITERS)]
    count, _, delimiter = max(counts)
    return delimiter if count else ","


BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"),
)
"""Byte-order marks that name their encoding (UTF-32's first: it starts like UTF-16 LE's)."""


def python_encoding(encoding: str) -> str:
    """The codec to open the file with: UTF-8 reads tolerate a byte-order mark."""
    if encoding.lower().replace("_", "-") in ("utf-8", "utf8"):
        return "utf-8-sig"
    return encoding


def file_encoding(path: Path, encoding: str) -> str:
    """The codec for ``path``: the one its UTF-16/32 byte-order mark names, which no
    configured encoding could read, else ``python_encoding(encoding)``."""
    try:
        with path.open("rb") as f:
            head = f.read(4)
    except OSError:
        head = b""
    for bom, codec in BOMS:
        if head.startswith(bom):
            return codec
    return python_encoding(encoding)


def read_csv(source: SourceSettings, collector: RowCollector) -> None:
    """Feed every data row of the CSV file to ``collector``."""
    name = collector.source
    encoding = file_encoding(source.path, source.encoding)
    try:
        with source.path.open(encoding=encoding, newline="") as f:
            _read(f, source, collector)
    except UnicodeDecodeError as e:
        where = bad_bytes_message(source.path, encoding)
        raise SourceError(
            f"{name}:{where}; the file is not {encoding}: set source.encoding to the one it "
            "was saved in (for example latin-1 or cp1252; a spreadsheet's 'CSV UTF-8' or "
            "'Unicode text' export needs none)") from e


def _read(f: TextIO, source: SourceSettings, collector: RowCollector) -> None:
    name = collector.source
    header_line, header_no = _first_non_blank(f)
    if header_line is None:
        raise SourceError(f"{name}: empty file: no header row and no data rows; refusing to "
                          "treat an empty source as 'everything is out of stock'")
    delimiter = source.delimiter or detect_delimiter(header_line)
    header = next(csv.reader([header_line], delimiter=delimiter))
    fields = map_header(header, header_no, source, name)

    reader = csv.reader(f, delimiter=delimiter)
    width = len(header)
    # A file of just a SKU and a quantity column, the common source: its plain rows skip the
    # general path's checks and dict (``RowCollector.add_plain`` takes or declines each).
    plain = (fields.index("sku"), fields.index("quantity")) \
        if width == 2 and set(fields) == {"sku", "quantity"} else None
    sku_at, quantity_at = plain or (0, 1)
    add_plain = collector.plain_adder()
    end = header_no  # physical line where the previous record ended
    for cells in reader:
        start, end = end + 1, header_no + reader.line_num
        if plain is not None and len(cells) == 2:
            sku, text = cells[sku_at].strip(), cells[quantity_at].strip()
            if sku and text and add_plain(start, sku, text):
                continue
        if not any(c.strip() for c in cells):
            continue  # blank line
        if len(cells) > width:
            collector.data_rows += 1
            collector.error(start, "row", f"{len(cells)} cells, but the header has {width} "
                            f"columns (delimiter {delimiter!r})")
            continue
        values: dict[str, str] = {}
        for i, cell in enumerate(cells):
            field = fields[i]
            text = cell.strip()
            if field is not None and text:
                values[field] = text
        collector.add(start, values)


def _first_non_blank(f: TextIO) -> tuple[str | None, int]:
    number = 0
    for line in _lines(f):
        number += 1
        if line.strip():
            return line.rstrip("\r\n"), number
    return None, number


def _lines(f: TextIO) -> Iterator[str]:
    # readline() rather than iteration, so that the csv reader can take over the same
    # file object right after the header.
    while line := f.readline():
        yield line


def map_header(header: list[str], line: int, source: SourceSettings,
                name: str) -> list[str | None]:
    """Field name per column (None for an ignored column); header problems are fatal."""
    by_name = source.columns.field_for()
    errors: list[RowError] = []
    fields: list[str | None] = []
    seen: dict[str, str] = {}
    for raw in header:
        column = raw.strip()
        lowered = column.lower()
        field = by_name.get(lowered)
        if field is None:
            if lowered not in source.ignore_columns:
                errors.append(RowError(name, line, column or "(empty)",
                                       _unknown_column(column, by_name)))
            fields.append(None)
            continue
        if field in seen:
            errors.append(RowError(name, line, column, f"column given twice (as {seen[field]!r})"))
        seen[field] = column
        fields.append(field)
    columns = source.columns
    if "sku" not in seen and "product_id" not in seen:
        errors.append(RowError(name, line, "header", f"needs a {columns.sku!r} (or "
                               f"{columns.product_id!r}) column; found {_quoted(header)}"))
    if "quantity" not in seen and "in_stock" not in seen:
        errors.append(RowError(name, line, "header", f"needs a {columns.quantity!r} (or "
                               f"{columns.in_stock!r}) column; found {_quoted(header)}"))
    if errors:
        raise InvalidRowsError(name, tuple(errors), why="the header row cannot be used")
    return fields


SYNONYMS = {
    "quantity": ("qty", "stock", "amount", "count", "inventory", "on hand", "onhand", "units",
                 "available", "level", "menge", "bestand", "quantité", "cantidad"),
    "sku": ("code", "item", "item code", "article", "artikel", "ref", "reference", "barcode",
            "ean", "product code", "variant sku"),
}
"""Column names that likely mean a field under another name: the error suggests mapping
them (``source.columns``) rather than ignoring them."""


def _unknown_column(column: str, by_name: dict[str, str]) -> str:
    lowered = column.lower()
    for field, words in SYNONYMS.items():
        if lowered in words or any(lowered.startswith(w + " ") for w in words):
            return (f"unknown column; if it holds the {field}, map it: source.columns: "
                    f"{{{field}: {column!r}}} (or list it in source.ignore_columns)")
    close = difflib.get_close_matches(lowered, list(by_name), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    known = ", ".join(sorted(by_name, key=lambda c: FIELDS.index(by_name[c])))
    return (f"unknown column{hint}; known: {known}; list columns to ignore in "
            "source.ignore_columns")


def _quoted(header: list[str]) -> str:
    return ", ".join(repr(c.strip()) for c in header) or "nothing"
