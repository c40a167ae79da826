"""A site's source is parsed again only when its bytes changed since the last read."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from syncd.base.errors import SourceError
from syncd.base.model import DesiredStock
from syncd.edges.config import SourceFormat, SourceSettings
from syncd.edges.sources import DesiredRows, DesiredSource, load_desired
from syncd.edges.sources import parsers as parsers_module
from syncd.edges.sources.cache import SourceCache
from syncd.edges.sources.parsers import ParsedFile, SourceParsers, parse_file


def settings(path: Path) -> SourceSettings:
    return SourceSettings(path=path, format=SourceFormat.CSV)


class CountingParsers(SourceParsers):
    """Parses in a thread, counting the parses."""

    def __init__(self) -> None:
        super().__init__(0)
        self.parses = 0

    async def parse(self, source: SourceSettings, file: Path | None = None) -> ParsedFile:
        self.parses += 1
        return await super().parse(source, file)


def values(src: DesiredSource) -> dict[str, int | None]:
    return {row.key: row.quantity for row in src.rows}


async def test_an_unchanged_source_is_not_parsed_again(tmp_path):
    path = tmp_path / "stock.csv"
    path.write_text("sku,quantity\nA,1\nB,2\n")
    parsers = CountingParsers()
    cache = SourceCache(parsers)

    first = await cache.read(settings(path))
    second = await cache.read(settings(path))

    assert parsers.parses == 1 and cache.hits == 1
    assert second is first


async def test_a_rewrite_keeping_size_and_timestamp_is_still_read(tmp_path):
    path = tmp_path / "stock.csv"
    path.write_text("sku,quantity\nA,1\n")
    stat = path.stat()
    parsers = CountingParsers()
    cache = SourceCache(parsers)
    await cache.read(settings(path))

    path.write_text("sku,quantity\nA,7\n")  # same size
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # same timestamp
    assert path.stat().st_size == stat.st_size

    assert values(await cache.read(settings(path))) == {"A": 7}
    assert parsers.parses == 2


async def test_a_file_replaced_by_a_copy_is_read_again(tmp_path):
    path = tmp_path / "stock.csv"
    path.write_text("sku,quantity\nA,1\n")
    cache = SourceCache()
    await cache.read(settings(path))

    fresh = tmp_path / "upload.csv"
    fresh.write_text("sku,quantity\nA,3\n")
    fresh.replace(path)

    assert values(await cache.read(settings(path))) == {"A": 3}


async def test_a_source_that_changes_while_it_is_parsed_is_not_kept(tmp_path, monkeypatch):
    path = tmp_path / "stock.csv"
    path.write_text("sku,quantity\nA,1\n")
    parsers = CountingParsers()
    cache = SourceCache(parsers)
    source = settings(path)

    def load_then_edit(source: SourceSettings, *, file: Path | None = None) -> DesiredSource:
        result = load_desired(source, file=file)
        path.write_text("sku,quantity\nA,2\n")  # an export finishing during the read
        return result

    with monkeypatch.context() as patched:
        patched.setattr(parsers_module, "load_desired", load_then_edit)
        assert values(await cache.read(source)) == {"A": 1}
    assert values(await cache.read(source)) == {"A": 2}
    assert parsers.parses == 2 and cache.hits == 0
    assert values(await cache.read(source)) == {"A": 2}
    assert parsers.parses == 2 and cache.hits == 1


def test_a_parse_reports_whether_the_file_stayed_the_same(tmp_path):
    path = tmp_path / "stock.csv"
    path.write_text("sku,quantity\nA,1\n")

    parsed = parse_file(settings(path))

    assert parsed.unchanged and parsed.before is not None
    assert parsed.before.size == path.stat().st_size and values(parsed.source) == {"A": 1}


async def test_a_bad_source_is_read_and_refused_at_every_cycle(tmp_path):
    path = tmp_path / "stock.csv"
    path.write_text("sku,quantity\nA,many\n")
    parsers = CountingParsers()
    cache = SourceCache(parsers)

    for _ in range(2):
        with pytest.raises(SourceError, match=r"stock\.csv"):
            await cache.read(settings(path))
    assert parsers.parses == 2


async def test_a_missing_source_is_reported_not_remembered(tmp_path):
    path = tmp_path / "stock.csv"
    path.write_text("sku,quantity\nA,1\n")
    cache = SourceCache()
    await cache.read(settings(path))
    path.unlink()

    with pytest.raises(SourceError, match="no such file"):
        await cache.read(settings(path))


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


async def test_a_cached_source_is_kept_compacted(tmp_path):
    path = tmp_path / "stock.csv"
    path.write_text("sku,quantity\nA,1\nB,2\n")
    cache = SourceCache()

    kept = await cache.read(settings(path))

    assert kept.rows.sku_column() is not kept.rows.sku_column()  # built afresh: compacted
    assert values(kept) == {"A": 1, "B": 2}


def test_a_kept_table_of_consecutive_lines_keeps_their_numbers():
    rows = [DesiredStock(sku=f"S{n}", product_id=None, variant_id=None, quantity=n,
                         in_stock=None, source="stock.csv", line=n + 2) for n in range(5)]
    table, compacted = DesiredRows.from_rows("stock.csv", rows), DesiredRows.from_rows(
        "stock.csv", rows)
    compacted.compact()

    assert [r.line for r in compacted] == [2, 3, 4, 5, 6]
    assert compacted == table and compacted[-1] == table[-1]
    compacted.append(DesiredStock(sku="late", product_id=None, variant_id=None, quantity=1,
                                  in_stock=None, source="stock.csv", line=40))
    assert [r.line for r in compacted] == [2, 3, 4, 5, 6, 40]


def test_a_kept_table_with_a_gap_in_its_lines_keeps_every_number(tmp_path):
    path = tmp_path / "stock.csv"
    path.write_text("sku,quantity\nA,1\n\nB,2\nC,3\n")

    kept = load_desired(settings(path))
    kept.rows.compact()

    assert [(r.sku, r.line) for r in kept.rows] == [("A", 2), ("B", 4), ("C", 5)]
