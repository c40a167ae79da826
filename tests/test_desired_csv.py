"""The CSV source: dialects, encodings, and every kind of bad row reported as file:line."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from syncd.base.errors import SourceError
from syncd.base.model import DesiredStock
from syncd.core.diff import encode_value
from syncd.edges.config import Columns, OnInvalidRow, SourceFormat, SourceSettings
from syncd.edges.sources import DesiredRows, InvalidRowsError, changed_keys, load_desired


def source(tmp_path: Path, content: str | bytes, **options) -> SourceSettings:
    path = tmp_path / "stock.csv"
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return SourceSettings(path=path, format=SourceFormat.CSV, **options)


def values(src) -> dict[str, tuple[int | None, bool | None]]:
    return {row.key: (row.quantity, row.in_stock) for row in src.rows}


def errors_of(tmp_path: Path, content: str, **options) -> list[str]:
    with pytest.raises(InvalidRowsError) as info:
        load_desired(source(tmp_path, content, **options))
    prefix = str(tmp_path / "stock.csv")
    return [str(e).replace(prefix, "stock.csv") for e in info.value.errors]


class TestDialects:
    def test_plain_csv_is_read_with_line_numbers(self, tmp_path):
        src = load_desired(source(tmp_path, "sku,quantity\nA,1\nB,0\n"))
        assert values(src) == {"A": (1, None), "B": (0, None)}
        assert [row.line for row in src.rows] == [2, 3]
        assert src.rows[0] == DesiredStock("A", None, None, 1, None, str(tmp_path / "stock.csv"), 2)

    def test_utf8_bom_from_excel_is_ignored(self, tmp_path):
        src = load_desired(source(tmp_path, b"\xef\xbb\xbfsku,quantity\r\nA,1\r\n"))
        assert values(src) == {"A": (1, None)}

    @pytest.mark.parametrize("delimiter", [";", "\t", "|"])
    def test_delimiter_is_detected_from_the_header(self, tmp_path, delimiter):
        text = f"sku{delimiter}quantity\nA{delimiter}3\n"
        assert values(load_desired(source(tmp_path, text))) == {"A": (3, None)}

    def test_semicolon_csv_with_commas_in_quoted_cells(self, tmp_path):
        text = 'sku;quantity;name\nA;3;"Mug, large"\n'
        src = load_desired(source(tmp_path, text, ignore_columns=frozenset({"name"})))
        assert values(src) == {"A": (3, None)}

    def test_latin1_file_is_read_when_configured(self, tmp_path):
        content = "sku;quantity\nCAFÉ-MUG;4\n".encode("latin-1")
        src = load_desired(source(tmp_path, content, encoding="latin-1"))
        assert values(src) == {"CAFÉ-MUG": (4, None)}

    def test_latin1_file_read_as_utf8_says_to_set_the_encoding(self, tmp_path):
        content = "sku;quantity\nCAFÉ-MUG;4\n".encode("latin-1")
        with pytest.raises(SourceError, match=r"set source\.encoding"):
            load_desired(source(tmp_path, content))

    def test_configured_column_names_are_matched_case_insensitively(self, tmp_path):
        columns = Columns(sku="Article", quantity="On hand")
        src = load_desired(source(tmp_path, "ARTICLE,on hand\nA,7\n", columns=columns))
        assert values(src) == {"A": (7, None)}

    def test_in_stock_column_accepts_the_usual_spellings(self, tmp_path):
        text = "sku,in_stock\nA,yes\nB,No\nC,1\nD,0\nE,TRUE\nF,false\n"
        assert values(load_desired(source(tmp_path, text))) == {
            "A": (None, True), "B": (None, False), "C": (None, True), "D": (None, False),
            "E": (None, True), "F": (None, False)}

    def test_rows_may_target_product_and_variant_ids(self, tmp_path):
        text = "sku,product_id,variant_id,quantity\n,P1,V1,5\n,P2,,1\nA,,,2\n"
        src = load_desired(source(tmp_path, text))
        assert values(src) == {"P1/V1": (5, None), "P2": (1, None), "A": (2, None)}

    def test_blank_lines_are_skipped_and_line_numbers_stay_physical(self, tmp_path):
        src = load_desired(source(tmp_path, "\nsku,quantity\n\nA,1\n\nB,2\n"))
        assert [(r.sku, r.line) for r in src.rows] == [("A", 4), ("B", 6)]

    def test_same_key_twice_with_the_same_value_is_deduplicated(self, tmp_path):
        src = load_desired(source(tmp_path, "sku,quantity\nA,1\nA,1\n"))
        assert len(src.rows) == 1 and not src.errors


class TestBadRows:
    @pytest.mark.parametrize(("row", "expected"), [
        ("A,1.5,", "stock.csv:2: quantity: '1.5' is not a whole number"),
        ("A,ten,", "stock.csv:2: quantity: 'ten' is not a whole number"),
        ("A,-1,", "stock.csv:2: quantity: -1 is negative; stock levels start at 0"),
        ("A,100000,", "stock.csv:2: quantity: 100000 is over 99999, the most Wix accepts"),
        (",5,", "stock.csv:2: sku: empty: every row needs a sku (or a product_id)"),
        ("A,5,yes", "stock.csv:2: in_stock: give quantity or in_stock, not both"),
        ("A,,", "stock.csv:2: quantity: missing: give quantity or in_stock"),
        ("A,,maybe", "stock.csv:2: in_stock: 'maybe' is not one of true/false/yes/no/1/0"),
        ("A,1,,extra", "stock.csv:2: row: 4 cells, but the header has 3 columns"),
    ])
    def test_each_bad_row_kind_is_reported_as_file_line_field_reason(self, tmp_path, row,
                                                                      expected):
        [message] = errors_of(tmp_path, f"sku,quantity,in_stock\n{row}\nB,1,\n")
        assert message.startswith(expected)

    def test_same_key_with_another_value_reports_the_second_naming_the_first(self, tmp_path):
        [message] = errors_of(tmp_path, "sku,quantity\nA,1\nB,2\nA,3\n")
        assert message == ("stock.csv:4: sku: A again with quantity 3, but line 2 says "
                           "quantity 1; neither row is used")

    def test_unknown_column_is_reported_with_a_suggestion(self, tmp_path):
        message, missing = errors_of(tmp_path, "sku,quantty\nA,1\n")
        assert "needs a 'quantity'" in missing
        assert message.startswith("stock.csv:1: quantty: unknown column (did you mean "
                                  "'quantity'?)")

    def test_ignored_columns_are_allowed(self, tmp_path):
        src = load_desired(source(tmp_path, "sku,Name,quantity\nA,Mug,1\n",
                                  ignore_columns=frozenset({"name"})))
        assert values(src) == {"A": (1, None)}

    def test_header_without_a_value_column_is_refused(self, tmp_path):
        [message] = errors_of(tmp_path, "sku\nA\n")
        assert "stock.csv:1: header: needs a 'quantity' (or 'in_stock') column" in message

    def test_every_bad_row_is_listed_in_the_error(self, tmp_path):
        with pytest.raises(InvalidRowsError) as info:
            load_desired(source(tmp_path, "sku,quantity\nA,x\nB,1\nC,-2\n,3\n"))
        assert [e.line for e in info.value.errors] == [2, 4, 5]
        assert "3 invalid rows; nothing was written" in str(info.value)

    def test_skip_mode_returns_valid_rows_and_the_errors(self, tmp_path):
        src = load_desired(source(tmp_path, "sku,quantity\nA,x\nB,1\nC,-2\n",
                                  on_invalid_row=OnInvalidRow.SKIP))
        assert values(src) == {"B": (1, None)}
        assert [(e.line, e.field) for e in src.errors] == [(2, "quantity"), (4, "quantity")]

    def test_skip_mode_drops_both_rows_of_a_conflicting_key(self, tmp_path):
        src = load_desired(source(tmp_path, "sku,quantity\nA,1\nB,2\nA,3\n",
                                  on_invalid_row=OnInvalidRow.SKIP))
        assert values(src) == {"B": (2, None)}


class TestEmptyOrMissing:
    @pytest.mark.parametrize("content", ["", "\n\n", "sku,quantity\n", "sku,quantity\n\n,,\n"])
    def test_empty_source_is_refused_not_read_as_all_zero(self, tmp_path, content):
        with pytest.raises(SourceError, match=r"empty|no data rows"):
            load_desired(source(tmp_path, content))

    def test_source_of_only_bad_rows_is_refused_even_in_skip_mode(self, tmp_path):
        with pytest.raises(InvalidRowsError, match="no valid rows"):
            load_desired(source(tmp_path, "sku,quantity\nA,x\n", on_invalid_row=OnInvalidRow.SKIP))

    def test_missing_file_is_a_source_error(self, tmp_path):
        with pytest.raises(SourceError, match="no such file"):
            load_desired(SourceSettings(path=tmp_path / "nope.csv"))


class TestChangesBetweenLoads:
    def test_changed_keys_lists_added_removed_and_changed_targets(self, tmp_path):
        old = load_desired(source(tmp_path, "sku,quantity\nA,1\nB,2\nC,3\n"))
        new = load_desired(source(tmp_path, "sku,quantity\nA,1\nB,5\nD,4\n"))
        assert changed_keys(old, new) == {"B", "C", "D"}
        assert changed_keys(old, old) == set()

    def test_digest_ignores_order_and_formatting(self, tmp_path):
        one = load_desired(source(tmp_path, "sku,quantity\nA,1\nB,2\n"))
        two = load_desired(source(tmp_path, "sku;quantity\nB;2\n\nA;01\n"))
        three = load_desired(source(tmp_path, "sku,quantity\nA,1\nB,3\n"))
        assert one.digest() == two.digest() != three.digest()


class TestDesiredRows:
    def test_digest_follows_rows_appended_after_it_was_taken(self):
        table = DesiredRows.from_rows("s", [DesiredStock("A", None, None, 3, None, "s", 2)])
        before = table.digest()
        assert table.digest() == before
        table.append(DesiredStock("B", None, None, 1, None, "s", 3))
        again = DesiredRows.from_rows("s", [DesiredStock("A", None, None, 3, None, "s", 2),
                                            DesiredStock("B", None, None, 1, None, "s", 3)])
        assert table.digest() != before and table.digest() == again.digest()

    @pytest.mark.parametrize("rows", [
        [DesiredStock("B", None, None, 1, None, "s", 2),
         DesiredStock("A", None, None, 3, None, "s", 3)],
        [DesiredStock("A", None, None, 3, None, "s", 2),
         DesiredStock(None, "P", "V", None, False, "s", 3),
         DesiredStock(None, "Q", None, 0, True, "s", 4)],
        [],
    ], ids=["by sku", "by sku and ids", "empty"])
    def test_a_digest_keeps_its_value_across_versions(self, rows):
        # Digests are kept in state files and approvals: the recipe must not change.
        lines = sorted(f"sku\t{r.sku}\t{encode_value(r.quantity, r.in_stock)}" if r.sku else
                       f"id\t{r.product_id}\t{r.variant_id or ''}\t"
                       f"{encode_value(r.quantity, r.in_stock)}" for r in rows)
        expected = hashlib.sha256(b"".join(line.encode() + b"\n" for line in lines)).hexdigest()
        assert DesiredRows.from_rows("s", rows).digest() == expected

    def test_columnar_rows_behave_like_a_sequence_of_rows(self):
        rows = [DesiredStock("A", None, None, 3, None, "s", 2),
                DesiredStock(None, "P", "V", None, False, "s", 3),
                DesiredStock(None, "Q", None, None, True, "s", 4)]
        table = DesiredRows.from_rows("s", rows)
        assert list(table) == rows and len(table) == 3
        assert table[-1] == rows[-1] and table[0:2] == tuple(rows[:2])
        assert table == DesiredRows.from_rows("s", rows)


def test_a_cell_too_large_for_the_csv_reader_is_a_source_error(tmp_path):
    path = tmp_path / "stock.csv"
    path.write_text("sku,quantity\n\"" + "x" * 200_000 + "\",1\n")
    with pytest.raises(SourceError, match=r"stock\.csv: not readable as CSV"):
        load_desired(SourceSettings(path=path))


@pytest.mark.parametrize("header", ["sku,quantity", "quantity,sku"])
def test_a_two_column_file_reads_as_the_general_reader_reads_it(tmp_path, header):
    """Plain SKU-and-quantity rows take a quicker path; the result must not show it."""
    rows = [("A", "1"), (" B ", " 02 "), ("A", "3"), ("C", "100000"), ("D", "-1"),
            ("E", "x"), ("", "4"), ("F", ""), ("", ""), ('"G, g"', "5"), ("H", "99999")]

    def csv_text(with_location: bool) -> str:
        first = header + (",location" if with_location else "")
        lines = [first]
        for sku, quantity in rows:
            cells = (sku, quantity) if header.startswith("sku") else (quantity, sku)
            lines.append(",".join(cells) + ("," if with_location else ""))
        lines.insert(5, "")  # a blank line
        return "\n".join(lines) + "\n"

    def read(text: str, name: str):
        path = tmp_path / name
        path.write_text(text)
        settings = SourceSettings(path=path, on_invalid_row=OnInvalidRow.SKIP)
        desired = load_desired(settings)
        return ([(r.key, r.quantity, r.in_stock, r.line) for r in desired.rows],
                [(e.line, e.field, e.reason) for e in desired.errors])

    quick = read(csv_text(with_location=False), "quick.csv")
    general = read(csv_text(with_location=True), "general.csv")
    assert quick == general
    assert quick[0] and quick[1]  # both kinds of row are in the file
