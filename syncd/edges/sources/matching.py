"""SKU matching rules: when a supplier writes ``sup-abc-01`` and the store says ``ABC-01``.

A site may match SKUs case-insensitively and strip prefixes or suffixes from the source's
SKUs, the store's, or both. Both sides are turned into a *match key* before the differ sees
them, so the differ's own rules still hold on the keys:

* two store variants whose SKUs give one key (``ABC`` and ``abc``) are an ambiguous SKU,
  reported and never written, exactly like two variants sharing a SKU;
* two source rows whose SKUs give one key are one target: the same value is harmless,
  different values are a conflict reported with both lines, and neither row is used.

A row whose SKU was changed by the rules says so in its note (the plan's reason column).
"""

from __future__ import annotations

from dataclasses import replace

from msgspec import structs

from syncd.base.errors import SourceError
from syncd.base.model import LOCATION_SEPARATOR, Catalog, RowError, StoreSnapshot
from syncd.edges.config.source import MatchRules, OnInvalidRow
from syncd.edges.sources.rows import DesiredRows, DesiredSource, InvalidRowsError, describe_value


def match_snapshot(snapshot: StoreSnapshot, rules: MatchRules) -> StoreSnapshot:
    """The store with every SKU replaced by its match key."""
    if not rules.active:
        return snapshot
    return replace(snapshot, variants=tuple(
        structs.replace(v, sku=rules.store_key(v.sku)) if v.sku else v for v in snapshot.variants))


def match_source(source: DesiredSource, rules: MatchRules,
                 on_invalid_row: OnInvalidRow) -> DesiredSource:
    """The source with every SKU replaced by its match key; rows that now collide with a
    different value are rejected (all of the source in ``fail`` mode)."""
    if not rules.active:
        return source
    table = DesiredRows(source.rows.source)
    first: dict[str, int] = {}
    conflicted: set[int] = set()
    errors = list(source.errors)
    for row in source.rows:
        if row.sku is None:
            table.append(row)
            continue
        key = rules.source_key(row.sku)
        if key != row.sku:
            note = f"sku {row.sku!r} matched as {key!r}"
            row = replace(row, sku=key, note="; ".join(n for n in (row.note, note) if n))
        position = first.get(key)
        if position is None:
            first[key] = len(table)
            table.append(row)
            continue
        earlier = table[position]
        if (earlier.quantity, earlier.in_stock) != (row.quantity, row.in_stock):
            conflicted.add(position)
            errors.append(RowError(row.source, row.line, "sku", (
                f"matches {key!r} like line {earlier.line} ({earlier.source}), with "
                f"{describe_value(row)} against {describe_value(earlier)}; neither row is "
                "used")))
    if conflicted:
        table = DesiredRows.from_rows(table.source, (
            r for i, r in enumerate(table) if i not in conflicted), keep_origin=True)
    if errors != list(source.errors) and on_invalid_row is OnInvalidRow.FAIL:
        raise InvalidRowsError(source.path, tuple(errors[len(source.errors):]), why=(
            "SKUs that match one store SKU disagree; nothing was written (fix them, or set "
            "source.on_invalid_row: skip)"))
    return DesiredSource(path=source.path, rows=table, errors=tuple(errors),
                         located=source.located)


def locate_snapshot(snapshot: StoreSnapshot) -> StoreSnapshot:
    """The store with each item's SKU qualified by its location (``SKU @ location``), for a
    source whose rows name locations: one walk of every location serves them all."""
    return replace(snapshot, variants=tuple(
        structs.replace(v, sku=f"{v.sku}{LOCATION_SEPARATOR}{v.location_id}")
        if v.sku and v.location_id else v for v in snapshot.variants))


def store_view(snapshot: StoreSnapshot, rules: MatchRules, *, located: bool) -> StoreSnapshot:
    """The store as the differ must see it: SKUs turned into match keys, and qualified by
    location when the source routes rows to locations."""
    if located and snapshot.catalog is not Catalog.V3:
        raise SourceError("the source's rows name stock locations, but the store runs "
                          f"Catalog {snapshot.catalog.value.upper()}, which has none; "
                          "nothing was written")
    snapshot = match_snapshot(snapshot, rules)
    return locate_snapshot(snapshot) if located else snapshot
