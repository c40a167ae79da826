"""``syncd plan`` and ``syncd sync``: preview the writes, then make them, once.

``plan`` walks the store and prints what a sync would write (a table like ``terraform
plan``), without writing; its exit status tells scripts whether anything is pending.
``sync`` does the same, checks the safety guards, writes, journals every write with its
before-value, and ends with a one-line account. ``sync`` holds the site's lock while it
runs, so it never races a daemon writing the same store; ``plan`` only reads and takes no
lock (its reads do draw on the same Wix budget as a daemon's).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from syncd.backend import SiteLocked, StateBackend, backend_for
from syncd.commands.common import (
    ExitCode,
    add_site_options,
    load_command_settings,
    print_site_error,
)
from syncd.commands.live import progress_display, quit_quietly_on_signals, stop_on_signals
from syncd.commands.outcome import SiteOutcome, overall_code, run_document
from syncd.commands.statecheck import run_on_state
from syncd.config import Settings
from syncd.errors import (
    GuardRefused,
    NoMatch,
    SourceError,
    StateError,
    StopRequested,
    SyncdError,
    WixError,
)
from syncd.progress import SyncProgress
from syncd.render import apply_text, plan_text, to_json
from syncd.sources import InvalidRowsError
from syncd.sync import PlanResult, SiteSync, open_site_syncs

PLAN_DESCRIPTION = """\
Show what `syncd sync` would write, without writing anything: read the stock file, walk
the whole store (hidden products included), and print one line per variant that would
change (SKU, product, before -> after, reason), followed by what the plan noticed but will
not write: source rows that name nothing in the store, SKUs shared by several variants
(never written by SKU), skipped rows, and safety guards the plan would trip.
"""

PLAN_EPILOG = """\
exit status:
  0  nothing to change: the store already says what the source says
  2  changes are pending
  1  error (source or Wix)
  6  the source matches no store variant (or far fewer than at the last good run)
  78 invalid configuration

examples:
  syncd plan --config syncd.yaml
  syncd plan --config syncd.yaml --output json | jq '.sites[0].plan.counts'
"""

SYNC_DESCRIPTION = """\
Plan and apply once: read the stock file, walk the store, plan, check the safety guards,
then write only what must change (one call per changed product on Catalog V1, batches of
up to 1000 items on V3). Every write is journaled with its before-value in
STATE_DIR/journal/SITE.jsonl before it is sent. A refused plan writes nothing.
"""

SYNC_EPILOG = """\
safety guards (policy keys; a refused plan writes nothing):
  max_changed_fraction  more than this fraction of matched variants would change
  max_zeroed            more than this many variants would become unavailable
  max_source_shrink     the source lost more than this fraction of its rows since the
                        last successful sync
  Check the plan with `syncd plan`, then re-run with --force to override once, or change
  the limit in the configuration.

exit status:
  0  done: every planned write landed (or nothing had to change)
  1  error, or some writes failed (see the per-product account)
  2  with --dry-run: changes are pending (as `syncd plan`)
  3  a safety guard refused a site's plan: nothing was written to that site
  4  another syncd process (a daemon?) holds a site's lock (with --force: 0 after
     asking that daemon to run one forced cycle itself)
  5  stopped by Ctrl-C/SIGTERM: nothing was sent after it; the account says what was not
  6  the source matches no store variant (or far fewer than at the last good run)
  73 the state directory cannot be created or written
  78 invalid configuration
  130 a second Ctrl-C: quit at once (writes on the wire stay journaled 'pending')

examples:
  syncd sync --config syncd.yaml
  syncd sync --config syncd.yaml --dry-run          # same as `syncd plan`
  syncd sync --config syncd.yaml --force            # after checking a refused plan
"""


def register(subparsers: Any) -> None:
    """Add the ``plan`` and ``sync`` sub-commands."""
    plan = subparsers.add_parser(
        "plan", help="show what a sync would write (no writes)",
        description=PLAN_DESCRIPTION, epilog=PLAN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    _common(plan)
    plan.set_defaults(func=run_plan)
    sync = subparsers.add_parser(
        "sync", help="plan, check the safety guards, write, journal (once)",
        description=SYNC_DESCRIPTION, epilog=SYNC_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    _common(sync)
    sync.add_argument("--dry-run", action="store_true",
                      help="plan only, write nothing (the same as `syncd plan`)")
    sync.add_argument("--force", action="store_true",
                      help="override the safety guards for this run only")
    sync.set_defaults(func=run_sync)


def _common(parser: argparse.ArgumentParser) -> None:
    add_site_options(parser)
    parser.add_argument("--output", choices=("text", "json"), default="text",
                        help="text for people (default), json for scripts")


def run_plan(args: argparse.Namespace) -> int:
    """``syncd plan``."""
    settings = load_command_settings(args, sys.stderr)
    if isinstance(settings, ExitCode):
        return settings
    return run_on_state(_plan(settings, args))


async def _plan(settings: Settings, args: argparse.Namespace) -> int:
    outcomes: list[SiteOutcome] = []
    text = args.output == "text"
    async with open_site_syncs(settings, site_names=args.site or ()) as syncs:
        for name, site in syncs.items():
            try:
                async with site:
                    result = await site.plan(force=True)
            except (SourceError, WixError, SyncdError) as exc:
                if text:
                    print_site_error(name, exc)
                outcomes.append(_error_outcome(name, exc))
                continue  # the other sites' plans are still worth showing
            if text:
                print(plan_text(name, result, max_rows=args.max_rows))
            if result.match_problem is not None:
                if text:
                    print_site_error(name, result.match_problem)
                outcomes.append(SiteOutcome(name, ExitCode.NO_MATCH, result.match_problem,
                                            planned=result))
                continue
            code = ExitCode.PENDING if result.plan.changes else ExitCode.OK
            outcomes.append(SiteOutcome(name, code, planned=result))
    return _finish("plan", outcomes, args)


def _finish(command: str, outcomes: list[SiteOutcome], args: argparse.Namespace) -> int:
    code = overall_code(o.code for o in outcomes)
    if args.output == "json":
        print(to_json(run_document(command, outcomes, code)))
    return code


def _error_outcome(name: str, exc: BaseException) -> SiteOutcome:
    """The outcome of a site whose cycle raised ``exc`` before writing anything."""
    if isinstance(exc, NoMatch):
        planned = exc.result if isinstance(exc.result, PlanResult) else None
        return SiteOutcome(name, ExitCode.NO_MATCH, str(exc), planned=planned)
    if isinstance(exc, GuardRefused):
        planned = exc.result if isinstance(exc.result, PlanResult) else None
        return SiteOutcome(name, ExitCode.REFUSED, str(exc), planned=planned)
    if isinstance(exc, StopRequested):
        return SiteOutcome(name, ExitCode.STOPPED, "stopped before any write")
    if isinstance(exc, StateError):
        return SiteOutcome(name, ExitCode.STATE, str(exc))
    if isinstance(exc, InvalidRowsError):
        return SiteOutcome(name, ExitCode.FAILED, str(exc), outcome="invalid_source",
                           invalid_rows=tuple(str(e) for e in exc.errors))
    if isinstance(exc, SourceError):
        return SiteOutcome(name, ExitCode.FAILED, str(exc), outcome="invalid_source")
    return SiteOutcome(name, ExitCode.FAILED, str(exc))


def run_sync(args: argparse.Namespace) -> int:
    """``syncd sync``."""
    if args.dry_run:
        return run_plan(args)
    settings = load_command_settings(args, sys.stderr)
    if isinstance(settings, ExitCode):
        return settings
    try:
        return run_on_state(_sync(settings, args))
    finally:
        quit_quietly_on_signals()


async def _sync(settings: Settings, args: argparse.Namespace) -> int:
    stop = asyncio.Event()
    outcomes: list[SiteOutcome] = []
    problem = backend_for(settings).problem()
    if problem is not None:
        print(f"syncd: {problem}", file=sys.stderr)
        outcomes.append(SiteOutcome("*", ExitCode.STATE, problem))
        return _finish("sync", outcomes, args)
    with stop_on_signals(stop):
        async with open_site_syncs(settings, site_names=args.site or ()) as syncs:
            for name, site in syncs.items():
                if stop.is_set():
                    outcomes.append(SiteOutcome(name, ExitCode.STOPPED,
                                                "stopped before this site started"))
                    continue
                try:
                    async with site.backend.site_lock(name), site:
                        outcomes.append(await _sync_site(name, site, args, stop))
                except SiteLocked as exc:
                    outcomes.append(_locked(name, exc, site.backend, args))
                except StateError as exc:
                    print_site_error(name, exc)
                    outcomes.append(SiteOutcome(name, ExitCode.STATE, str(exc)))
    return _finish("sync", outcomes, args)


def _locked(name: str, exc: SiteLocked, backend: StateBackend,
            args: argparse.Namespace) -> SiteOutcome:
    """A daemon holds the site: with --force, ask it to run the forced cycle instead."""
    if args.force and exc.pid:
        try:
            backend.request_approval(name, exc)
        except OSError as e:
            print_site_error(name, f"{exc} (could not ask it to force a cycle: {e})")
            return SiteOutcome(name, ExitCode.LOCKED, str(exc))
        text = (f"a daemon (pid {exc.pid}) syncs this site: asked it to run one cycle with "
                "the safety guards overridden; its log (cycle_forced, cycle_finished) and "
                "/readyz say how it went")
        if args.output == "text":
            print(f"syncd: site {name}: {text}", file=sys.stderr)
        return SiteOutcome(name, ExitCode.OK, text, outcome="delegated")
    print_site_error(name, exc)
    return SiteOutcome(name, ExitCode.LOCKED, str(exc))


async def _sync_site(name: str, site: SiteSync, args: argparse.Namespace,
                     stop: asyncio.Event) -> SiteOutcome:
    text = args.output == "text"
    tracker = SyncProgress(name, site.client)
    async with progress_display(tracker) as line:

        def on_plan(planned: PlanResult) -> None:
            tracker.start_writing(planned.plan)
            if text:
                if line is not None:
                    line.clear()
                print(plan_text(name, planned, max_rows=args.max_rows), flush=True)

        try:
            result = await site.sync(force=args.force, stop=stop, progress=tracker,
                                     on_plan=on_plan)
        except (SourceError, WixError, SyncdError) as exc:
            if line is not None:
                line.clear()
            if text:
                print_site_error(name, exc)
            return _error_outcome(name, exc)
    applied = result.applied
    assert applied is not None
    if text:
        print(apply_text(name, result))
    if applied.complete:
        return SiteOutcome(name, ExitCode.OK, planned=result.planned, result=result)
    if applied.failed:
        return SiteOutcome(name, ExitCode.FAILED, f"{applied.failed} writes failed",
                           planned=result.planned, result=result)
    return SiteOutcome(name, ExitCode.STOPPED,
                       f"stopped: {applied.not_attempted} of {len(result.planned.plan.changes)} "
                       "writes not sent", planned=result.planned, result=result)
