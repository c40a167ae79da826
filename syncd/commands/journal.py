"""``syncd journal``: what the write journal says, on either state backend.

Read-only and lock-free, like ``rollback --list`` (which prints this module's run list):
the runs with their counts, one run's writes, or the writes no outcome ever settled, as
text or one JSON object. The views themselves are ``syncd.journalview``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Sequence
from typing import Any

from syncd.backend import StateBackend, backend_for
from syncd.commands.common import ExitCode, add_site_options, load_command_settings
from syncd.commands.statecheck import run_on_state
from syncd.config import Settings
from syncd.journal import BadLine, JournalEntry, Outcome
from syncd.journalview import RunView, WriteView, open_writes, run_writes, runs, state_text
from syncd.render import to_json
from syncd.textsafe import safe_text, safe_value

DESCRIPTION = """\
Show the write journal: every stock write syncd made, recorded with the value it replaced
before it was sent, and its outcome once known (applied, failed, conflict, unknown,
not_sent). Works on either state backend (the local journal files, or PostgreSQL with
state_backend: postgres), takes no lock, and writes nothing, so it runs beside a daemon.

Without --run or --pending it lists each site's runs: the run id, when it started, how
many of its writes were applied, failed, unknown (sent, no answer said whether they
landed) or are still pending (no outcome recorded: the run was killed), and which run a
rollback undid. --run shows one run's writes; --pending the writes never settled, across
runs (a delta among them is settled by the next sync's re-read, never sent again).
"""

EPILOG = """\
exit status:
  0  shown
  1  no such run (--run) in the journal of any selected site
  78 invalid configuration, an unknown --site, or a state backend that cannot be used
     (a schema to migrate with `syncd db migrate`, a database out of reach)

examples:
  syncd journal --config syncd.yaml                      every site's runs
  syncd journal --config syncd.yaml --site shop          one site's runs
  syncd journal --config syncd.yaml --run 20261126T224824Z-d02dc2
                                                         that run's writes: SKU, before,
                                                         after, delta, outcome
  syncd journal --config syncd.yaml --pending            writes a killed run left open
  syncd journal --config syncd.yaml --pending --output json | jq '.sites[].writes | length'
"""

_MORE = "--max-rows N, or --output json for all"


def register(subparsers: Any) -> None:
    """Add the ``journal`` sub-command."""
    parser = subparsers.add_parser(
        "journal", help="show the write journal: runs, a run's writes, unsettled writes",
        description=DESCRIPTION, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    add_site_options(parser)
    view = parser.add_mutually_exclusive_group()
    view.add_argument("--run", metavar="RUN_ID",
                      help="show this run's writes (run ids: the list without options)")
    view.add_argument("--pending", action="store_true",
                      help="show the writes that no outcome settled, in every run")
    parser.add_argument("--output", choices=("text", "json"), default="text",
                        help="json: one object on stdout (view, sites), for scripts")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """``syncd journal``."""
    settings = load_command_settings(args, sys.stderr)
    if isinstance(settings, ExitCode):
        return settings
    if args.run:
        return run_on_state(_show_run(settings, args))
    if args.pending:
        return run_on_state(_show_pending(settings, args))
    return run_on_state(list_runs(settings, args.site, output=args.output))


class _Site:
    """One selected site's journal, read once."""

    def __init__(self, name: str, where: str, entries: list[JournalEntry],
                 bad: list[BadLine]) -> None:
        self.name, self.where, self.entries, self.bad = name, where, entries, bad

    def header(self) -> dict[str, Any]:
        return {"site": self.name, "where": self.where,
                "unreadable_lines": [{"line": b.line, "reason": b.reason} for b in self.bad]}

    def bad_note(self) -> list[str]:
        if not self.bad:
            return []
        first = self.bad[0]
        return [f"  note: {len(self.bad)} unreadable line(s) skipped (line {first.line}: "
                f"{first.reason})"]


async def _read(settings: Settings, only: Sequence[str] | None) -> list[_Site]:
    sites = []
    async with backend_for(settings) as backend:
        for site in settings.sites:
            if only and site.name not in only:
                continue
            sites.append(await _read_site(backend, site.name))
    return sites


async def _read_site(backend: StateBackend, name: str) -> _Site:
    bad: list[BadLine] = []
    entries = await backend.read_journal(name, bad)
    return _Site(name, backend.where(name), entries, bad)


async def list_runs(settings: Settings, only: Sequence[str] | None, *,
                    output: str = "text") -> int:
    """Each selected site's runs (``syncd journal``, ``syncd rollback --list``)."""
    sites = await _read(settings, only)
    if output == "json":
        print(to_json(_document("runs", [
            {**s.header(), "runs": [r.to_dict() for r in runs(s.entries)]} for s in sites])))
        return ExitCode.OK
    for s in sites:
        found = runs(s.entries)
        if not found:
            print(f"site {s.name}: no journal yet ({s.where})")
        else:
            print(f"site {s.name}: {len(found)} run{'' if len(found) == 1 else 's'} in "
                  f"{s.where}")
            print(safe_text("\n".join(_run_line(r) for r in found), line_limit=1000))
        _print_lines(s.bad_note())
    return ExitCode.OK


def _run_line(r: RunView) -> str:
    mark = f"  rollback of {r.rollback_of}" if r.rollback_of else ""
    return f"  {r.run_id}  {r.started_at:%Y-%m-%d %H:%M:%S} UTC  {_counts(r)}{mark}"


def _counts(r: RunView) -> str:
    applied = r.count(Outcome.APPLIED)
    counts = [f"{applied} write{'' if applied == 1 else 's'} applied",
              f"{r.count(Outcome.FAILED)} failed", f"{r.count(Outcome.UNKNOWN)} unknown",
              f"{r.count(Outcome.PENDING)} pending"]
    counts += [f"{r.count(o)} {o.value.replace('_', ' ')}"
               for o in (Outcome.CONFLICT, Outcome.NOT_SENT) if r.count(o)]
    return ", ".join(counts)


async def _show_run(settings: Settings, args: argparse.Namespace) -> int:
    sites = await _read(settings, args.site)
    shown = [(s, found) for s in sites
             if (found := run_writes(s.entries, args.run)) is not None]
    if not shown:
        where = ", ".join(f"site {s.name} ({s.where})" for s in sites)
        reason = (f"no run {args.run!r} in the journal of {where}; `syncd journal` without "
                  "--run lists the runs")
        return _fail(args.output, "run", reason)
    if args.output == "json":
        print(to_json(_document("run", [
            {**s.header(), "run": next(r for r in runs(s.entries)
                                       if r.run_id == args.run).to_dict(),
             "writes": [w.to_dict() for w in found]} for s, found in shown])))
        return ExitCode.OK
    for s, found in shown:
        view = next(r for r in runs(s.entries) if r.run_id == args.run)
        undid = f", rollback of {view.rollback_of}" if view.rollback_of else ""
        print(safe_text(f"site {s.name}: run {view.run_id} (started "
                        f"{view.started_at:%Y-%m-%d %H:%M:%S} UTC{undid}) in {s.where}: "
                        f"{_counts(view)}"))
        _print_lines(_table(found, args.max_rows, with_run=False))
        _print_lines(s.bad_note())
    return ExitCode.OK


async def _show_pending(settings: Settings, args: argparse.Namespace) -> int:
    sites = await _read(settings, args.site)
    found = [(s, open_writes(s.entries)) for s in sites]
    if args.output == "json":
        print(to_json(_document("pending", [
            {**s.header(), "writes": [w.to_dict() for w in ws]} for s, ws in found])))
        return ExitCode.OK
    for s, ws in found:
        if not ws:
            print(f"site {s.name}: every write is settled ({s.where})")
        else:
            print(f"site {s.name}: {len(ws)} write{'' if len(ws) == 1 else 's'} never "
                  f"settled in {s.where}")
            _print_lines(_table(ws, args.max_rows, with_run=True))
            print("  each may or may not have reached the store: the next sync settles a "
                  "delta by re-reading it, and plans any other from what the store holds")
        _print_lines(s.bad_note())
    return ExitCode.OK


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


def _print_lines(lines: Iterable[str]) -> None:
    for line in lines:
        print(line)


def _document(view: str, sites: list[dict[str, Any]]) -> dict[str, Any]:
    return {"command": "journal", "view": view, "outcome": "ok", "exit_code": 0,
            "sites": sites}


def _fail(output: str, view: str, reason: str) -> int:
    print(f"syncd journal: {safe_text(reason)}", file=sys.stderr)
    if output == "json":
        print(to_json({"command": "journal", "view": view, "outcome": "failed",
                       "exit_code": int(ExitCode.FAILED), "reason": reason, "sites": []}))
    return ExitCode.FAILED
