"""The YAML source: the mapping and record forms, with line numbers from the file."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from syncd.base.errors import SourceError
from syncd.edges.config import SourceFormat, SourceSettings
from syncd.edges.sources import InvalidRowsError, load_desired


def source(tmp_path: Path, text: str) -> SourceSettings:
    path = tmp_path / "stock.yaml"
    path.write_text(textwrap.dedent(text))
    return SourceSettings(path=path, format=SourceFormat.YAML)


def rows_of(tmp_path: Path, text: str) -> list[tuple[str, int | None, bool | None, int]]:
    src = load_desired(source(tmp_path, text))
    return [(r.key, r.quantity, r.in_stock, r.line) for r in src.rows]


def errors_of(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(InvalidRowsError) as info:
        load_desired(source(tmp_path, text))
    return [str(e).replace(str(tmp_path / "stock.yaml"), "stock.yaml") for e in info.value.errors]


def test_mapping_form_reads_quantities_and_availability_with_lines(tmp_path):
    assert rows_of(tmp_path, """\
        # comment
        TSHIRT-RED-M: 12
        STICKER-PACK: yes
        MUG-CLASSIC: {quantity: 3}
        POSTER: {in_stock: false}
        """) == [("TSHIRT-RED-M", 12, None, 2), ("STICKER-PACK", None, True, 3),
                 ("MUG-CLASSIC", 3, None, 4), ("POSTER", None, False, 5)]


def test_numeric_looking_skus_keep_their_text(tmp_path):
    # YAML 1.1 would read 0123 as octal 83 and 1:30 as 90; a SKU is the text as written.
    assert rows_of(tmp_path, "0123: 1\n'1:30': 2\n") == [("0123", 1, None, 1), ("1:30", 2, None, 2)]


def test_record_form_targets_by_sku_or_by_ids(tmp_path):
    assert rows_of(tmp_path, """\
        - {sku: A, quantity: 5}
        - sku: B
          in_stock: no
        - {product_id: P1, variant_id: V1, quantity: 0}
        """) == [("A", 5, None, 1), ("B", None, False, 2), ("P1/V1", 0, None, 4)]


@pytest.mark.parametrize(("text", "expected"), [
    ("A: -1\n", "stock.yaml:1: quantity: -1 is negative"),
    ("A: 2.5\n", "stock.yaml:1: quantity: '2.5' is not a whole number"),
    ("A: 100000\n", "stock.yaml:1: quantity: 100000 is over 99999"),
    ("A: [1]\n", "stock.yaml:1: quantity: expected a number or true/false, found a list"),
    ("A:\n", "stock.yaml:1: quantity: missing: give quantity or in_stock"),
    ("'': 3\n", "stock.yaml:1: sku: empty"),
    ("- {sku: A, quantity: 1, in_stock: true}\n", "stock.yaml:1: in_stock: give quantity or "
                                                   "in_stock, not both"),
    ("- {sku: A, qty: 1}\n", "stock.yaml:1: qty: unknown key"),
    ("- {quantity: 1}\n", "stock.yaml:1: sku: empty"),
    ("- just-a-string\n", "stock.yaml:1: row: expected a record"),
    ("- {sku: A,\n   quantity: x}\n", "stock.yaml:2: quantity: 'x' is not a whole number"),
])
def test_each_bad_row_is_reported_with_its_line(tmp_path, text, expected):
    messages = errors_of(tmp_path, text + ("B: 1\n" if not text.startswith("-") else
                                           "- {sku: B, quantity: 1}\n"))
    assert messages[0].startswith(expected), messages


def test_same_key_with_another_value_names_the_first_line(tmp_path):
    [message] = errors_of(tmp_path, "- {sku: A, quantity: 1}\n- {sku: B, quantity: 1}\n"
                                    "- {sku: A, quantity: 2}\n")
    assert message.startswith("stock.yaml:3: sku: A again with quantity 2, but line 1 says "
                              "quantity 1")


def test_repeated_mapping_key_is_refused(tmp_path):
    with pytest.raises(SourceError, match=r"stock.yaml:2: A: given twice \(first on line 1\)"):
        load_desired(source(tmp_path, "A: 1\nA: 2\n"))


@pytest.mark.parametrize("text", ["", "# nothing\n", "{}\n", "[]\n", "~\n"])
def test_empty_yaml_is_refused(tmp_path, text):
    with pytest.raises(SourceError, match="no data rows"):
        load_desired(source(tmp_path, text))


def test_broken_yaml_names_the_line(tmp_path):
    with pytest.raises(SourceError, match=r"stock.yaml:2: not valid YAML"):
        load_desired(source(tmp_path, "A: 1\n\tB: 2\n"))
