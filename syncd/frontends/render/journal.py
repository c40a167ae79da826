"""``syncd journal``'s views for people: a site's runs, one run's writes, the writes no
outcome settled (``RunView.to_dict`` and ``WriteView.to_dict`` are the JSON)."""

from __future__ import annotations

from collections.abc import Sequence

from syncd.base.textsafe import safe_text, safe_value
from syncd.core.journal import BadLine, Outcome
from syncd.core.journal_view import RunView, WriteView, state_text

_MORE = "--max-rows N, or --output json for all"


def runs_text(site: str, where: str, found: Sequence[RunView], bad: Sequence[BadLine]) -> str:
    """A site's runs, one line each."""
    if not found:
        lines = [f"site {site}: no journal yet ({where})"]
    else:
        lines = [f"site {site}: {len(found)} run{'' if len(found) == 1 else 's'} in {where}",
                 safe_text("\n".join(_run_line(r) for r in found), line_limit=1000)]
    return "\n".join(lines + _bad_note(bad))


def run_text(site: str, where: str, view: RunView, writes: Sequence[WriteView],
             bad: Sequence[BadLine], *, max_rows: int) -> str:
    """One run's writes, as a table."""
    undid = f", rollback of {view.rollback_of}" if view.rollback_of else ""
    lines = [safe_text(f"site {site}: run {view.run_id} (started "
                       f"{view.started_at:%Y-%m-%d %H:%M:%S} UTC{undid}) in {where}: "
                       f"{_counts(view)}")]
    return "\n".join(lines + _table(writes, max_rows, with_run=False) + _bad_note(bad))


def pending_text(site: str, where: str, writes: Sequence[WriteView], bad: Sequence[BadLine],
                 *, max_rows: int) -> str:
    """The writes of a site that no outcome ever settled."""
    if not writes:
        lines = [f"site {site}: every write is settled ({where})"]
    else:
        lines = [f"site {site}: {len(writes)} write{'' if len(writes) == 1 else 's'} never "
                 f"settled in {where}", *_table(writes, max_rows, with_run=True),
                 "  each may or may not have reached the store: the next sync settles a "
                 "delta by re-reading it, and plans any other from what the store holds"]
    return "\n".join(lines + _bad_note(bad))


def _bad_note(bad: Sequence[BadLine]) -> list[str]:
    if not bad:
        return []
    first = bad[0]
    return [f"  note: {len(bad)} unreadable line(s) skipped (line {first.line}: "
            f"{first.reason})"]


def _run_line(r: RunView) -> str:
    mark = f"  rollback of {r.rollback_of}" if r.rollback_of else ""
    return f"  {r.run_id}  {r.started_at:%Y-%m-%d %H:%M:%S} UTC  {_counts(r)}{mark}"


def _counts(r: RunView) -> str:
    applied = r.count(Outcome.APPLIED)
    counts = [f"{applied} write{'' if applied == 1 else 's'} applied",
              f"{r.count(Outcome.FAILED)} failed", f"{r.count(Outcome.UNKNOWN)} unknown",
              f"{r.count(Outcome.PENDING)} pending"]
    counts += [f"{r.count(o)} {o.value.replace('_', ' ')}"
               for o in (Outcome.CONFLICT, Outcome.NOT_SENT, Outcome.SETTLED, Outcome.IGNORED)
               if r.count(o)]
    return ", ".join(counts)


def _table(ws: Sequence[WriteView], max_rows: int, *, with_run: bool) -> list[str]:
    head = (["RUN"] if with_run else []) + ["SKU", "BEFORE", "AFTER", "DELTA", "OUTCOME",
                                            "NOTE"]
    rows = [head]
    for w in ws[:max(0, max_rows)]:
        e = w.pending
        rows.append(([e.run_id] if with_run else []) + [
            safe_value(e.sku or f"{e.product_id}/{e.variant_id}", 40),
            state_text(e.before), state_text(e.after),
            f"{e.delta:+d}" if e.delta is not None else "",
            w.outcome.value, safe_value(w.note or "", 80)])
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = ["  " + "  ".join(c.ljust(n) for c, n in zip(row, widths, strict=True)).rstrip()
             for row in rows]
    if len(ws) > max_rows:
        lines.append(f"  ... and {len(ws) - max(0, max_rows)} more ({_MORE})")
    return lines
