"""``syncd rollback``: undo a sync, from the journal alone.

Every write syncd makes is journaled with the value it replaced. This command reads the
journal of a site, re-reads just the variants one run touched, and writes back their earlier
values, skipping those the store has changed again since (a sale, a later sync) unless told
otherwise. The restoring writes are journaled as a run of their own, so a rollback can be
rolled back too. ``--list`` shows the runs the journal knows (``syncd journal``'s list).
"""

from __future__ import annotations

import argparse
import contextlib
from typing import Any

from syncd.base.errors import StateError
from syncd.cycle.sync import SiteSync
from syncd.frontends.commands.common import ExitCode, add_site_options
from syncd.frontends.commands.journal import list_runs
from syncd.frontends.commands.outcome import SiteOutcome
from syncd.frontends.commands.sites import add_output_option, run_site_command
from syncd.frontends.render import rollback_dict, rollback_text

DESCRIPTION = """\
Undo a sync run: put back, for every variant the run wrote, the value it had before, as
the journal (STATE_DIR/journal/SITE.jsonl) recorded it. Only the variants the run touched
are read again. A variant the store has changed since the run (a sale, a later sync, an
edit in the Wix dashboard) is reported and left alone, because restoring it would
overwrite that newer change; --include-drifted restores it anyway.
"""

EPILOG = """\
exit status:
  0  rolled back (or nothing left to restore)
  2  with --dry-run: writes are pending
  1  error (no such run, Wix, or failed writes)
  4  another syncd process (a daemon?) holds a site's lock
  73 a site's state (its journal, its lock) cannot be used, or the state directory is
     not private (another owner, writable by everyone, a link where a file belongs)
  78 invalid configuration

--output json prints one object: command, outcome, exit_code, reason, and per site its
site, outcome, reason, run_id (the run undone), dry_run, counts, changes, drifted,
missing and account (written, failed, not_sent; null for a dry run). With --list, the
object of `syncd journal --output json` (view "runs").

examples:
  syncd rollback --config syncd.yaml --list             the runs the journal knows
                                                        (syncd journal shows more)
  syncd rollback --config syncd.yaml --dry-run          what undoing the last run would write
  syncd rollback --config syncd.yaml --run 20261126T224824Z-d02dc2
"""


def register(subparsers: Any) -> None:
    """Add the ``rollback`` sub-command."""
    parser = subparsers.add_parser(
        "rollback", help="undo a sync run from the journal",
        description=DESCRIPTION, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    add_site_options(parser)
    parser.add_argument("--run", metavar="RUN_ID",
                        help="the run to undo (default: the last run that wrote anything)")
    parser.add_argument("--list", action="store_true",
                        help="list the runs in the journal and exit")
    parser.add_argument("--dry-run", action="store_true",
                        help="show what would be restored, write nothing")
    parser.add_argument("--include-drifted", action="store_true",
                        help="also restore variants the store changed after the run")
    add_output_option(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """``syncd rollback``."""
    if args.list:
        return list_runs("rollback", args)

    async def rollback(name: str, site: SiteSync) -> SiteOutcome:
        # A dry run only reads: it takes no lock, so it works beside a daemon.
        if not args.dry_run and (problem := site.backend.problem()) is not None:
            raise StateError(problem)  # an untrusted state directory: exit 73
        lock = contextlib.nullcontext() if args.dry_run else site.backend.site_lock(name)
        async with lock, site:
            planned, applied = await site.rollback(
                run_id=args.run, include_drifted=args.include_drifted, dry_run=args.dry_run)
        code, reason = ExitCode.OK, None
        if applied is not None and applied.failed:
            code, reason = ExitCode.FAILED, f"{applied.failed} restoring writes failed"
        elif applied is not None and not applied.complete:
            code, reason = ExitCode.FAILED, f"{applied.not_attempted} restoring writes not sent"
        elif args.dry_run and planned.plan.changes:
            code = ExitCode.PENDING
        return SiteOutcome(name, code, reason,
                           fields=rollback_dict(planned, applied, dry_run=args.dry_run),
                           text=rollback_text(name, planned, applied, max_rows=args.max_rows))

    return run_site_command("rollback", args, rollback)
