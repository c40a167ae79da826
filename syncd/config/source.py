"""What the readers need to know about a source of truth: where, which format, how strict.

Part of the configuration schema, so that the readers (``syncd.sources``) depend on
nothing but values; the loader builds these from the configuration file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

FIELDS: tuple[str, ...] = ("sku", "product_id", "variant_id", "quantity", "in_stock")
"""The fields a row may give, in the order messages list them."""


class SourceFormat(StrEnum):
    """How the source file is written."""

    CSV = "csv"
    YAML = "yaml"

    @classmethod
    def for_path(cls, path: Path) -> SourceFormat | None:
        """The format implied by the file's extension, or None when it implies none."""
        suffix = path.suffix.lower()
        if suffix in (".csv", ".tsv", ".txt"):
            return cls.CSV
        if suffix in (".yaml", ".yml"):
            return cls.YAML
        return None


class OnInvalidRow(StrEnum):
    """What to do when some rows of the source are invalid."""

    FAIL = "fail"
    """Refuse the whole source: no write happens until the file is fixed (the safe default)."""

    SKIP = "skip"
    """Use the valid rows, report the invalid ones."""


class SourceMode(StrEnum):
    """How much of the store the source speaks for."""

    FULL = "full"
    """The source lists the whole catalogue it manages (the usual export)."""

    PARTIAL = "partial"
    """The source lists only some rows, such as those that changed: only the rows present
    are in scope, variants it does not list are never zeroed (whatever
    ``policy.unmatched`` says), the changed-fraction guard measures against the store's
    variants rather than the few rows listed, and the row-count comparisons with the last
    run (source shrink, matched rows) do not apply."""


@dataclass(frozen=True, slots=True)
class Columns:
    """The column (CSV) or key (YAML records) that holds each field.

    Defaults are the field names themselves; change them to read a spreadsheet export
    without renaming its header. Matching is case-insensitive and ignores surrounding spaces.
    """

    sku: str = "sku"
    """Names the variant by its SKU (the usual way)."""

    product_id: str = "product_id"
    """Names the product by its Wix id; for products without SKUs."""

    variant_id: str = "variant_id"
    """With ``product_id``: names one variant of a product with options."""

    quantity: str = "quantity"
    """Units in stock, 0..99999."""

    in_stock: str = "in_stock"
    """Availability without a number: true/false/yes/no/1/0."""

    def field_for(self) -> dict[str, str]:
        """Lower-cased column name -> field name."""
        return {getattr(self, name).strip().lower(): name for name in FIELDS}


@dataclass(frozen=True, slots=True)
class SourceSettings:
    """One source of truth: a CSV or YAML file of desired stock levels."""

    path: Path
    """The file. Relative paths in the configuration file are relative to that file."""

    format: SourceFormat = SourceFormat.CSV
    """``csv`` or ``yaml``; the configuration defaults it from the file's extension."""

    on_invalid_row: OnInvalidRow = OnInvalidRow.FAIL
    """``fail`` (default) refuses the whole file when any row is bad, so a half-broken export
    never reaches the store; ``skip`` uses the good rows and reports the bad ones."""

    encoding: str = "utf-8"
    """Text encoding. ``utf-8`` also accepts a byte-order mark (Excel writes one); spreadsheet
    exports from older tools may need ``latin-1`` or ``cp1252``."""

    columns: Columns = field(default_factory=Columns)
    """Column (CSV) or record key (YAML) names."""

    delimiter: str | None = None
    """CSV field delimiter; None detects it from the header among ``,`` ``;`` tab and ``|``."""

    mode: SourceMode = SourceMode.FULL
    """``full`` (default) or ``partial`` (a file of only some rows; see ``SourceMode``)."""

    ignore_columns: frozenset[str] = frozenset()
    """Lower-cased CSV columns (or YAML record keys) to ignore, such as ``name`` or ``price``
    in a spreadsheet export. Any other unknown column is an error, because a misspelt
    ``quantity`` column must not read as "no quantities"."""
