"""``syncd lint``: what in the store will stop or confuse a sync, before one runs into it.

Walks the store as a sync would (plus, on Catalog V3, one Query Variants pass at
ceil(variants/1000) calls, which sees variants without inventory items and hidden
products), reads the source, and reports each kind of problem ``syncd.core.lint`` knows with a
count and examples. Nothing is written. The exit status makes it a CI step.
"""

from __future__ import annotations

import argparse
from typing import Any

from syncd.base.model import Catalog
from syncd.core.lint import Severity, lint_store, refusals
from syncd.cycle.sync import SiteSync
from syncd.edges.sources.matching import match_snapshot
from syncd.edges.wix.variants_v3 import read_catalog_variants
from syncd.frontends.commands.common import ExitCode, add_site_options
from syncd.frontends.commands.outcome import SiteOutcome
from syncd.frontends.commands.sites import add_output_option, run_site_command
from syncd.frontends.render import lint_text

DESCRIPTION = """\
Look for what in a store will stop or confuse a sync: duplicate SKUs, empty SKUs,
untracked products the source gives quantities for, hidden products, products with options
but no managed variants (V1), variants without inventory items (V3), and variants stocked at
several locations when no location is configured (V3). Each with a count and examples.
Nothing is written.

Severities follow what a sync does: ERROR only for a plan a sync refuses (no source row
matches the store, a safety guard trips), found by the same plan check a sync makes;
WARNING for what a sync handles and reports while it goes on (a duplicate SKU is never
written, the rest of the store is).
"""

EPILOG = """\
exit status:
  0  nothing at or above --fail-on was found (by default: a sync would run)
  7  problems at or above --fail-on were found (by default: a sync would refuse the
     plan; see the report)
  1  error (the source, Wix)
  73 a site's state (its journal) cannot be read
  78 invalid configuration

--output json prints one object: command, outcome ("problems" when exiting 7),
exit_code, reason, and per site its site, outcome, reason, api_calls, catalog, variants
and findings (problem, severity, title, count, examples, hint, checked, note).

examples:
  syncd lint --config syncd.yaml
  syncd lint --config syncd.yaml --output json --fail-on warning
"""


def register(subparsers: Any) -> None:
    """Add the ``lint`` sub-command."""
    parser = subparsers.add_parser(
        "lint", help="what in the store will stop or confuse a sync",
        description=DESCRIPTION, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    add_site_options(parser)
    add_output_option(parser)
    parser.add_argument("--fail-on", choices=("error", "warning"), default="error",
                        help="exit 7 when a problem of this severity or worse is found "
                             "(default: error)")
    parser.add_argument("--no-catalog", action="store_true",
                        help="V3: skip the Query Variants pass (no check for variants "
                             "without inventory items; fewer hidden products seen)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """``syncd lint``."""

    async def lint(name: str, site: SiteSync) -> SiteOutcome:
        source = await site.load_source()
        async with site:
            # The plan a sync would make, by the very check a sync makes (without raising):
            # lint's errors are exactly what that check refuses (``syncd.core.lint.severity``).
            planned = await site.plan(source=source, force=True)
            store = await site.store()
            # The plan's view of the store qualifies SKUs by location for a located source;
            # lint counts the store's own SKUs, so that case reads the store once more.
            snapshot = await store.walk() if source.located else planned.snapshot
            catalog = None
            if store.catalog is Catalog.V3 and not args.no_catalog:
                catalog, _calls = await read_catalog_variants(site.client)
        calls = site.client.calls.total
        # The source's SKUs are match keys already: compare the store's the same way.
        journal = await site.backend.read_journal(name) \
            if store.catalog is Catalog.V1 else None
        if source.located:
            snapshot = match_snapshot(snapshot, site.site.match)
        report = lint_store(snapshot, source.rows,
                            location_id=site.site.location_id, catalog=catalog,
                            journal=journal,
                            refusals=refusals(planned.match_problem, planned.guards))
        worst = report.worst()
        found = worst is Severity.ERROR or (worst is not None and args.fail_on == "warning")
        return SiteOutcome(name, ExitCode.PROBLEMS if found else ExitCode.OK,
                           fields={"api_calls": calls, **report.to_dict()},
                           text=lint_text(name, report, api_calls=calls))

    return run_site_command("lint", args, lint)
