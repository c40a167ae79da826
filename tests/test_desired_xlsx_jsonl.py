"""XLSX workbooks and JSON lines files as sources: same rules and messages as CSV."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest

from syncd.base.errors import SourceError
from syncd.edges.config import Columns, OnInvalidRow, SourceFormat, SourceSettings
from syncd.edges.sources import InvalidRowsError, load_desired


def _workbook(path: Path, sheets: dict[str, list[list[object]]]) -> Path:
    book = openpyxl.Workbook()
    book.remove(book.active)
    for title, rows in sheets.items():
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    book.save(path)
    return path


def _values(src) -> dict[str, tuple[int | None, bool | None]]:
    return {row.key: (row.quantity, row.in_stock) for row in src.rows}


def test_the_first_sheet_of_a_workbook_is_read_with_numbers_as_quantities(tmp_path):
    path = _workbook(tmp_path / "stock.xlsx", {
        "Stock": [["SKU", "Qty", "Name"], ["A-1", 5, "Mug"], [None, None, None],
                  ["B-2", 7.0, "Cup"], ["C-3", None, "Hat"]],
        "Other": [["sku", "quantity"], ["Z", 1]]})
    src = SourceSettings(path=path, format=SourceFormat.XLSX,
                         columns=Columns(sku="SKU", quantity="Qty"),
                         ignore_columns=frozenset({"name"}))
    with pytest.raises(InvalidRowsError) as caught:
        load_desired(src)
    assert [str(e) for e in caught.value.errors] == [
        f"{path}:5: quantity: missing: give quantity or in_stock"]
    valid = load_desired(src, on_invalid_row=OnInvalidRow.SKIP)
    assert _values(valid) == {"A-1": (5, None), "B-2": (7, None)}
    assert [r.line for r in valid.rows] == [2, 4]


def test_a_named_sheet_is_read_and_booleans_are_availability(tmp_path):
    path = _workbook(tmp_path / "stock.xlsx", {
        "Summary": [["nothing here"]],
        "Stock": [["sku", "in_stock"], ["A-1", True], ["B-2", False]]})
    src = SourceSettings(path=path, format=SourceFormat.XLSX, sheet="Stock")
    assert _values(load_desired(src)) == {"A-1": (None, True), "B-2": (None, False)}


def test_an_unknown_sheet_names_the_sheets_there_are(tmp_path):
    path = _workbook(tmp_path / "stock.xlsx", {"Stock": [["sku", "quantity"], ["A", 1]]})
    with pytest.raises(SourceError, match=r"no sheet 'Stok'.*'Stock'"):
        load_desired(SourceSettings(path=path, format=SourceFormat.XLSX, sheet="Stok"))


def test_a_file_that_is_not_a_workbook_is_refused(tmp_path):
    path = tmp_path / "stock.xlsx"
    path.write_text("sku,quantity\nA,1\n")
    with pytest.raises(SourceError, match="not an XLSX workbook"):
        load_desired(SourceSettings(path=path, format=SourceFormat.XLSX))


def test_an_empty_sheet_is_refused(tmp_path):
    path = _workbook(tmp_path / "stock.xlsx", {"Stock": []})
    with pytest.raises(SourceError, match="empty sheet"):
        load_desired(SourceSettings(path=path, format=SourceFormat.XLSX))


def test_json_lines_are_read_one_object_per_line(tmp_path):
    path = tmp_path / "stock.jsonl"
    path.write_text('{"sku": "A-1", "quantity": 5}\n\n{"sku": "B-2", "in_stock": false}\n'
                    '{"sku": "C-3", "quantity": 4.0, "price": 9.5}\n')
    src = SourceSettings(path=path, format=SourceFormat.JSONL,
                         ignore_columns=frozenset({"price"}))
    assert _values(load_desired(src)) == {"A-1": (5, None), "B-2": (None, False),
                                          "C-3": (4, None)}


def test_bad_json_lines_are_reported_by_line(tmp_path):
    path = tmp_path / "stock.jsonl"
    path.write_text('{"sku": "A-1", "quantity": 5}\nnot json\n[1, 2]\n'
                    '{"sku": "B", "qty": 1}\n{"sku": "C", "quantity": [1]}\n'
                    '{"sku": "D", "quantity": 2.5}\n')
    with pytest.raises(InvalidRowsError) as caught:
        load_desired(SourceSettings(path=path, format=SourceFormat.JSONL))
    found = [(e.line, e.field) for e in caught.value.errors]
    assert found == [(2, "row"), (3, "row"), (4, "qty"), (5, "quantity"), (6, "quantity")]


def test_formats_follow_the_file_extension():
    assert SourceFormat.for_path(Path("a.xlsx")) is SourceFormat.XLSX
    assert SourceFormat.for_path(Path("a.jsonl")) is SourceFormat.JSONL
    assert SourceFormat.for_path(Path("a.ndjson")) is SourceFormat.JSONL
