"""``syncd probe``: ask each store, read-only, which reading of Wix's open points holds.

Wix's docs leave some behaviour open (``wix-api.md``, "unconfirmed"); syncd is correct under
every reading, which costs calls. A probe asks the store itself in a few reads, within a
budget it states up front, paced by the site's rate limiter; the findings are stored per
site (state backend) and used by the walk and ``write_mode: auto`` while they are younger
than ``probe.max_age_days``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import replace
from typing import Any

from syncd.cycle.probe import probe_site, store_report
from syncd.cycle.probe_write import WRITE_TEST_CALLS, WriteTestRecord, run_write_test
from syncd.cycle.sync import SiteSync
from syncd.edges.wix.probe_ask import PROBE_BUDGET
from syncd.frontends.commands.common import ExitCode, add_site_options
from syncd.frontends.commands.live import stop_on_signals
from syncd.frontends.commands.outcome import SiteOutcome
from syncd.frontends.commands.sites import add_output_option, run_site_command
from syncd.frontends.render.probe import probe_dict, probe_text

DESCRIPTION = f"""\
Find out, read-only, how each store answers the points Wix's documentation leaves open
(how totalResults counts hidden products, how a numericId bound is compared, whether
default values are left out of answers, where cursors end, 401 or 403 for a wrong key...).
At most {PROBE_BUDGET} requests per site, paced by the site's rate limit like any sync; nothing
is written (but a product an interrupted --write-test left changed, which is put back
first), and the rate limit is never exceeded to provoke a 429 (what only a 429 shows is
kept from one met anyway, by the probe or by a sync). For each point it prints the reading
it observed and the evidence (the request and the telling part of the answer, never the API
key), or "undetermined" and why.

--write-test PRODUCT_ID (opt-in, one site): on that one product, also write +1 and back by
Increment/Decrement and by an absolute update, journaled like any sync, to measure how long
a read takes to show a write, whether a write answered {{}} landed, and whether a write
answered 5xx had landed (at most {WRITE_TEST_CALLS} more requests). On a product that does not
track quantities: one Increment of +1, to see whether it is refused, skipped or applied. On
a Catalog V3 store: one Bulk Update of one of its items written its own value with an item
that does not exist, to see whether errors are per item and results indexed. The product is
put back exactly and read again to prove it; Ctrl-C stops the test and still puts it back;
after a kill -9, the next `syncd probe` or `syncd sync` puts it back from the journal first.

The findings are stored per site (the state directory, or PostgreSQL), each with its date; a
point a probe leaves undetermined keeps its last determined finding and that finding's date
(a read-only probe keeps what a write test measured, until the next write test replaces it).
While a finding is younger than probe.max_age_days (default 30), syncd takes the cheaper
safe path it allows (`syncd plan` lists the findings it used); older ones are ignored.
"""

EPILOG = """\
exit status:
  0  probed (some points may be undetermined: that is not an error)
  1  error (Wix could not be asked, the state backend could not keep the findings)
  73 a site's state cannot be written
  78 invalid configuration

--output json prints one object: command, outcome, exit_code, reason, and per site its
site, outcome, reason and probe (budget, site, taken_at, calls, findings: point, reading,
evidence, measured, at). Attach it to a bug report: it holds no secret.

examples:
  syncd probe --config syncd.yaml
  syncd probe --config syncd.yaml --site shop --output json > probe-shop.json
  syncd probe --config syncd.yaml --site shop --write-test 1a2b3c4d-...   # writes, then puts back
"""


def register(subparsers: Any) -> None:
    """Add the ``probe`` sub-command."""
    parser = subparsers.add_parser(
        "probe", help="ask each store (read-only) how it answers Wix's open points",
        description=DESCRIPTION, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    add_site_options(parser)
    add_output_option(parser)
    parser.add_argument("--write-test", metavar="PRODUCT_ID",
                        help="also write this one product up and back (journaled, put back "
                             "exactly) to measure what only writes show; needs "
                             "exactly one --site")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """``syncd probe``."""
    if args.write_test is not None and (args.site is None or len(args.site) != 1):
        print("syncd: --write-test names one product of one store: give exactly one --site",
              file=sys.stderr)
        return ExitCode.CONFIG

    async def probe(name: str, site: SiteSync) -> SiteOutcome:
        async with site:
            # A write test killed earlier left a product changed: put it back first (the
            # one write a probe without --write-test ever makes).
            await site.settle_write_tests()
            report = await probe_site(site)
            record = WriteTestRecord()
            if args.write_test is not None:
                stop = asyncio.Event()
                with stop_on_signals(stop):
                    found = await run_write_test(site, args.write_test, stop=stop,
                                                 record=record)
                measured = {f.point for f in found}
                report = await store_report(site, replace(
                    report, calls=report.calls + record.calls, findings=tuple(
                        f for f in report.findings if f.point not in measured)
                    + tuple(found)))
        max_age_days = site.probe_max_age.total_seconds() / 86_400
        fields: dict[str, Any] = {"probe": probe_dict(report, budget=PROBE_BUDGET)}
        text = probe_text(report, budget=PROBE_BUDGET, max_age_days=max_age_days)
        if args.write_test is None:
            return SiteOutcome(name, ExitCode.OK, fields=fields, text=text)
        fields["write_test"] = {"product_id": args.write_test, "run_id": record.run_id,
                                "budget": WRITE_TEST_CALLS, "calls": record.calls,
                                "restored": record.restored, "left": list(record.left)}
        said = (f"write test on product {args.write_test} (run {record.run_id}): "
                f"{record.calls} of at most {WRITE_TEST_CALLS} requests; ")
        if record.restored:
            return SiteOutcome(name, ExitCode.OK, fields=fields,
                               text=f"{text}\n{said}the product is exactly as it was "
                                    "(read again to check)")
        left = "; ".join(record.left) or "the last read did not show it"
        return SiteOutcome(name, ExitCode.FAILED, fields=fields, text=text,
                           reason=f"{said}the product is NOT yet as it was ({left}); "
                                  "the next `syncd probe` or `syncd sync` puts it back "
                                  "from the journal")

    # Sites probed at once: a probe is read-only and paced by each site's budget, an agency
    # waits for the slowest store rather than for the sum, and two sites of one API key
    # refused together show that the key's budget ran out (``rate_budget``).
    return run_site_command("probe", args, probe, together=args.write_test is None)
