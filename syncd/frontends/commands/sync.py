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
import os
import sys
import time
from dataclasses import replace
from typing import Any

from syncd.base.errors import SyncdError
from syncd.core.plan_digest import short_digest
from syncd.cycle.endings import CycleEnd, Ending, classify
from syncd.cycle.progress import SyncProgress
from syncd.cycle.results import PlanResult
from syncd.cycle.sync import SiteSync
from syncd.cycle.wiring import open_site_syncs
from syncd.edges.backend import SiteLocked, backend_for
from syncd.edges.backend.console_state import Approval
from syncd.edges.config import Settings
from syncd.frontends.commands.common import (
    ExitCode,
    add_site_options,
    print_site_error,
)
from syncd.frontends.commands.live import progress_display, quit_quietly_on_signals, stop_on_signals
from syncd.frontends.commands.outcome import SiteOutcome, cycle_error, ended
from syncd.frontends.commands.sites import (
    add_output_option,
    each_site,
    finish,
    load_settings_for,
    run_on_sites,
)
from syncd.frontends.commands.statecheck import run_on_state
from syncd.frontends.daemon.collector import pace_collector
from syncd.frontends.render import apply_text, plan_text

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
     showing the plan and asking that daemon to apply exactly that plan in one forced
     cycle; if its cycle plans anything else, it refuses it as usual)
  5  stopped by Ctrl-C/SIGTERM: nothing was sent after it; the account says what was not
     sent, and what was sent but is unconfirmed (`syncd journal --pending`)
  6  the source matches no store variant (or far fewer than at the last good run)
  73 the state directory cannot be created or written, or is not private
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
    add_output_option(parser)


def run_plan(args: argparse.Namespace) -> int:
    """``syncd plan``."""
    pace_collector()
    settings = load_settings_for("plan", args)
    if isinstance(settings, ExitCode):
        return settings
    return run_on_state(_plan(settings, args))


async def _plan(settings: Settings, args: argparse.Namespace) -> int:
    text = args.output == "text"

    async def plan(name: str, site: SiteSync) -> SiteOutcome:
        async with site:
            ending = classify(await site.plan(force=True))
        if text:
            assert ending.planned is not None
            print(plan_text(name, ending.planned, max_rows=args.max_rows,
                            force_asked=getattr(args, "force", False)))
            if ending.end is CycleEnd.NO_MATCH:
                print_site_error(name, ending.reason or "")
        return ended(name, ending)

    # A site's error is printed and the other sites' plans are still worth showing.
    return await run_on_sites("plan", settings, args, plan, on_error=cycle_error)


def run_sync(args: argparse.Namespace) -> int:
    """``syncd sync``."""
    if args.dry_run:
        return run_plan(args)
    pace_collector()
    settings = load_settings_for("sync", args)
    if isinstance(settings, ExitCode):
        return settings
    try:
        return run_on_state(_sync(settings, args))
    finally:
        quit_quietly_on_signals()


async def _sync(settings: Settings, args: argparse.Namespace) -> int:
    stop = asyncio.Event()
    problem = backend_for(settings).problem()
    if problem is not None:
        print(f"syncd: {problem}", file=sys.stderr)
        return finish("sync", [ended("*", Ending(CycleEnd.STATE_UNUSABLE, problem))],
                      output=args.output)
    with stop_on_signals(stop):
        async with open_site_syncs(settings, site_names=args.site or ()) as syncs:

            async def sync(name: str) -> SiteOutcome:
                site = syncs[name]
                if stop.is_set():
                    return ended(name, Ending(CycleEnd.STOPPED,
                                              "stopped before this site started"))
                try:
                    async with site.backend.site_lock(name), site:
                        return await _sync_site(name, site, args, stop)
                except SiteLocked as exc:
                    return await _locked(name, exc, site, args)

            outcomes = await each_site(syncs, sync, text=args.output == "text",
                                       on_error=cycle_error)
    return finish("sync", outcomes, output=args.output)


async def _locked(name: str, exc: SiteLocked, site: SiteSync,
                  args: argparse.Namespace) -> SiteOutcome:
    """A daemon holds the site: with --force, show the plan and ask the daemon to apply
    exactly that plan (its digest) in one forced cycle."""
    text = args.output == "text"
    locked = ended(name, classify(exc))
    backend = site.backend
    problem = backend.cannot_ask(exc) if args.force else None
    if not args.force or problem is not None:
        if text:
            print_site_error(name, exc if problem is None
                             else f"{exc} (could not ask it to force a cycle: {problem})")
        return locked
    # Reads only (no lock): the same walk and plan the daemon's cycle will make.
    async with site:
        planned = await site.plan(force=True)
    short = short_digest(planned.digest)
    if text:
        print(plan_text(name, planned, max_rows=args.max_rows, forced=True), flush=True)
        print(f"Forcing plan {short} (digest {planned.digest}).", flush=True)
    approval = Approval(digest=planned.digest, by=f"sync --force pid {os.getpid()}",
                        at_s=time.time(), changes=len(planned.plan.changes))
    try:
        await backend.request_approval(name, exc, approval)
    except OSError as e:
        if text:
            print_site_error(name, f"{exc} (could not ask it to force a cycle: {e})")
        return locked
    holder = f"a daemon (pid {exc.pid})" if exc.pid else "a daemon replica"
    delegated = (f"{holder} syncs this site: asked it to apply plan {short} "
                 f"({len(planned.plan.changes)} change(s), shown above) in one cycle with the "
                 "safety guards overridden; if its cycle plans anything else (the source or "
                 "the store changed), it refuses as usual (approval_stale in its log); its "
                 "log (cycle_forced_by_approval, cycle_finished) and /readyz say how it went")
    if text:
        print(f"syncd: site {name}: {delegated}", file=sys.stderr)
    return replace(ended(name, Ending(CycleEnd.OK, delegated, planned=planned)),
                   outcome="delegated")


async def _sync_site(name: str, site: SiteSync, args: argparse.Namespace,
                     stop: asyncio.Event) -> SiteOutcome:
    text = args.output == "text"
    tracker = SyncProgress(name, site.client)
    async with progress_display(tracker) as line:

        def on_plan(planned: PlanResult) -> None:
            tracker.start_writing(planned.plan, site.site.policy.write_mode)
            if text:
                if line is not None:
                    line.clear()
                print(plan_text(name, planned, max_rows=args.max_rows, forced=args.force),
                      flush=True)
                if args.force and any(not g.passed for g in planned.guards):
                    print(f"Forcing plan {short_digest(planned.digest)} (digest "
                          f"{planned.digest}): the safety guards are overridden for this "
                          "run.", flush=True)

        try:
            result = await site.sync(force=args.force, stop=stop, progress=tracker,
                                     on_plan=on_plan)
        except SyncdError:
            if line is not None:
                line.clear()  # before the error is printed
            raise
    if text:
        print(apply_text(name, result))
    return ended(name, classify(result), forced=args.force)
