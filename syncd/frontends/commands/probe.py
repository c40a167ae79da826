"""``syncd probe``: ask each store, read-only, which reading of Wix's open points holds.

Wix's docs leave some behaviour open (``wix-api.md``, "unconfirmed"); syncd is correct under
every reading, which costs calls. A probe asks the store itself in a few reads, within a
budget it states up front, paced by the site's rate limiter; the findings are stored per
site (state backend) and used by the walk and ``write_mode: auto`` while they are younger
than ``probe.max_age_days``.
"""

from __future__ import annotations

import argparse
from typing import Any

from syncd.cycle.probe import probe_site
from syncd.cycle.sync import SiteSync
from syncd.edges.wix.probe_ask import PROBE_BUDGET
from syncd.frontends.commands.common import ExitCode, add_site_options
from syncd.frontends.commands.outcome import SiteOutcome
from syncd.frontends.commands.sites import add_output_option, run_site_command
from syncd.frontends.render.probe import probe_dict, probe_text

DESCRIPTION = f"""\
Find out, read-only, how each store answers the points Wix's documentation leaves open
(how totalResults counts hidden products, how a numericId bound is compared, whether
default values are left out of answers, where cursors end, 401 or 403 for a wrong key...).
At most {PROBE_BUDGET} requests per site, paced by the site's rate limit like any sync; nothing
is written, and the rate limit is never exceeded (so what only a 429 shows stays
undetermined). For each point it prints the reading it observed and the evidence (the
request and the telling part of the answer, never the API key), or "undetermined" and why.

The findings are stored per site (the state directory, or PostgreSQL) with their date. While
they are younger than probe.max_age_days (default 30), syncd takes the cheaper safe path
they allow (`syncd plan` lists the findings it used); older ones are ignored.
"""

EPILOG = """\
exit status:
  0  probed (some points may be undetermined: that is not an error)
  1  error (Wix could not be asked, the state backend could not keep the findings)
  73 a site's state cannot be written
  78 invalid configuration

--output json prints one object: command, outcome, exit_code, reason, and per site its
site, outcome, reason and probe (budget, site, taken_at, calls, findings: point, reading,
evidence, measured). Attach it to a bug report: it holds no secret.

examples:
  syncd probe --config syncd.yaml
  syncd probe --config syncd.yaml --site shop --output json > probe-shop.json
"""


def register(subparsers: Any) -> None:
    """Add the ``probe`` sub-command."""
    parser = subparsers.add_parser(
        "probe", help="ask each store (read-only) how it answers Wix's open points",
        description=DESCRIPTION, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    add_site_options(parser)
    add_output_option(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """``syncd probe``."""

    async def probe(name: str, site: SiteSync) -> SiteOutcome:
        async with site:
            report = await probe_site(site)
        max_age_days = site.probe_max_age.total_seconds() / 86_400
        return SiteOutcome(name, ExitCode.OK,
                           fields={"probe": probe_dict(report, budget=PROBE_BUDGET)},
                           text=probe_text(report, budget=PROBE_BUDGET,
                                           max_age_days=max_age_days))

    return run_site_command("probe", args, probe)
