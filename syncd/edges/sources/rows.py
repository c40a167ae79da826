"""Turning raw cells into desired stock: the validation shared by the CSV and YAML readers.

Both readers hand text cells (already stripped; empty means absent) to a ``RowCollector``,
which checks each row, drops exact duplicates, reports conflicting ones and finally decides,
per ``on_invalid_row``, whether the source may be used at all. The readers only know their
file format; every rule about what a valid row is lives here.
"""

from __future__ import annotations

import hashlib
import re
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import overload

from syncd.base.errors import SourceError
from syncd.base.model import (
    LOCATION_SEPARATOR,
    MAX_QUANTITY,
    DesiredStock,
    RowError,
    decode_value,
    encode_value,
)
from syncd.edges.config.source import OnInvalidRow, QuantityRules
from syncd.edges.sources.rules import apply_number_rules, apply_text_rules

_INTEGER = re.compile(r"([+-]?[0-9]+)(?:\.0+)?")
"""A whole number; ``12.0`` is 12 in every format (a spreadsheet's number cell reads so)."""
_TRUE = frozenset({"true", "yes", "1"})
_FALSE = frozenset({"false", "no", "0"})
_MESSAGE_ROWS = 100
"""Bad rows quoted in a SourceError message; all of them stay on the exception."""


class DesiredRows(Sequence[DesiredStock]):
    """The valid rows of a source, stored by column.

    A million ``DesiredStock`` objects take about 180 MB; the same rows as columns (SKU
    list, value and line arrays) take about 80 MB, and the differ reads the columns directly
    (``syncd.core.diff.ColumnarRows``) without creating a row object per line. Indexing or
    iterating still yields ordinary ``DesiredStock`` values. Built once by a reader (or by
    ``from_rows``) and read-only afterwards.
    """

    __slots__ = ("_digest", "_first_line", "_ids", "_lines", "_notes", "_origins", "_sku_ends",
                 "_sku_text", "_skus", "_values", "source")

    def __init__(self, source: str) -> None:
        self.source = source
        self._skus: list[str | None] | None = []
        """One string per row, until ``compact()`` packs them into ``_sku_text``."""
        self._sku_text = ""
        """Every row's SKU ("" for rows by ids), joined by NUL, once compacted."""
        self._sku_ends = array("I")
        """Where each row's SKU ends in ``_sku_text``, once compacted."""
        self._values = array("i")
        self._lines = array("i")
        self._first_line: int | None = None
        """Once compacted, when row i is on line ``_first_line + i`` (a file without blank
        or multi-line rows, the common export): ``_lines`` is then left empty."""
        self._ids: dict[int, tuple[str, str | None]] = {}
        """Row index -> (product id, variant id), for the few rows that target by ids."""
        self._notes: dict[int, str] = {}
        """Row index -> the quantity rules that set its value (``syncd.edges.sources.rules``)."""
        self._origins: dict[int, str] = {}
        """Row index -> its file, for rows merged in from another source than ``source``."""
        self._digest: str | None = None
        """``digest()`` once computed; a daemon asks for it at every cycle of a source
        that the source cache hands back unchanged."""

    @classmethod
    def from_rows(cls, source: str, rows: Iterable[DesiredStock], *,
                  keep_origin: bool = False) -> DesiredRows:
        """A table holding ``rows``; their own ``source`` is replaced by ``source`` unless
        ``keep_origin`` (rows merged from several files keep their file)."""
        table = cls(source)
        for row in rows:
            table.append(row, keep_origin=keep_origin)
        return table

    def append(self, row: DesiredStock, *, keep_origin: bool = True) -> None:
        """Add a row (readers only); a row from another file than ``source`` keeps its file
        unless ``keep_origin`` is False."""
        skus, values, lines = self.sku_columns()
        index = len(skus)
        if keep_origin and row.source != self.source:
            self._origins[index] = row.source
        if row.sku is None:
            self._ids[index] = (row.product_id or "", row.variant_id)
        if row.note:
            self._notes[index] = row.note
        skus.append(row.sku)
        values.append(encode_value(row.quantity, row.in_stock))
        lines.append(row.line)

    def sku_columns(self) -> tuple[list[str | None], array[int], array[int]]:
        """The SKU, value and line columns, unpacked if compacted, for ``append`` and for
        ``RowCollector`` to add thousands of plain rows (a SKU, a quantity, from this
        table's own file) by appending to each, without building a row or calling a method
        a row. Valid until the table is next compacted; rows may be added through
        ``append`` in between. Only the collector building the table appends so, before
        anything reads it: a digest is computed once it is done."""
        self._digest = None
        skus = self._sku_list()
        if self._skus is None:
            self._skus, self._sku_text, self._sku_ends = skus, "", array("I")
        self._lines, self._first_line = self._line_column(), None
        return skus, self._values, self._lines

    def compact(self) -> None:
        """Pack the SKUs into one string and an array of offsets, for a table kept between
        cycles (the source cache): one object instead of one per row, about a third of the
        memory, and nothing for the garbage collector to walk. Line numbers that follow one
        another are kept as the first one. Reading stays the same; ``sku_column()`` then
        builds its list afresh for each call."""
        lines = self._lines
        if lines and lines == array("i", range(lines[0], lines[0] + len(lines))):
            self._first_line, self._lines = lines[0], array("i")
        skus = self._skus
        if skus is None:
            return
        text = "\0".join(sku or "" for sku in skus)
        if text.count("\0") != max(len(skus) - 1, 0):
            return  # a SKU holding NUL: keep the list
        ends, end = array("I"), -1
        for sku in skus:
            end += 1 + len(sku or "")
            ends.append(end)
        self._skus, self._sku_text, self._sku_ends = None, text, ends

    def _line_column(self) -> array[int]:
        first = self._first_line
        if first is None:
            return self._lines
        return array("i", range(first, first + len(self._values)))

    def _sku_list(self) -> list[str | None]:
        if self._skus is not None:
            return self._skus
        if not self._sku_ends:
            return []
        skus: list[str | None] = list(self._sku_text.split("\0"))
        for index in self._ids:
            skus[index] = None
        return skus

    def _sku(self, index: int) -> str | None:
        if self._skus is not None:
            return self._skus[index]
        if index in self._ids:
            return None
        ends = self._sku_ends
        return self._sku_text[ends[index - 1] + 1 if index else 0:ends[index]]

    def sku_column(self) -> Sequence[str | None]:
        """The SKU of each row (None for rows that target by ids)."""
        return self._sku_list()

    def value_column(self) -> Sequence[int]:
        """Each row's value, encoded as ``syncd.core.diff.encode_value`` does."""
        return self._values

    def signatures(self) -> Iterator[str]:
        """One line of text per row naming its target and value, for digests."""
        ids = self._ids
        for i, (sku, value) in enumerate(zip(self._sku_list(), self._values, strict=True)):
            if sku is not None:
                yield f"sku\t{sku}\t{value}"
            else:
                product_id, variant_id = ids[i]
                yield f"id\t{product_id}\t{variant_id or ''}\t{value}"

    def digest(self) -> str:
        """A SHA-256 of the rows' targets and values, independent of their order and of
        formatting (see ``DesiredSource.digest``); computed once per table."""
        if self._digest is None:
            if self._ids:
                lines = list(self.signatures())
            else:  # the common table, every row by SKU: the same lines, built in one pass
                lines = [f"sku\t{sku}\t{value}"
                         for sku, value in zip(self._sku_list(), self._values, strict=True)]
            lines.sort()
            lines.append("")  # every line ends with a newline
            self._digest = hashlib.sha256("\n".join(lines).encode()).hexdigest()
        return self._digest

    def __len__(self) -> int:
        return len(self._values)

    @overload
    def __getitem__(self, index: int) -> DesiredStock: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[DesiredStock, ...]: ...

    def __getitem__(self, index: int | slice) -> DesiredStock | tuple[DesiredStock, ...]:
        if isinstance(index, slice):
            return tuple(self[i] for i in range(*index.indices(len(self))))
        if index < 0:
            index += len(self._values)
        if not 0 <= index < len(self._values):
            raise IndexError(index)
        sku = self._sku(index)
        product_id, variant_id = self._ids[index] if sku is None else (None, None)
        quantity, in_stock = decode_value(self._values[index])
        return DesiredStock(sku=sku, product_id=product_id, variant_id=variant_id,
                            quantity=quantity, in_stock=in_stock,
                            source=self._origins.get(index, self.source),
                            line=self._lines[index] if self._first_line is None
                            else self._first_line + index,
                            note=self._notes.get(index, ""))

    def __iter__(self) -> Iterator[DesiredStock]:
        return (self[i] for i in range(len(self._values)))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DesiredRows):
            return NotImplemented
        return (self.source, self._sku_list(), self._values, self._line_column(), self._ids,
                self._notes, self._origins) == (
            other.source, other._sku_list(), other._values, other._line_column(), other._ids,
            other._notes, other._origins)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"DesiredRows({self.source!r}, {len(self)} rows)"




@dataclass(frozen=True, slots=True)
class DesiredSource:
    """The valid rows of one source file, the rejected ones, and where they came from."""

    path: str
    rows: DesiredRows
    errors: tuple[RowError, ...] = ()
    located: bool = False
    """True when rows name stock locations: their SKUs are then ``SKU @ location`` keys,
    matched against the store's items per location (``syncd.edges.sources.matching``)."""

    def digest(self) -> str:
        """A SHA-256 of the rows' targets and values, independent of their order and of
        formatting; equal digests mean the source asks for the same stock."""
        return self.rows.digest()


class InvalidRowsError(SourceError):
    """The source has bad rows (or nothing but bad rows); ``errors`` lists every one."""

    def __init__(self, path: str, errors: tuple[RowError, ...], *, why: str) -> None:
        shown = "\n".join(f"  {e}" for e in errors[:_MESSAGE_ROWS])
        more = len(errors) - _MESSAGE_ROWS
        tail = f"\n  ... and {more} more (syncd validate lists them all)" if more > 0 else ""
        super().__init__(f"{path}: {why}:\n{shown}{tail}")
        self.path = path
        self.errors = errors

    def __reduce__(self) -> tuple[object, ...]:
        # Whole, with every bad row, when a worker process sends it back
        # (``syncd.edges.sources.parsers``); the default would call __init__ with the message.
        return _restore_invalid_rows, (type(self), self.args, self.path, self.errors)


def _restore_invalid_rows(cls: type[InvalidRowsError], args: tuple[object, ...], path: str,
                          errors: tuple[RowError, ...]) -> InvalidRowsError:
    error = cls.__new__(cls)
    error.args = args
    error.path, error.errors = path, errors
    return error


def parse_quantity(text: str) -> int | str:
    """The quantity written as ``text``, or the reason it is not one."""
    match = _INTEGER.fullmatch(text)
    if match is None:
        return f"{text!r} is not a whole number"
    value = int(match.group(1))
    if value < 0:
        return f"{value} is negative; stock levels start at 0"
    if value > MAX_QUANTITY:
        return f"{value} is over {MAX_QUANTITY}, the most Wix accepts"
    return value


def parse_in_stock(text: str) -> bool | str:
    """The availability written as ``text``, or the reason it is not one."""
    lowered = text.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    return f"{text!r} is not one of true/false/yes/no/1/0"


def describe_value(row: DesiredStock) -> str:
    """``quantity 5`` or ``in_stock false``: how messages quote a row's value."""
    if row.quantity is not None:
        return f"quantity {row.quantity}"
    return f"in_stock {'true' if row.in_stock else 'false'}"


def _decline(line: int, sku: str, text: str) -> bool:
    """The plain path of a collector whose values all go through quantity rules."""
    return False


_Key = str | tuple[str, str | None]
"""A target: the SKU itself, or (product id, variant id)."""


class RowCollector:
    """Validates rows one at a time and builds the ``DesiredSource``.

    Holds only the accepted rows (one per target, as columns) and the errors, so a
    streaming reader keeps memory proportional to the result, not to the file.
    """

    def __init__(self, source: str, rules: QuantityRules | None = None) -> None:
        self.source = source
        self.rules = rules if rules is not None and rules.active else None
        self._table = DesiredRows(source)
        self._index: dict[_Key, int] = {}
        """Target -> its row's position in the table."""
        self._conflicted: set[int] = set()
        self._errors: list[RowError] = []
        self.data_rows = 0
        """Rows seen, valid or not (blank lines excluded)."""
        self.located = False
        """True once a row named a stock location."""
        self._unlocated = array("i")
        """Lines of SKU rows without a location (an error once any row has one)."""
        self._plain: Callable[[int, str, str], bool] | None = None
        """``plain_adder()`` once made."""

    def error(self, line: int, field: str, reason: str) -> None:
        """Record a rejected row."""
        self._errors.append(RowError(self.source, line, field, reason))

    def add_plain(self, line: int, sku: str, text: str) -> bool:
        """Take the common row, a SKU and a plain quantity up to 99999 (both non-empty and
        stripped), without the general path's row object; False, with nothing recorded, for
        anything else, which then goes through ``add``."""
        return self.plain_adder()(line, sku, text)

    def plain_adder(self) -> Callable[[int, str, str], bool]:
        """``add_plain`` as a function with the collector's columns bound, for a reader's
        loop over thousands of rows (line, SKU, quantity text)."""
        if self._plain is not None:
            return self._plain
        if self.rules is not None:  # every value goes through the rules: none is plain
            self._plain = _decline
            return _decline
        index, unlocated = self._index, self._unlocated.append
        skus, values, lines = self._table.sku_columns()
        add_sku, add_value, add_line = skus.append, values.append, lines.append

        def add_plain(line: int, sku: str, text: str) -> bool:
            if len(text) <= 5 and text.isascii() and text.isdigit() and sku not in index:
                self.data_rows += 1
                index[sku] = len(values)
                add_sku(sku)
                add_value(int(text))  # a plain quantity is its own encoded value
                add_line(line)
                unlocated(line)
                return True
            return False

        self._plain = add_plain
        return add_plain

    def add(self, line: int, cells: dict[str, str], *, lines: dict[str, int] | None = None) -> None:
        """Check one row. ``cells`` maps field name to its non-empty text; ``lines`` gives a
        line per field when the format knows one (YAML), else every field is on ``line``."""
        if len(cells) == 2:
            sku, text = cells.get("sku"), cells.get("quantity")
            if sku is not None and text is not None and self.add_plain(line, sku, text):
                return
        self.data_rows += 1

        def at(field: str) -> int:
            return lines.get(field, line) if lines else line

        before = len(self._errors)
        sku, product_id, variant_id = (
            cells.get("sku"), cells.get("product_id"), cells.get("variant_id")
        )
        if sku is not None and product_id is not None:
            self.error(at("product_id"), "product_id",
                       "give sku or product_id, not both: a row names one target")
        elif sku is None and product_id is None:
            if variant_id is not None:
                self.error(at("variant_id"), "product_id", "missing: variant_id needs product_id")
            else:
                self.error(line, "sku", "empty: every row needs a sku (or a product_id)")
        elif sku is not None and variant_id is not None:
            self.error(at("variant_id"), "variant_id", "only with product_id, not with sku")

        quantity, in_stock, note = self._value(cells, line, at)
        if len(self._errors) > before:
            return
        location = cells.get("location")
        if location is not None:
            if sku is None:
                self.error(at("location"), "location", "needs a sku: rows by product id "
                           "cannot be sent to a location")
                return
            self.located = True
            sku = f"{sku}{LOCATION_SEPARATOR}{location}"
        elif sku is not None:
            self._unlocated.append(line)
        key: _Key = sku if sku is not None else (product_id or "", variant_id)
        position = self._index.get(key)
        if position is None:
            self._index[key] = len(self._table)
            self._table.append(DesiredStock(
                sku=sku, product_id=product_id, variant_id=variant_id, quantity=quantity,
                in_stock=in_stock, source=self.source, line=line, note=note))
            return
        first = self._table[position]
        if first.quantity != quantity or first.in_stock != in_stock:
            # Neither row can be trusted over the other, so in skip mode both are dropped.
            self._conflicted.add(position)
            field = "sku" if sku is not None else "product_id"
            value = f"quantity {quantity}" if quantity is not None else (
                f"in_stock {'true' if in_stock else 'false'}")
            self.error(line, field, f"{first.key} again with {value}, but line "
                       f"{first.line} says {describe_value(first)}; neither row is used")
        # The same target with the same value again is harmless: keep the first.

    def _value(self, cells: dict[str, str], line: int,
               at: Callable[[str], int]) -> tuple[int | None, bool | None, str]:
        """The row's quantity or availability (errors recorded) and its quantity-rule note."""
        note = ""
        if self.rules is not None:
            cells, note = self._rewrite(cells)
        q_text, s_text = cells.get("quantity"), cells.get("in_stock")
        if q_text is not None and s_text is not None:
            self.error(at("in_stock"), "in_stock", "give quantity or in_stock, not both")
        elif q_text is not None:
            parsed_q, note = self._quantity(q_text, note)
            if isinstance(parsed_q, str):
                self.error(at("quantity"), "quantity", parsed_q)
            else:
                return parsed_q, None, note
        elif s_text is not None:
            parsed_s = parse_in_stock(s_text)
            if isinstance(parsed_s, str):
                self.error(at("in_stock"), "in_stock", parsed_s)
            else:
                return None, parsed_s, note
        else:
            self.error(line, "quantity", "missing: give quantity or in_stock")
        return None, None, note

    def _quantity(self, text: str, note: str) -> tuple[int | str, str]:
        """The quantity (or why it is none), after quantity rules 3-5, and the rule note."""
        parsed = parse_quantity(text)
        if isinstance(parsed, str) or self.rules is None:
            return parsed, note
        quantity, more = apply_number_rules(self.rules, parsed)
        return quantity, "; ".join(n for n in (note, more) if n)

    def _rewrite(self, cells: dict[str, str]) -> tuple[dict[str, str], str]:
        """Quantity rules 1-2 (``syncd.edges.sources.rules``) on the value cells of a row."""
        assert self.rules is not None
        out = {k: v for k, v in cells.items() if k not in ("quantity", "in_stock")}
        notes = []
        for field in ("quantity", "in_stock"):
            text = cells.get(field)
            if text is None:
                continue
            target, value, note = apply_text_rules(self.rules, field, text)
            out[target] = value
            if note:
                notes.append(note)
        return out, "; ".join(notes)

    def finish(self, on_invalid_row: OnInvalidRow) -> DesiredSource:
        """The source, or SourceError when it must not be used."""
        if self.located and self._unlocated:
            unlocated = set(self._unlocated)
            for line in self._unlocated:
                self.error(line, "location", "empty, but other rows name a location: give "
                           "every row one")
            self._conflicted |= {i for i, row in enumerate(self._table) if row.line in unlocated}
        errors = tuple(sorted(self._errors, key=lambda e: e.line))
        rows = self._table
        if self._conflicted:
            rows = DesiredRows.from_rows(self.source, (
                row for i, row in enumerate(self._table) if i not in self._conflicted))
        if errors and on_invalid_row is OnInvalidRow.FAIL:
            raise InvalidRowsError(self.source, errors, why=(
                f"{len(errors)} invalid row{'s' if len(errors) != 1 else ''}; nothing was "
                "written (fix them, or set source.on_invalid_row: skip)"))
        if not len(rows):
            if errors:
                raise InvalidRowsError(self.source, errors,
                                       why="no valid rows; nothing was written")
            raise SourceError(
                f"{self.source}: no data rows; refusing to treat an empty source as "
                "'everything is out of stock'")
        return DesiredSource(path=self.source, rows=rows, errors=errors, located=self.located)
