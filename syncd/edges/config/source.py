"""What the readers need to know about a source of truth: where, which format, how strict.

Part of the configuration schema, so that the readers (``syncd.edges.sources``) depend on
nothing but values; the loader builds these from the configuration file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from syncd.base.model import LOCATION_SEPARATOR
from syncd.edges.config.feed import FeedSettings

FIELDS: tuple[str, ...] = ("sku", "product_id", "variant_id", "quantity", "in_stock",
                           "location")
"""The fields a row may give, in the order messages list them."""


class SourceFormat(StrEnum):
    """How the source file is written."""

    CSV = "csv"
    YAML = "yaml"
    XLSX = "xlsx"
    JSONL = "jsonl"

    @classmethod
    def for_path(cls, path: Path) -> SourceFormat | None:
        """The format implied by the file's extension, or None when it implies none."""
        suffix = path.suffix.lower()
        if suffix in (".csv", ".tsv", ".txt"):
            return cls.CSV
        if suffix in (".yaml", ".yml"):
            return cls.YAML
        if suffix in (".xlsx", ".xlsm"):
            return cls.XLSX
        if suffix in (".jsonl", ".ndjson"):
            return cls.JSONL
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

    location: str = "location"
    """Catalog V3: the stock location (its id) a row's SKU is written to; optional."""

    def field_for(self) -> dict[str, str]:
        """Lower-cased column name -> field name."""
        return {getattr(self, name).strip().lower(): name for name in FIELDS}


@dataclass(frozen=True, slots=True)
class QuantityRules:
    """The rules of one source; the defaults change nothing."""

    values: tuple[tuple[str, int | bool], ...] = ()
    """Lower-cased cell text -> quantity (int) or availability (bool)."""

    plus: bool = False
    """Read ``5+`` and ``>5`` as 5."""

    threshold: int = 0
    """Quantities below this read as 0."""

    percent: int = 100
    """Offer this percentage of each quantity, rounded down (1..100)."""

    @property
    def active(self) -> bool:
        return bool(self.values) or self.plus or self.threshold > 0 or self.percent != 100


@dataclass(frozen=True, slots=True)
class MatchRules:
    """How source and store SKUs are compared; the defaults compare them exactly."""

    case_insensitive: bool = False
    """``abc-01`` matches ``ABC-01``."""

    strip_prefix: tuple[str, ...] = ()
    """Prefixes removed from source SKUs (the first that matches)."""

    strip_suffix: tuple[str, ...] = ()
    """Suffixes removed from source SKUs (the first that matches)."""

    store_strip_prefix: tuple[str, ...] = ()
    """Prefixes removed from store SKUs."""

    store_strip_suffix: tuple[str, ...] = ()
    """Suffixes removed from store SKUs."""

    @property
    def active(self) -> bool:
        return (self.case_insensitive or bool(self.strip_prefix) or bool(self.strip_suffix)
                or bool(self.store_strip_prefix) or bool(self.store_strip_suffix))

    def source_key(self, sku: str) -> str:
        return self._key(sku, self.strip_prefix, self.strip_suffix)

    def store_key(self, sku: str) -> str:
        return self._key(sku, self.store_strip_prefix, self.store_strip_suffix)

    def _key(self, sku: str, prefixes: tuple[str, ...], suffixes: tuple[str, ...]) -> str:
        sku, separator, location = sku.partition(LOCATION_SEPARATOR)
        return self._sku_key(sku, prefixes, suffixes) + separator + location

    def _sku_key(self, sku: str, prefixes: tuple[str, ...], suffixes: tuple[str, ...]) -> str:
        fold = str.casefold if self.case_insensitive else str
        for prefix in prefixes:
            if fold(sku).startswith(fold(prefix)) and len(sku) > len(prefix):
                sku = sku[len(prefix):]
                break
        for suffix in suffixes:
            if fold(sku).endswith(fold(suffix)) and len(sku) > len(suffix):
                sku = sku[:len(sku) - len(suffix)]
                break
        return fold(sku)


class MergeRule(StrEnum):
    """How a site combines the rows of several sources naming one target."""

    FIRST = "first"
    SUM = "sum"
    MIN = "min"
    MAX = "max"


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

    sheet: str | None = None
    """XLSX: the sheet to read; None reads the first one."""

    rules: QuantityRules = field(default_factory=QuantityRules)
    """How supplier values ("In stock", "5+") become quantities (``syncd.edges.sources.rules``)."""

    feed: FeedSettings | None = None
    """Set when ``path`` is a URL: how the feed is fetched. ``path`` is then only a name."""

    @property
    def name(self) -> str:
        """How messages, plans and logs name the source (a URL without credentials)."""
        return self.feed.display if self.feed is not None else str(self.path)
