"""A site's source is parsed again only when its bytes changed since the last read."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from syncd.base.errors import SourceError
from syncd.base.model import DesiredStock
from syncd.edges.config import SourceFormat, SourceSettings
from syncd.edges.sources import DesiredRows, DesiredSource, load_desired
from syncd.edges.sources.cache import SourceCache


def settings(path: Path) -> SourceSettings:
    return SourceSettings(path=path, format=SourceFormat.CSV)


class CountingLoader:
    def __init__(self, source: SourceSettings) -> None:
        self.source = source
        self.loads = 0

    def __call__(self) -> DesiredSource:
        self.loads += 1
        return load_desired(self.source)


def values(src: DesiredSource) -> dict[str, int | None]:
    return {row.key: row.quantity for row in src.rows}


def test_an_unchanged_source_is_not_parsed_again(tmp_path):
    path = tmp_path / "stock.csv"
    path.write_text("sku,quantity\nA,1\nB,2\n")
    cache, load = SourceCache(), CountingLoader(settings(path))

    first = cache.read(path, load)
    second = cache.read(path, load)

    assert load.loads == 1 and cache.hits == 1
    assert second is first


def test_a_rewrite_keeping_size_and_timestamp_is_still_read(tmp_path):
    path = tmp_path / "stock.csv"
    path.write_text("sku,quantity\nA,1\n")
    stat = path.stat()
    cache, load = SourceCache(), CountingLoader(settings(path))
    cache.read(path, load)

    path.write_text("sku,quantity\nA,7\n")  # same size
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # same timestamp
    assert path.stat().st_size == stat.st_size

    assert values(cache.read(path, load)) == {"A": 7}
    assert load.loads == 2


def test_a_file_replaced_by_a_copy_is_read_again(tmp_path):
    path = tmp_path / "stock.csv"
    path.write_text("sku,quantity\nA,1\n")
    cache, load = SourceCache(), CountingLoader(settings(path))
    cache.read(path, load)

    fresh = tmp_path / "upload.csv"
    fresh.write_text("sku,quantity\nA,3\n")
    fresh.replace(path)

    assert values(cache.read(path, load)) == {"A": 3}


def test_a_source_that_changes_while_it_is_parsed_is_not_kept(tmp_path):
    path = tmp_path / "stock.csv"
    path.write_text("sku,quantity\nA,1\n")
    cache = SourceCache()
    source = settings(path)

    def load_then_edit() -> DesiredSource:
        result = load_desired(source)
        path.write_text("sku,quantity\nA,2\n")  # an export finishing during the read
        return result

    assert values(cache.read(path, load_then_edit)) == {"A": 1}
    load = CountingLoader(source)
    assert values(cache.read(path, load)) == {"A": 2}
    assert load.loads == 1 and cache.hits == 0


def test_a_bad_source_is_read_and_refused_at_every_cycle(tmp_path):
    path = tmp_path / "stock.csv"
    path.write_text("sku,quantity\nA,many\n")
    cache, load = SourceCache(), CountingLoader(settings(path))

    for _ in range(2):
        with pytest.raises(SourceError, match=r"stock\.csv"):
            cache.read(path, load)
    assert load.loads == 2


def test_a_missing_source_is_reported_not_remembered(tmp_path):
    path = tmp_path / "stock.csv"
    path.write_text("sku,quantity\nA,1\n")
    cache, load = SourceCache(), CountingLoader(settings(path))
    cache.read(path, load)
    path.unlink()

    with pytest.raises(SourceError, match="no such file"):
        cache.read(path, load)


def a_table() -> DesiredRows:
    rows = [
        DesiredStock(sku="A-1", product_id=None, variant_id=None, quantity=3, in_stock=None,
                     source="stock.csv", line=2),
        DesiredStock(sku=None, product_id="p-1", variant_id="v-1", quantity=None,
                     in_stock=True, source="stock.csv", line=3),
        DesiredStock(sku="Ünïcode-ß", product_id=None, variant_id=None, quantity=0,
                     in_stock=None, source="other.csv", line=4, note="values: 'none' = 0"),
        DesiredStock(sku="", product_id=None, variant_id=None, quantity=7, in_stock=None,
                     source="stock.csv", line=5),
        DesiredStock(sku="Z", product_id=None, variant_id=None, quantity=9, in_stock=None,
                     source="stock.csv", line=6),
    ]
    return DesiredRows.from_rows("stock.csv", rows, keep_origin=True)


def test_a_kept_source_reads_the_same_rows_once_compacted():
    table, compacted = a_table(), a_table()
    compacted.compact()

    assert list(compacted.sku_column()) == ["A-1", None, "Ünïcode-ß", "", "Z"]
    assert list(compacted) == list(table)
    assert compacted[2] == table[2] and compacted[-1] == table[-1]
    assert compacted.digest() == table.digest()
    assert compacted == table
    with pytest.raises(IndexError):
        compacted[5]


def test_a_compacted_table_takes_more_rows_and_keeps_them_in_order():
    table = a_table()
    table.compact()
    table.append(DesiredStock(sku="new", product_id=None, variant_id=None, quantity=1,
                              in_stock=None, source="stock.csv", line=7))

    assert list(table.sku_column()) == ["A-1", None, "Ünïcode-ß", "", "Z", "new"]
    assert table[5].quantity == 1 and table[4].sku == "Z"


def test_a_sku_holding_nul_keeps_its_table_uncompacted():
    table = DesiredRows.from_rows("stock.csv", [
        DesiredStock(sku="A\0B", product_id=None, variant_id=None, quantity=1, in_stock=None,
                     source="stock.csv", line=2),
        DesiredStock(sku="C", product_id=None, variant_id=None, quantity=2, in_stock=None,
                     source="stock.csv", line=3)])
    table.compact()

    assert list(table.sku_column()) == ["A\0B", "C"] and table[0].sku == "A\0B"


def test_a_cached_source_is_kept_compacted(tmp_path):
    path = tmp_path / "stock.csv"
    path.write_text("sku,quantity\nA,1\nB,2\n")
    cache = SourceCache()

    kept = cache.read(path, CountingLoader(settings(path)))

    assert kept.rows.sku_column() is not kept.rows.sku_column()  # built afresh: compacted
    assert values(kept) == {"A": 1, "B": 2}
