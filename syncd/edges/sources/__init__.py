"""The source of truth: CSV or YAML files of desired stock, parsed once into values.

Everything past this package sees ``DesiredStock`` rows, never raw cells. A source is used
whole or not at all: by default any bad row refuses the file (``SourceError`` listing every
bad row as ``file:line: field: reason``) so that no write happens on a half-broken export,
and an empty file is always refused rather than read as "everything is out of stock".

    load_desired(source_settings) -> DesiredSource
    changed_keys(old, new)        -> set of targets whose desired value changed
"""

from __future__ import annotations

import csv
from dataclasses import replace
from pathlib import Path

from syncd.base.errors import SourceError
from syncd.edges.config.source import OnInvalidRow, SourceFormat, SourceSettings
from syncd.edges.sources.csvfile import read_csv
from syncd.edges.sources.jsonlfile import read_jsonl
from syncd.edges.sources.rows import DesiredRows, DesiredSource, InvalidRowsError, RowCollector
from syncd.edges.sources.xlsxfile import read_xlsx
from syncd.edges.sources.yamlfile import read_yaml

__all__ = [
    "DesiredRows",
    "DesiredSource",
    "InvalidRowsError",
    "changed_keys",
    "load_desired",
]


_READERS = {SourceFormat.CSV: read_csv, SourceFormat.YAML: read_yaml,
            SourceFormat.XLSX: read_xlsx, SourceFormat.JSONL: read_jsonl}


def load_desired(source: SourceSettings, *, on_invalid_row: OnInvalidRow | None = None,
                 file: Path | None = None) -> DesiredSource:
    """Read and check the whole source.

    ``on_invalid_row`` overrides the configured behaviour (``syncd validate`` uses ``skip``
    to list every bad row). ``file`` is read instead of ``source.path`` (the local copy of a
    remote feed), while messages still name the source. Raises ``SourceError``
    (``InvalidRowsError`` when rows are at fault) if the source must not be used.
    """
    name = source.name
    collector = RowCollector(name, source.rules)
    reader = _READERS[source.format]
    try:
        reader(source if file is None else replace(source, path=file), collector)
    except FileNotFoundError as e:
        raise SourceError(f"{name}: no such file") from e
    except OSError as e:
        raise SourceError(f"{name}: cannot read: {e.strerror or e}") from e
    except LookupError as e:  # unknown encoding name
        raise SourceError(f"{name}: {e}") from e
    except csv.Error as e:  # e.g. a cell over the csv module's field size limit
        raise SourceError(f"{name}: not readable as CSV: {e}") from e
    return collector.finish(on_invalid_row or source.on_invalid_row)


def changed_keys(old: DesiredSource, new: DesiredSource) -> set[str]:
    """Targets (``DesiredStock.key``) added, removed or given another value between two loads.

    The daemon's fast lane uses it to re-read and re-plan only what the edit touched.
    """
    before = {row.key: (row.quantity, row.in_stock) for row in old.rows}
    after = {row.key: (row.quantity, row.in_stock) for row in new.rows}
    changed = {key for key, value in after.items() if before.get(key, value) != value}
    changed |= after.keys() - before.keys()
    changed |= before.keys() - after.keys()
    return changed
