"""Small inline SVG bar charts: no scripts, no external files, readable without colour."""

from __future__ import annotations

from collections.abc import Sequence

from syncd.frontends.console.html import Html, h, join

WIDTH = 320
HEIGHT = 80
MIN_BARS = 2
"""Fewer cycles than this show a note instead of a chart: one bar says nothing of a trend."""


def bars(title: str, values: Sequence[float], labels: Sequence[str], *,
         limit: float | None = None, unit: str = "") -> Html:
    """A bar per value, oldest first; ``limit`` draws a dashed line (a budget)."""
    if len(values) < MIN_BARS:
        return h('<figure class="chart"><figcaption>{}</figcaption><p class="muted">not '
                 'enough cycles yet ({} of {})</p></figure>', title, len(values), MIN_BARS)
    top = max([*values, limit or 0, 1])
    step = WIDTH / len(values)
    parts = []
    for i, (value, label) in enumerate(zip(values, labels, strict=True)):
        bar_h = HEIGHT * value / top
        parts.append(h('<rect x="{:.1f}" y="{:.1f}" width="{:.1f}" height="{:.1f}">'
                       '<title>{}: {}{}</title></rect>', i * step + 1, HEIGHT - bar_h,
                       max(step - 2, 1), bar_h, label, _num(value), unit))
    if limit is not None:
        y = HEIGHT - HEIGHT * limit / top
        parts.append(h('<line class="limit" x1="0" x2="{}" y1="{:.1f}" y2="{:.1f}">'
                       '<title>budget {}{}</title></line>', WIDTH, y, y, _num(limit), unit))
    return h('<figure class="chart"><figcaption>{} <span class="muted">(last {}: max {}{})'
             '</span></figcaption><svg role="img" aria-label="{}" viewBox="0 0 {} {}" '
             'width="{}" height="{}">{}</svg></figure>', title, len(values), _num(max(values)),
             unit, title, WIDTH, HEIGHT, WIDTH, HEIGHT, join(parts))


def _num(value: float) -> str:
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"
