"""``syncd lint``: what in the store will stop or confuse a sync, before one runs into it.

Walks the store as a sync would (plus, on Catalog V3, one Query Variants pass at
ceil(variants/1000) calls, which sees variants without inventory items and hidden
products), reads the source, and reports each kind of problem ``syncd.lint`` knows with a
count and examples. Nothing is written. The exit status makes it a CI step.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from syncd.commands.common import (
    ExitCode,
    add_site_options,
    load_command_settings,
    print_site_error,
)
from syncd.config import Settings
from syncd.errors import SyncdError
from syncd.lint import LintReport, Severity, lint_store
from syncd.model import Catalog
from syncd.render import to_json
from syncd.sources.matching import match_snapshot
from syncd.sync import open_site_syncs
from syncd.wix.variants_v3 import read_catalog_variants

DESCRIPTION = """\
Look for what in a store will stop or confuse a sync: duplicate SKUs, empty SKUs,
untracked products the source gives quantities for, hidden products, products with options
but no managed variants (V1), variants without inventory items (V3), and variants stocked at
several locations when no location is configured (V3). Each with a count and examples.
Nothing is written.
"""

EPILOG = """\
exit status:
  0  nothing at or above --fail-on was found
  7  problems at or above --fail-on were found (see the report)
  1  error (the source, Wix)
  78 invalid configuration

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
    parser.add_argument("--output", choices=("text", "json"), default="text",
                        help="text for people (default), json for scripts")
    parser.add_argument("--fail-on", choices=("error", "warning"), default="error",
                        help="exit 7 when a problem of this severity or worse is found "
                             "(default: error)")
    parser.add_argument("--no-catalog", action="store_true",
                        help="V3: skip the Query Variants pass (no check for variants "
                             "without inventory items; fewer hidden products seen)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """``syncd lint``."""
    settings = load_command_settings(args, sys.stderr)
    if isinstance(settings, ExitCode):
        return settings
    return asyncio.run(_lint(settings, args))


async def _lint(settings: Settings, args: argparse.Namespace) -> int:
    failed = found = False
    documents: list[dict[str, object]] = []
    async with open_site_syncs(settings, site_names=args.site or ()) as syncs:
        for name, site in syncs.items():
            try:
                source = await site.load_source()
                async with site:
                    store = await site.store()
                    snapshot = await store.walk()
                    catalog = None
                    if store.catalog is Catalog.V3 and not args.no_catalog:
                        catalog, _calls = await read_catalog_variants(site.client)
                calls = site.client.calls.total
            except SyncdError as exc:
                print_site_error(name, exc)
                failed = True
                continue
            # The source's SKUs are match keys already: compare the store's the same way.
            journal = await site.backend.read_journal(name) \
                if store.catalog is Catalog.V1 else None
            report = lint_store(match_snapshot(snapshot, site.site.match), source.rows,
                                location_id=site.site.location_id, catalog=catalog,
                                journal=journal)
            worst = report.worst()
            found |= worst is Severity.ERROR or (worst is not None and args.fail_on == "warning")
            if args.output == "json":
                documents.append({"site": name, "api_calls": calls, **report.to_dict()})
            else:
                print(report_text(name, report, api_calls=calls))
    if args.output == "json":
        print(to_json(documents))
    if failed:
        return ExitCode.FAILED
    return ExitCode.PROBLEMS if found else ExitCode.OK


def report_text(site: str, report: LintReport, *, api_calls: int) -> str:
    """The report for people."""
    problems = sum(1 for f in report.findings if f.count)
    lines = [f"site {site} ({report.catalog.value}, {report.variants} variants, "
             f"{api_calls} API calls): {problems} kind(s) of problem"]
    for f in report.findings:
        if not f.checked:
            lines.append(f"  -        {f.title}: not checked ({f.note})")
            continue
        mark = f.severity.value.upper() if f.count else "ok"
        lines.append(f"  {mark:<8} {f.title}: {f.count}")
        if f.count:
            lines.extend(f"             e.g. {ex}" for ex in f.examples)
            lines.append(f"             -> {f.hint}")
        if f.note:
            lines.append(f"             ({f.note})")
    return "\n".join(lines)
