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
import contextlib
import signal
import sys
from collections.abc import Callable, Iterator
from typing import Any

from syncd.commands.common import (
    ExitCode,
    add_site_options,
    load_command_settings,
    print_site_error,
)
from syncd.commands.statecheck import run_on_state
from syncd.config import Settings
from syncd.errors import GuardRefused, SourceError, SyncdError, WixError
from syncd.render import apply_text, plan_dict, plan_text, to_json
from syncd.state.lock import SiteLocked
from syncd.sync import SiteSync, open_site_syncs

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
  78 invalid configuration

examples:
  syncd plan --config syncd.yaml
  syncd plan --config syncd.yaml --output json | jq '.[0].counts'
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
  4  another syncd process (a daemon?) holds a site's lock
  78 invalid configuration

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
    pending = failed = False
    documents = []
    async with open_site_syncs(settings, site_names=args.site or ()) as syncs:
        for name, site in syncs.items():
            try:
                async with site:
                    result = await site.plan(force=True)
            except (SourceError, WixError, SyncdError) as exc:
                print_site_error(name, exc)
                failed = True
                continue  # the other sites' plans are still worth showing
            pending |= bool(result.plan.changes)
            if args.output == "json":
                documents.append(plan_dict(name, result))
            else:
                print(plan_text(name, result, max_rows=args.max_rows))
    if args.output == "json":
        print(to_json(documents))
    return ExitCode.FAILED if failed else ExitCode.PENDING if pending else ExitCode.OK


def run_sync(args: argparse.Namespace) -> int:
    """``syncd sync``."""
    if args.dry_run:
        return run_plan(args)
    settings = load_command_settings(args, sys.stderr)
    if isinstance(settings, ExitCode):
        return settings
    return run_on_state(_sync(settings, args))


async def _sync(settings: Settings, args: argparse.Namespace) -> int:
    stop = asyncio.Event()
    codes: set[ExitCode] = set()
    documents = []
    with _stop_on_signals(stop):
        async with open_site_syncs(settings, site_names=args.site or ()) as syncs:
            for name, site in syncs.items():
                if stop.is_set():
                    break
                try:
                    async with site.backend.site_lock(name), site:
                        site_code, doc = await _sync_site(name, site, args, stop)
                except SiteLocked as exc:
                    print_site_error(name, exc)
                    site_code, doc = ExitCode.LOCKED, None
                codes.add(site_code)
                if doc is not None:
                    documents.append(doc)
    if args.output == "json":
        print(to_json(documents))
    # An error anywhere outranks a lock or a refusal, so that "3" is only ever about guards.
    for code in (ExitCode.FAILED, ExitCode.LOCKED, ExitCode.REFUSED):
        if code in codes:
            return code
    return ExitCode.OK


async def _sync_site(name: str, site: SiteSync, args: argparse.Namespace,
                     stop: asyncio.Event) -> tuple[ExitCode, dict[str, Any] | None]:
    text = args.output == "text"
    try:
        result = await site.sync(force=args.force, stop=stop,
                                 progress=_progress_printer(name) if text else None)
    except GuardRefused as exc:
        print(f"syncd: site {name}: plan refused, nothing written:\n{exc}", file=sys.stderr)
        return ExitCode.REFUSED, None
    except (SourceError, WixError, SyncdError) as exc:
        print_site_error(name, exc)
        return ExitCode.FAILED, None
    applied = result.applied
    assert applied is not None
    if text:
        print(plan_text(name, result.planned, max_rows=args.max_rows))
        print(apply_text(name, result))
    code = ExitCode.OK if applied.complete else ExitCode.FAILED
    return code, plan_dict(name, result.planned, result)


def _progress_printer(site: str) -> Callable[[int, int], None] | None:
    """A progress line on stderr when it is a terminal; nothing otherwise."""
    if not sys.stderr.isatty():
        return None

    def show(done: int, total: int) -> None:
        end = "\n" if done >= total else ""
        print(f"\rsite {site}: written {done}/{total}", end=end, file=sys.stderr, flush=True)

    return show


@contextlib.contextmanager
def _stop_on_signals(stop: asyncio.Event) -> Iterator[None]:
    """SIGINT/SIGTERM finish the batch in flight, then stop (a second SIGINT kills)."""
    loop = asyncio.get_running_loop()

    def request_stop() -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        print("\nsyncd: stopping after the writes in flight (Ctrl-C again to abort)",
              file=sys.stderr)
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, request_stop)
    try:
        yield
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
