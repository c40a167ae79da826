"""Offset and cursor paging, with the limits Wix enforces.

V1 endpoints page by ``limit``/``offset`` (limit <= 100; offsets from 10,000 on fail, which
is why clients crawl by numericId). V3 queries page by cursor: the first request carries
``filter``/``sort``, follow-ups only the cursor, which bakes filter, sort and position in
(a cursor sent together with a filter or sort is a 400). Cursors are opaque base64url text;
the emulator keeps no server-side cursor state, so they survive a restart or reset.
"""

from __future__ import annotations

import base64
import json
import zlib
from dataclasses import dataclass
from typing import Any

from syncd_emulator.error_answers import validation_error

MAX_OFFSET = 10_000
"""Offsets at or past this fail (Wix: query endpoints are built for about 10k items)."""


@dataclass(frozen=True, slots=True)
class Page:
    """Where a page starts and how long it is, plus the query it belongs to."""

    limit: int
    offset: int
    filter: Any = None
    sort: Any = None
    extra: Any = None


def offset_paging(
    paging: object, *, where: str, max_limit: int = 100, default_limit: int = 100,
    max_offset: int = MAX_OFFSET,
) -> tuple[int, int]:
    """``(limit, offset)`` from a ``{"limit", "offset"}`` object, validated; offsets from
    ``max_offset`` on fail."""
    if paging is None:
        return default_limit, 0
    if not isinstance(paging, dict):
        raise validation_error(where, "must be an object with limit and offset", rule="FORMAT")
    limit = _int(paging.get("limit"), f"{where}.limit", default=default_limit)
    offset = _int(paging.get("offset"), f"{where}.offset", default=0)
    check_limit(limit, f"{where}.limit", max_limit=max_limit)
    if offset < 0:
        raise validation_error(f"{where}.offset", "must not be negative", rule="MIN",
                               data={"threshold": 0})
    if offset >= max_offset:
        raise validation_error(
            f"{where}.offset",
            f"must be less than {max_offset}; page by numericId instead",
            rule="MAX",
            data={"threshold": max_offset - 1},
        )
    return limit, offset


def check_limit(limit: int, where: str, *, max_limit: int) -> None:
    """400 unless ``0 <= limit <= max_limit``."""
    if limit > max_limit:
        raise validation_error(where, f"must not be greater than {max_limit}", rule="MAX",
                               data={"threshold": max_limit})
    if limit < 0:
        raise validation_error(where, "must not be negative", rule="MIN", data={"threshold": 0})


def cursor_paging(
    query: dict[str, Any],
    *,
    kind: str,
    where: str,
    max_limit: int,
    default_limit: int,
    extra: Any = None,
) -> Page:
    """The page a cursor-paged query asks for (first page or a follow-up)."""
    paging = query.get("cursorPaging")
    if paging is None:
        paging = {}
    if not isinstance(paging, dict):
        raise validation_error(f"{where}.cursorPaging", "must be an object", rule="FORMAT")
    cursor = paging.get("cursor")
    limit_given = paging.get("limit")
    if cursor in (None, ""):
        limit = _int(limit_given, f"{where}.cursorPaging.limit", default=default_limit)
        check_limit(limit, f"{where}.cursorPaging.limit", max_limit=max_limit)
        return Page(limit=limit, offset=0, filter=query.get("filter"), sort=query.get("sort"),
                    extra=extra)
    if query.get("filter") or query.get("sort"):
        raise validation_error(
            f"{where}.cursorPaging.cursor",
            "cannot be combined with filter or sort: the cursor already holds them",
            rule="OTHER",
        )
    page = decode_cursor(cursor, kind=kind, where=f"{where}.cursorPaging.cursor")
    if limit_given is not None:
        limit = _int(limit_given, f"{where}.cursorPaging.limit", default=page.limit)
        check_limit(limit, f"{where}.cursorPaging.limit", max_limit=max_limit)
        page = Page(limit=limit, offset=page.offset, filter=page.filter, sort=page.sort,
                    extra=page.extra)
    return page


def encode_cursor(page: Page, *, kind: str, offset: int) -> str:
    """A cursor for the page of ``page``'s query starting at ``offset``."""
    raw = json.dumps(
        {"k": kind, "o": offset, "l": page.limit, "f": page.filter, "s": page.sort,
         "x": page.extra},
        separators=(",", ":"),
    ).encode()
    return base64.urlsafe_b64encode(zlib.compress(raw)).decode().rstrip("=")


def decode_cursor(cursor: object, *, kind: str, where: str) -> Page:
    """The page a cursor stands for; 400 for anything not issued by this endpoint."""
    if not isinstance(cursor, str):
        raise validation_error(where, "must be a string", rule="FORMAT")
    try:
        raw = zlib.decompress(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        data = json.loads(raw)
        if data["k"] != kind:
            raise ValueError(kind)
        return Page(limit=int(data["l"]), offset=int(data["o"]), filter=data["f"],
                    sort=data["s"], extra=data["x"])
    except (ValueError, KeyError, TypeError, zlib.error):
        raise validation_error(where, "is not a cursor issued by this query",
                               rule="FORMAT") from None


def expire_once(page: Page, *, kind: str, where: str, expired: set[str]) -> None:
    """The ``expiring_cursor`` switch: the first follow-up of each query (kind, filter, sort)
    is refused as expired; the query asked again from its first page is then served."""
    key = json.dumps([kind, page.filter, page.sort, page.extra], sort_keys=True)
    if key in expired:
        return
    expired.add(key)
    raise validation_error(where, "has expired: start the query again from its first page",
                           rule="EXPIRED")


def paging_metadata(
    page: Page, *, kind: str, total: int, returned: int, has_next_field: bool,
    keep_last_cursor: bool = False,
) -> dict[str, Any]:
    """``pagingMetadata`` (V3) / the cursor part of ``metadata`` for one page;
    ``keep_last_cursor``: the last page still points past itself (``cursor_on_last_page``)."""
    end = page.offset + returned
    next_cursor = (encode_cursor(page, kind=kind, offset=end)
                   if end < total or keep_last_cursor else None)
    prev_cursor = (
        encode_cursor(page, kind=kind, offset=max(0, page.offset - page.limit))
        if page.offset > 0 else None
    )
    meta: dict[str, Any] = {"count": returned,
                            "cursors": {"next": next_cursor, "prev": prev_cursor}}
    if has_next_field:
        meta["hasNext"] = end < total
    return meta


def _int(value: object, where: str, *, default: int) -> int:
    if value is None:
        return default
    if isinstance(value, bool):
        raise validation_error(where, "must be a whole number", rule="FORMAT")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            pass
    raise validation_error(where, "must be a whole number", rule="FORMAT")

