"""A site's source is parsed again only when its bytes changed since the last read."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from syncd.base.errors import SourceError
from syncd.edges.config import SourceFormat, SourceSettings
from syncd.edges.sources import DesiredSource, load_desired
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
