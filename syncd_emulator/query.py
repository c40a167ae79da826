"""Wix query filters and sorts: parsing, validation and evaluation.

Two dialects share one engine. Catalog V1 sends ``filter`` and ``sort`` as JSON documents
*encoded in strings* (``"{\\"numericId\\": {\\"$gt\\": \\"15989\\"}}"``); V3 and the V1
"platformized" and Store Variants queries send JSON objects. Either way a filter is compiled
once per request into a predicate over the records an endpoint serves, with the fields that
endpoint declares: an undeclared field or an operator the field does not allow is a 400,
never a silent match-all. Values are coerced per field kind, so ``numericId`` compares
numerically whether the client sent ``"1598…"`` or ``1598…``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")
Predicate = Callable[[T], bool]

COMPARE_OPS = frozenset({"$gt", "$gte", "$lt", "$lte"})
V1_TEXT_OPS = frozenset({"$eq", "$ne", "$hasSome", "$contains", "$startsWith"})
V1_ID_OPS = frozenset({"$eq", "$ne", "$hasSome"})
V1_RANGE_OPS = V1_ID_OPS | COMPARE_OPS
V1_LIST_OPS = frozenset({"$eq", "$ne", "$hasSome", "$hasAll"})
V3_OPS = frozenset({"$eq", "$ne", "$in", "$nin", "$hasSome", "$exists"}) | COMPARE_OPS
V3_TEXT_OPS = V3_OPS | {"$startsWith"}
V3_LIST_OPS = frozenset({"$hasSome", "$hasAll", "$exists"})
LOGICAL_OPS = frozenset({"$and", "$or", "$not"})


class QueryError(Exception):
    """A malformed or unsupported filter/sort; routes answer it with a 400."""

    def __init__(self, field: str, description: str) -> None:
        super().__init__(f"{field}: {description}")
        self.field = field
        self.description = description


@dataclass(frozen=True, slots=True)
class Field(Generic[T]):
    """A filterable field: how to read it from a record, its kind and allowed operators.

    ``kind`` is ``str``, ``int``, ``float``, ``bool`` or ``list`` (a list of strings, matched
    by membership). Dates are ``str``: ISO-8601 strings in one format sort correctly.
    """

    get: Callable[[T], Any]
    kind: str
    ops: frozenset[str]
    sortable: bool = False


Resolver = Callable[[str], "Field[T] | None"]
"""Looks a field name up for one endpoint (a function, so ``options.<name>`` can be dynamic)."""

SortSpec = list[tuple[str, bool]]
"""Sort keys as ``(field, descending)``, most significant first."""


def resolver(fields: Mapping[str, Field[T]]) -> Resolver[T]:
    """A resolver over a fixed table of fields."""
    return fields.get


# -- V1 string dialect ----------------------------------------------------------------------


def parse_json_string(value: object, *, field: str, expect: type) -> Any:
    """Decode a V1 filter/sort string; an object where a string belongs is a 400 too."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise QueryError(field, "must be a JSON document encoded as a string")
    try:
        decoded = json.loads(value)
    except ValueError as e:
        raise QueryError(field, f"is not valid JSON: {e}") from None
    if not isinstance(decoded, expect):
        raise QueryError(field, f"must encode a JSON {'object' if expect is dict else 'array'}")
    return decoded


def parse_v1_sort(value: object, *, field: str = "query.sort") -> SortSpec:
    """Both documented spellings: ``[{"numericId": "asc"}]`` and ``[{"fieldName", "order"}]``."""
    decoded = parse_json_string(value, field=field, expect=list)
    return parse_sort_list(decoded or [], field=field)


def parse_sort_list(value: object, *, field: str) -> SortSpec:
    """A sort array (object dialect, or already decoded from a V1 string)."""
    if not isinstance(value, list):
        raise QueryError(field, "must be an array of {fieldName, order}")
    result: SortSpec = []
    for entry in value:
        if not isinstance(entry, dict):
            raise QueryError(field, "each sort entry must be an object")
        if "fieldName" in entry:
            name, order = entry["fieldName"], entry.get("order", "ASC")
        elif len(entry) == 1:
            ((name, order),) = entry.items()
        else:
            raise QueryError(field, "each sort entry needs fieldName and order")
        if not isinstance(name, str) or not isinstance(order, str):
            raise QueryError(field, "fieldName and order must be strings")
        if order.upper() not in ("ASC", "DESC"):
            raise QueryError(field, f"order must be ASC or DESC, not {order!r}")
        result.append((name, order.upper() == "DESC"))
    return result


# -- compiling filters ----------------------------------------------------------------------


def compile_filter(
    filter_doc: object, fields: Resolver[T], *, field: str = "query.filter"
) -> Predicate[T] | None:
    """A predicate for ``filter_doc``, or None when there is nothing to filter on."""
    if filter_doc is None or filter_doc == {}:
        return None
    if not isinstance(filter_doc, dict):
        raise QueryError(field, "must be a JSON object")
    return _compile_and(filter_doc, fields, field)


def _compile_and(doc: dict[str, Any], fields: Resolver[T], where: str) -> Predicate[T]:
    parts = [_compile_entry(key, value, fields, where) for key, value in doc.items()]
    return _all_of(parts)


def _all_of(parts: list[Predicate[T]]) -> Predicate[T]:
    """Conjunction; one and two parts avoid a generator per record (hot on big stores)."""
    if len(parts) == 1:
        return parts[0]
    if len(parts) == 2:
        first, second = parts
        return lambda record: first(record) and second(record)
    return lambda record: all(p(record) for p in parts)


def _compile_entry(key: str, value: Any, fields: Resolver[T], where: str) -> Predicate[T]:
    if key in LOGICAL_OPS:
        return _compile_logical(key, value, fields, where)
    if key.startswith("$"):
        raise QueryError(where, f"unknown operator {key}")
    spec = fields(key)
    if spec is None:
        raise QueryError(where, f"Field '{key}' is not declared as filterable")
    if isinstance(value, dict) and value and all(k.startswith("$") for k in value):
        parts = [_compile_op(key, spec, op, arg, where) for op, arg in value.items()]
    else:
        parts = [_compile_op(key, spec, "$eq", value, where)]
    return _all_of(parts)


def _compile_logical(op: str, value: Any, fields: Resolver[T], where: str) -> Predicate[T]:
    if op == "$not":
        if not isinstance(value, dict):
            raise QueryError(where, "$not takes an object")
        inner = _compile_and(value, fields, where)
        return lambda record: not inner(record)
    if not isinstance(value, list) or not value or not all(isinstance(v, dict) for v in value):
        raise QueryError(where, f"{op} takes a non-empty array of objects")
    parts = [_compile_and(v, fields, where) for v in value]
    if op == "$and":
        return lambda record: all(p(record) for p in parts)
    return lambda record: any(p(record) for p in parts)


def _compile_op(name: str, spec: Field[T], op: str, arg: Any, where: str) -> Predicate[T]:
    if op not in spec.ops:
        raise QueryError(where, f"operator {op} is not supported for field '{name}'")
    get = spec.get
    if op == "$exists":
        if not isinstance(arg, bool):
            raise QueryError(where, "$exists takes true or false")
        return lambda r: (get(r) is not None) == arg
    if op in ("$hasSome", "$in", "$nin", "$hasAll"):
        if not isinstance(arg, list):
            raise QueryError(where, f"{op} on '{name}' takes an array")
        values = frozenset(_coerce(name, spec.kind, v, where) for v in arg)
        return _compile_set_op(get, op, values, is_list=spec.kind == "list")
    value = _coerce(name, spec.kind, arg, where)
    if spec.kind == "list":
        if op == "$ne":
            return lambda r: value not in (get(r) or ())
        return lambda r: value in (get(r) or ())
    if op == "$eq":
        return lambda r: get(r) == value
    if op == "$ne":
        return lambda r: get(r) != value
    if op in ("$contains", "$startsWith"):
        needle = str(value).lower()
        if op == "$contains":
            return lambda r: needle in str(get(r) or "").lower()
        return lambda r: str(get(r) or "").lower().startswith(needle)
    return _compile_compare(get, op, value)


def _compile_set_op(
    get: Callable[[T], Any], op: str, values: frozenset[Any], *, is_list: bool
) -> Predicate[T]:
    """``$in``/``$hasSome`` (SQL IN), ``$nin`` and ``$hasAll``; list fields match by overlap."""
    if is_list:
        if op == "$hasAll":
            return lambda r: values.issubset(get(r) or ())
        if op == "$nin":
            return lambda r: values.isdisjoint(get(r) or ())
        return lambda r: not values.isdisjoint(get(r) or ())
    if op == "$nin":
        return lambda r: get(r) not in values
    return lambda r: get(r) in values


def _compile_compare(get: Callable[[T], Any], op: str, value: Any) -> Predicate[T]:
    if op == "$gt":
        return lambda r: (v := get(r)) is not None and v > value
    if op == "$gte":
        return lambda r: (v := get(r)) is not None and v >= value
    if op == "$lt":
        return lambda r: (v := get(r)) is not None and v < value
    return lambda r: (v := get(r)) is not None and v <= value


def _coerce(name: str, kind: str, value: Any, where: str) -> Any:
    """Check and convert one filter value to the field's kind (int64 may come as a string)."""
    if kind == "int":
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str):
            try:
                return int(value)
            except ValueError:
                pass
        raise QueryError(where, f"'{name}' takes a whole number, not {value!r}")
    if kind == "float":
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        raise QueryError(where, f"'{name}' takes a number, not {value!r}")
    if kind == "bool":
        if isinstance(value, bool):
            return value
        raise QueryError(where, f"'{name}' takes true or false, not {value!r}")
    if isinstance(value, str):
        return value
    raise QueryError(where, f"'{name}' takes a string, not {value!r}")


# -- sorting --------------------------------------------------------------------------------


def check_sort(sort: SortSpec, fields: Resolver[T], *, field: str = "query.sort") -> None:
    """400 for a sort on an unknown or non-sortable field."""
    for name, _ in sort:
        spec = fields(name)
        if spec is None or not spec.sortable:
            raise QueryError(field, f"Field '{name}' is not declared as sortable")


def sort_records(records: Iterable[T], sort: SortSpec, fields: Resolver[T]) -> list[T]:
    """``records`` ordered by ``sort`` (stable: ties keep the incoming order)."""
    result = list(records)
    for name, descending in reversed(sort):
        spec = fields(name)
        assert spec is not None  # checked by check_sort
        result.sort(key=_key_function(spec.get), reverse=descending)
    return result


def _key_function(get: Callable[[T], Any]) -> Callable[[T], tuple[int, Any]]:
    # Missing values sort first ascending (last descending), never compared with values.
    def key(record: T) -> tuple[int, Any]:
        value = get(record)
        return (0, 0) if value is None else (1, value)

    return key
