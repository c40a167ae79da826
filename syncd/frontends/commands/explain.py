"""``syncd explain SKU``: why a SKU says what it says, and what the next sync will do.

Reads the source and walks the store exactly as ``syncd plan`` does (the safety guards are
evaluated but never refuse here: nothing is written), then ``syncd.core.explain`` lays out every
variant carrying the SKU, the source rows naming it, the rules, the last journaled writes
and, in words, why each variant will or will not be written.
"""

from __future__ import annotations

import argparse
from typing import Any

from syncd.core.explain import JOURNAL_FOUND, JOURNAL_LINES, explain_sku, sku_needles
from syncd.cycle.sync import SiteSync
from syncd.frontends.commands.common import ExitCode, add_site_options
from syncd.frontends.commands.outcome import SiteOutcome
from syncd.frontends.commands.sites import add_output_option, run_site_command
from syncd.frontends.render import explanation_text

DESCRIPTION = """\
Explain one SKU: every store variant carrying it, the source rows naming it (file:line),
the buffer/cap/untracked/unmatched rules, the current and desired values, the last writes
among the journal's newest 10,000 lines, and why the next sync will or will not write
it. Nothing is written.
"""

EPILOG = """\
exit status:
  0  the next sync would not write this SKU
  2  the next sync would write it
  1  error (the source, Wix)
  73 a site's state (its journal) cannot be read
  78 invalid configuration

--output json prints one object: command, outcome, exit_code, reason, and per site its
site, outcome, reason and the explanation (sku, summary, will_write, variants, rows,
rules, writes).

examples:
  syncd explain MUG-CLASSIC --config syncd.yaml
  syncd explain MUG-CLASSIC --config syncd.yaml --output json
"""


def register(subparsers: Any) -> None:
    """Add the ``explain`` sub-command."""
    parser = subparsers.add_parser(
        "explain", help="why a SKU says what it says, and what the next sync does",
        description=DESCRIPTION, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sku", metavar="SKU", help="the SKU to explain")
    add_site_options(parser)
    add_output_option(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """``syncd explain``."""

    async def explain(name: str, site: SiteSync) -> SiteOutcome:
        async with site:
            planned = await site.plan(force=True)
        entries = await site.backend.read_recent_about(
            name, sku_needles(args.sku, planned.snapshot), limit=JOURNAL_FOUND,
            window=JOURNAL_LINES)
        explanation = explain_sku(
            args.sku, plan=planned.plan, snapshot=planned.snapshot,
            rows=planned.source.rows, policy=site.site.policy, journal=entries,
            read_at=planned.read_at)
        return SiteOutcome(name, ExitCode.PENDING if explanation.will_write else ExitCode.OK,
                           fields=explanation.to_dict(),
                           text=explanation_text(name, explanation))

    return run_site_command("explain", args, explain)
