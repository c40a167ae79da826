"""The YAML reader: a ``SKU: quantity`` mapping, or a list of records.

Two shapes, because both are natural to write by hand::

    TSHIRT-RED-M: 12            # quantity
    MUG-CLASSIC: false          # in_stock (true/false/yes/no)
    POSTER-A2: {quantity: 3}

    - {sku: TSHIRT-RED-M, quantity: 12}
    - {product_id: 1f0c..., variant_id: 00000000-..., in_stock: true}

Values are read as the text written (``syncd.edges.sources.yamlnodes``), so they go through the
same checks as CSV cells and every message names the line of the offending value. PyYAML
builds the whole node graph in memory; stock files large enough for that to matter belong
in CSV, which is streamed.
"""

from __future__ import annotations

import difflib

import yaml

from syncd.base import yamlnodes
from syncd.base.errors import SourceError
from syncd.base.textpos import bad_bytes_message
from syncd.edges.config.source import SourceSettings
from syncd.edges.sources.csvfile import file_encoding
from syncd.edges.sources.rows import RowCollector


def read_yaml(source: SourceSettings, collector: RowCollector) -> None:
    """Feed every row of the YAML file to ``collector``."""
    name = collector.source
    try:
        text = source.path.read_text(encoding=file_encoding(source.path, source.encoding))
    except UnicodeDecodeError as e:
        where = bad_bytes_message(source.path, file_encoding(source.path, source.encoding))
        raise SourceError(f"{name}:{where}; set source.encoding") from e
    try:
        root = yamlnodes.compose(text)
        if root is None or yamlnodes.is_null(root):
            return  # the collector refuses an empty source
        if isinstance(root, yaml.MappingNode):
            _read_mapping(root, source, collector)
        elif isinstance(root, yaml.SequenceNode):
            _read_records(root, source, collector)
        else:
            raise SourceError(f"{name}:{yamlnodes.line_of(root)}: expected a mapping "
                              "'SKU: quantity' or a list of records, found a single value")
    except yamlnodes.YamlSyntaxError as e:
        where = f"{name}:{e.line}" if e.line else name
        raise SourceError(f"{where}: {e.message}") from e


def _read_mapping(root: yaml.MappingNode, source: SourceSettings,
                  collector: RowCollector) -> None:
    for sku, key_node, value in yamlnodes.mapping_entries(root):
        line = yamlnodes.line_of(key_node)
        if isinstance(value, yaml.MappingNode):
            _read_record(value, source, collector, line=line, sku=sku)
            continue
        cells: dict[str, str] = {}
        if sku.strip():
            cells["sku"] = sku.strip()
        text = yamlnodes.scalar_text(value)
        if text is None:
            collector.data_rows += 1
            collector.error(yamlnodes.line_of(value), "quantity",
                            f"expected a number or true/false, found {yamlnodes.kind_of(value)}")
            continue
        if not yamlnodes.is_null(value) and text.strip():
            # A YAML boolean (true/false/yes/no) is an availability, anything else a quantity.
            field = "in_stock" if value.tag == yamlnodes.BOOL_TAG else "quantity"
            cells[field] = text.strip()
        collector.add(line, cells, lines={"quantity": yamlnodes.line_of(value),
                                          "in_stock": yamlnodes.line_of(value)})


def _read_records(root: yaml.SequenceNode, source: SourceSettings,
                  collector: RowCollector) -> None:
    for item in root.value:
        line = yamlnodes.line_of(item)
        if not isinstance(item, yaml.MappingNode):
            collector.data_rows += 1
            collector.error(line, "row", "expected a record like {sku: ..., quantity: ...}, "
                            f"found {yamlnodes.kind_of(item)}")
            continue
        _read_record(item, source, collector, line=line, sku=None)


def _read_record(node: yaml.MappingNode, source: SourceSettings, collector: RowCollector,
                 *, line: int, sku: str | None) -> None:
    by_name = source.columns.field_for()
    cells: dict[str, str] = {}
    lines: dict[str, int] = {}
    if sku is not None and sku.strip():
        cells["sku"] = sku.strip()
    bad = False
    for key, key_node, value in yamlnodes.mapping_entries(node):
        field = by_name.get(key.strip().lower())
        if field is None or (sku is not None and field == "sku"):
            if key.strip().lower() in source.ignore_columns:
                continue
            close = difflib.get_close_matches(key.lower(), list(by_name), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            collector.error(yamlnodes.line_of(key_node), key, f"unknown key{hint}")
            bad = True
            continue
        text = yamlnodes.scalar_text(value)
        lines[field] = yamlnodes.line_of(value)
        if text is None:
            collector.error(lines[field], key,
                            f"expected a value, found {yamlnodes.kind_of(value)}")
            bad = True
        elif not yamlnodes.is_null(value) and text.strip():
            cells[field] = text.strip()
    if bad:
        collector.data_rows += 1
        return
    collector.add(line, cells, lines=lines)
