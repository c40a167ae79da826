"""A very small template engine: HTML built from Python with every value escaped.

``h("<td>{}</td>", value)`` escapes ``value`` unless it is already ``Html`` (the result of
another ``h`` call, or ``raw`` for text known to be safe, such as an SVG built here).
Escaping by default is the point: store data (product names, SKUs, error messages) reaches
these pages and must never become markup.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from datetime import UTC, datetime


class Html(str):
    """Markup that is safe to insert as is."""

    __slots__ = ()


def esc(value: object) -> Html:
    """``value`` as safe markup (escaped unless it already is markup)."""
    if isinstance(value, Html):
        return value
    return Html(html.escape("" if value is None else str(value), quote=True))


def _arg(value: object) -> object:
    # Numbers are safe as they are, and keep their format codes ({:.1f}).
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    return esc(value)


def h(template: str, *args: object, **kwargs: object) -> Html:
    """``template.format`` with every argument escaped (numbers keep their format codes)."""
    return Html(template.format(*(_arg(a) for a in args),
                                **{k: _arg(v) for k, v in kwargs.items()}))


def raw(text: str) -> Html:
    """Text the caller guarantees is safe markup."""
    return Html(text)


def join(parts: Iterable[object], sep: str = "") -> Html:
    """Escaped parts joined by ``sep`` (itself markup)."""
    return Html(sep.join(esc(p) for p in parts))


def when(at_s: float | None, now_s: float) -> Html:
    """``2026-01-02 10:00:00 UTC (5 min ago)``, or a dash."""
    if at_s is None:
        return Html("&ndash;")
    stamp = datetime.fromtimestamp(at_s, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    delta = now_s - at_s
    rel = _span(abs(delta))
    return h('<time datetime="{}" title="{}">{}</time>', stamp, stamp,
             f"{rel} ago" if delta >= 0 else f"in {rel}")


def _span(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    if seconds < 172_800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"
