"""The XLSX reader: the first sheet (or ``source.sheet``), a header row, then data rows.

openpyxl's read-only mode streams the sheet's XML row by row, so a large workbook costs
memory for the accepted rows only. Cells are turned into the text a CSV cell would hold
(``12.0`` -> ``12``, TRUE -> ``true``), so the header rules and row checks are those of
CSV; "line" in messages is the spreadsheet's row number. Needs the ``xlsx`` extra.
"""

from __future__ import annotations

import zipfile
from typing import Any

from syncd.base.errors import SourceError
from syncd.edges.config.source import SourceSettings
from syncd.edges.sources.csvfile import map_header
from syncd.edges.sources.jsonlfile import cell_text
from syncd.edges.sources.rows import RowCollector


def read_xlsx(source: SourceSettings, collector: RowCollector) -> None:
    """Feed every data row of the workbook's sheet to ``collector``."""
    name = collector.source
    try:
        import openpyxl
    except ImportError:
        raise SourceError(f"{name}: reading XLSX needs openpyxl: pip install "
                          "'syncd[xlsx]'") from None
    # Opened as a file object: openpyxl judges a path by its extension, and the local copy
    # of a remote feed has none it knows.
    with source.path.open("rb") as f:
        try:
            book = openpyxl.load_workbook(f, read_only=True, data_only=True)
        except (zipfile.BadZipFile, KeyError, ValueError, OSError) as e:
            raise SourceError(f"{name}: not an XLSX workbook ({e})") from e
        _read_book(book, source, collector)


def _read_book(book: Any, source: SourceSettings, collector: RowCollector) -> None:
    name = collector.source
    try:
        if source.sheet is not None:
            if source.sheet not in book.sheetnames:
                raise SourceError(f"{name}: no sheet {source.sheet!r} (source.sheet); the "
                                  f"workbook has {', '.join(map(repr, book.sheetnames))}")
            sheet = book[source.sheet]
        else:
            sheet = book.worksheets[0]
        _read_rows(sheet.iter_rows(values_only=True), source, collector)
    finally:
        book.close()


def _read_rows(rows: Any, source: SourceSettings, collector: RowCollector) -> None:
    name = collector.source
    fields: list[str | None] | None = None
    for number, values in enumerate(rows, start=1):
        texts = [cell_text(v) for v in values]
        if not any(texts):
            continue
        if fields is None:
            header = [t or "" for t in texts]
            while header and not header[-1]:
                header.pop()
            fields = map_header(header, number, source, name)
            continue
        cells: dict[str, str] = {}
        for i, text in enumerate(texts):
            field = fields[i] if i < len(fields) else None
            if text is None:
                collector.data_rows += 1
                collector.error(number, field or f"column {i + 1}", "not a plain value")
                break
            if field is not None and text:
                cells[field] = text
        else:
            collector.add(number, cells)
    if fields is None:
        raise SourceError(f"{name}: empty sheet: no header row and no data rows; refusing to "
                          "treat an empty source as 'everything is out of stock'")
