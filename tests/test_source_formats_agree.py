"""What a spreadsheet user exports reads the same way in every format, through the command.

Excel's "Unicode text" is UTF-16 with a byte-order mark; ``12.0`` is a whole number in a
CSV cell as in an XLSX one; a ``Qty`` column is a quantity waiting to be mapped, not a
column to ignore.
"""

from __future__ import annotations

import json

import pytest

from support.sync import run_syncd, write_config
from syncd.edges.config import SourceFormat, SourceSettings
from syncd.edges.sources import InvalidRowsError, load_desired
from syncd.frontends.commands.common import ExitCode


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-be", "utf-32"])
async def test_a_unicode_text_export_is_read_by_its_byte_order_mark(emulator, tmp_path, codec):
    emu = await emulator(catalog="v1", rate_limit=None)
    source = tmp_path / "stock.txt"
    text = "sku\tquantity\nTSHIRT-RED-M\t7\nMUG-CLASSIC\t12\n"
    bom = {"utf-16": b"", "utf-16-be": b"\xfe\xff", "utf-32": b""}[codec]
    source.write_bytes(bom + text.encode(codec))
    config = write_config(tmp_path, url=emu.url, source=source)
    code, out, err = await run_syncd("validate", "--config", str(config), "--output", "json")
    assert code == ExitCode.OK, err
    [site] = json.loads(out)["sites"]
    assert site["invalid_rows"] == []
    assert [s["rows"] for s in site["sources"]] == [2]


def test_a_whole_number_written_with_a_zero_fraction_is_that_number(tmp_path):
    path = tmp_path / "stock.csv"
    path.write_text("sku,quantity\nA,12.0\nB,3.00\nC,0.0\n")
    rows = load_desired(SourceSettings(path=path, format=SourceFormat.CSV)).rows
    assert {row.key: row.quantity for row in rows} == {"A": 12, "B": 3, "C": 0}


def test_a_fraction_is_still_refused(tmp_path):
    path = tmp_path / "stock.csv"
    path.write_text("sku,quantity\nA,12.5\n")
    with pytest.raises(InvalidRowsError, match=r"'12\.5' is not a whole number"):
        load_desired(SourceSettings(path=path, format=SourceFormat.CSV))


async def test_a_qty_column_suggests_mapping_it_not_ignoring_it(emulator, tmp_path):
    emu = await emulator(catalog="v1", rate_limit=None)
    source = tmp_path / "stock.csv"
    source.write_text("sku,Qty\nTSHIRT-RED-M,7\n")
    config = write_config(tmp_path, url=emu.url, source=source)
    code, out, err = await run_syncd("validate", "--config", str(config))
    assert code == ExitCode.FAILED
    assert "stock.csv:1: Qty: unknown column; if it holds the quantity, map it: " \
           "source.columns: {quantity: 'Qty'}" in out + err
