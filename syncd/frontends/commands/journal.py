"""``syncd journal``: what the write journal says, on either state backend.

Read-only and lock-free, like ``rollback --list`` (which prints this module's run list):
the newest runs with their counts, one run's writes, or the writes no outcome ever
settled, as text or one JSON object. The views themselves are ``syncd.core.journal_view``;
each reads only what it shows (``StateBackend.read_recent``, ``read_run``, ``read_open``).
``--compact`` is the one view that writes: it drops history past the retention
(``syncd.core.retention``), or with ``--dry-run`` says what it would drop.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from typing import Any

import structlog

from syncd.base.errors import StateError
from syncd.base.textsafe import safe_text
from syncd.core.journal import BadLine, JournalEntry
from syncd.core.journal_view import RunView, open_writes, run_writes, runs
from syncd.core.retention import Compaction
from syncd.edges.backend import StateBackend, backend_for
from syncd.edges.backend.reading import recent_runs
from syncd.edges.config import Settings
from syncd.frontends.commands.common import ExitCode, add_site_options, load_command_settings
from syncd.frontends.commands.outcome import SiteOutcome
from syncd.frontends.commands.sites import add_output_option, each_site, finish
from syncd.frontends.commands.statecheck import run_on_state
from syncd.frontends.daemon.compaction import log_compaction
from syncd.frontends.render import pending_text, run_text, runs_text

DESCRIPTION = """\
Show the write journal: every stock write syncd made, recorded with the value it replaced
before it was sent, and its outcome once known (applied, failed, conflict, unknown,
not_sent, ignored, settled). Works on either state backend (the local journal files, or
PostgreSQL with state_backend: postgres), takes no lock, and writes nothing, so it runs
beside a daemon.

Without --run or --pending it lists each site's newest runs (--max-rows, 200 by
default): the run id, when it started, how many of its writes were applied, failed,
unknown (sent, no answer said whether they landed) or are still pending (no outcome
recorded: the run was killed), and which run a rollback undid. --run shows one run's
writes; --pending the writes never settled, across runs (a delta among them is settled by
the next sync's re-read, never sent again; an absolute write by the next sync's read of
its variant, as settled). A write replaced by a later applied write of the same variant
counts as settled, not pending. Each reads only what it shows, however long the journal
is.

--compact drops the journal's history older than journal_retention_days (90 by default;
--retention-days overrides it), except writes never settled and the run a plain
`syncd rollback` would undo; --dry-run only says what it would drop. A daemon does this
once a day by itself.
"""

EPILOG = """\
exit status:
  0  shown
  1  no such run (--run) in the journal of any selected site
  73 a site's journal cannot be read (or, with --compact, changed)
  78 invalid configuration, an unknown --site, or a state backend that cannot be used
     (a schema to migrate with `syncd db migrate`, a database out of reach); --dry-run
     or --retention-days without --compact

--output json prints one object: command, outcome, exit_code, reason, view ("runs",
"run", "pending" or "compact"), and per site its site, outcome, reason, where,
unreadable_lines and runs (counts per outcome; more_runs: older runs not shown), or run
and writes (--run), or writes (--pending), or compaction (--compact: unit, dropped, kept,
dropped_lines, kept_lines, kept_unsettled, and each part with why it goes or stays).

examples:
  syncd journal --config syncd.yaml                      every site's runs
  syncd journal --config syncd.yaml --site shop          one site's runs
  syncd journal --config syncd.yaml --run 20261126T224824Z-d02dc2
                                                         that run's writes: SKU, before,
                                                         after, delta, outcome
  syncd journal --config syncd.yaml --pending            writes a killed run left open,
                                                         until a sync settles them
  syncd journal --config syncd.yaml --pending --output json | jq '.sites[].writes | length'
  syncd journal --config syncd.yaml --compact --dry-run  what compaction would drop
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
    view.add_argument("--compact", action="store_true",
                      help="drop history older than the retention (journal_retention_days)")
    parser.add_argument("--dry-run", action="store_true",
                        help="with --compact: say what would be dropped, drop nothing")
    parser.add_argument("--retention-days", type=int, metavar="DAYS",
                        help="with --compact: the retention instead of journal_retention_days")
    add_output_option(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """``syncd journal``."""
    if (args.dry_run or args.retention_days is not None) and not args.compact:
        print("syncd journal: --dry-run and --retention-days go with --compact",
              file=sys.stderr)
        return ExitCode.CONFIG
    if args.retention_days is not None and args.retention_days < 1:
        print("syncd journal: --retention-days must be 1 or more", file=sys.stderr)
        return ExitCode.CONFIG
    view = ("run" if args.run else "pending" if args.pending
            else "compact" if args.compact else "runs")
    return _journal("journal", view, args)


def list_runs(command: str, args: argparse.Namespace) -> int:
    """Each selected site's runs, as ``command`` (``syncd rollback --list``)."""
    return _journal(command, "runs", args)


def _journal(command: str, view: str, args: argparse.Namespace) -> int:
    settings = load_command_settings(args, sys.stderr)
    if isinstance(settings, ExitCode):
        return settings
    return run_on_state(_show(command, view, settings, args))


async def _show(command: str, view: str, settings: Settings, args: argparse.Namespace) -> int:
    text = args.output == "text"
    names = [s.name for s in settings.sites if not args.site or s.name in args.site]
    async with backend_for(settings) as backend:

        async def show(name: str) -> SiteOutcome:
            return await _view(view, backend, name, settings, args)

        # One run is in one site's journal: the sites without it are not shown unless no
        # site has it, which is the error.
        outcomes = await each_site(names, show, text=text and view != "run")
    if view != "run":
        return finish(command, outcomes, output=args.output, view=view)
    missing = [o for o in outcomes if o.fields.get("run", True) is None]
    shown = [o for o in outcomes if o not in missing]
    if missing and not shown:
        where = ", ".join(f"site {o.site} ({o.fields['where']})" for o in missing)
        reason = (f"no run {args.run!r} in the journal of {where}; `syncd journal` without "
                  "--run lists the runs")
        print(f"syncd {command}: {safe_text(reason)}", file=sys.stderr)
        return finish(command, missing, output=args.output, reason=reason, view=view)
    if text:
        for outcome in shown:
            print(outcome.text)
    return finish(command, shown, output=args.output, view=view)


def _header(where: str, bad: list[BadLine]) -> dict[str, Any]:
    return {"where": where,
            "unreadable_lines": [{"line": b.line, "reason": b.reason} for b in bad]}


async def _view(view: str, backend: StateBackend, name: str, settings: Settings,
                args: argparse.Namespace) -> SiteOutcome:
    """One site's view, reading only what it shows."""
    where = backend.where(name)
    bad: list[BadLine] = []
    if view == "runs":
        found, whole = await recent_runs(backend, name, max(1, args.max_rows), bad)
        return _runs(name, where, found, whole, bad)
    if view == "run":
        return _run(name, where, await backend.read_run(name, args.run), bad, args)
    if view == "pending":
        return _pending(name, where, await backend.read_open(name), bad, args)
    return await _compact(backend, name, settings, args)


def _runs(name: str, where: str, found: list[RunView], whole: bool,
          bad: list[BadLine]) -> SiteOutcome:
    text = runs_text(name, where, found, bad)
    if not whole:
        text += (f"\n  (the newest {len(found)} runs; older ones: --max-rows N, or "
                 "--run RUN_ID for one of them)")
    return SiteOutcome(name, ExitCode.OK, text=text, fields={
        **_header(where, bad), "runs": [r.to_dict() for r in found], "more_runs": not whole})


async def _compact(backend: StateBackend, name: str, settings: Settings,
                   args: argparse.Namespace) -> SiteOutcome:
    if not args.dry_run and (problem := backend.problem()) is not None:
        raise StateError(problem)  # an untrusted state directory: exit 73
    days = args.retention_days or settings.fleet.journal_retention_days
    done = await backend.compact(name, retention_days=days, now=datetime.now(UTC),
                                 dry_run=args.dry_run)
    log_compaction(structlog.get_logger("syncd.journal"), done, by="command")
    return SiteOutcome(name, ExitCode.OK, text=compaction_text(done, backend.where(name)),
                       fields={"where": backend.where(name), "compaction": done.to_dict()})


def compaction_text(done: Compaction, where: str) -> str:
    """One compaction, in words."""
    verb = "would drop" if done.dry_run else "dropped"
    lines = [f"site {done.site}: {verb} {len(done.dropped)} {done.unit} "
             f"({done.dropped_lines} lines) older than {done.retention_days} days, kept "
             f"{len(done.kept)} ({done.kept_lines} lines) in {where}"]
    lines += [f"  keeps {v.part.name}: {v.why}" for v in done.kept
              if v.why != "within the retention"]
    return safe_text("\n".join(lines), line_limit=1000)


def _run(name: str, where: str, entries: list[JournalEntry], bad: list[BadLine],
         args: argparse.Namespace) -> SiteOutcome:
    writes = run_writes(entries, args.run)
    if writes is None:
        return SiteOutcome(name, ExitCode.FAILED, f"no run {args.run!r} in {where}", fields={
            **_header(where, bad), "run": None, "writes": []})
    view = next(r for r in runs(entries) if r.run_id == args.run)
    return SiteOutcome(name, ExitCode.OK,
                       text=run_text(name, where, view, writes, bad, max_rows=args.max_rows),
                       fields={**_header(where, bad), "run": view.to_dict(),
                               "writes": [w.to_dict() for w in writes]})


def _pending(name: str, where: str, entries: list[JournalEntry], bad: list[BadLine],
             args: argparse.Namespace) -> SiteOutcome:
    writes = open_writes(entries)
    return SiteOutcome(name, ExitCode.OK,
                       text=pending_text(name, where, writes, bad, max_rows=args.max_rows),
                       fields={**_header(where, bad), "writes": [w.to_dict() for w in writes]})

