"""``syncd explain SKU``: why a SKU says what it says, and what the next sync will do.

Reads the source and walks the store exactly as ``syncd plan`` does (the safety guards are
evaluated but never refuse here: nothing is written), then ``syncd.explain`` lays out every
variant carrying the SKU, the source rows naming it, the rules, the last journaled writes
and, in words, why each variant will or will not be written.
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
from syncd.explain import Explanation, explain_sku
from syncd.render import to_json
from syncd.sync import open_site_syncs

DESCRIPTION = """\
Explain one SKU: every store variant carrying it, the source rows naming it (file:line),
the buffer/cap/untracked/unmatched rules, the current and desired values, the last writes
from the journal, and why the next sync will or will not write it. Nothing is written.
"""

EPILOG = """\
exit status:
  0  the next sync would not write this SKU
  2  the next sync would write it
  1  error (the source, Wix)
  78 invalid configuration

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
    parser.add_argument("--output", choices=("text", "json"), default="text",
                        help="text for people (default), json for scripts")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """``syncd explain``."""
    settings = load_command_settings(args, sys.stderr)
    if isinstance(settings, ExitCode):
        return settings
    return asyncio.run(_explain(settings, args))


async def _explain(settings: Settings, args: argparse.Namespace) -> int:
    failed = pending = False
    documents: list[dict[str, object]] = []
    async with open_site_syncs(settings, site_names=args.site or ()) as syncs:
        for name, site in syncs.items():
            try:
                async with site:
                    planned = await site.plan(force=True)
                entries = await site.backend.read_journal(name)
            except SyncdError as exc:
                print_site_error(name, exc)
                failed = True
                continue
            explanation = explain_sku(
                args.sku, plan=planned.plan, snapshot=planned.snapshot,
                rows=planned.source.rows, policy=site.site.policy, journal=entries)
            pending |= explanation.will_write
            if args.output == "json":
                documents.append({"site": name, **explanation.to_dict()})
            else:
                print(explanation_text(name, explanation))
    if args.output == "json":
        print(to_json(documents))
    if failed:
        return ExitCode.FAILED
    return ExitCode.PENDING if pending else ExitCode.OK


def explanation_text(site: str, e: Explanation) -> str:
    """The explanation for people."""
    lines = [f"site {site}: {e.summary}", ""]
    lines.append(f"store variants carrying {e.sku}: {len(e.variants)}")
    for v in e.variants:
        sv = v.variant
        where = f" at location {sv.location_id}" if sv.location_id else ""
        hidden = " (hidden)" if sv.hidden else ""
        lines.append(f"  {sv.product_name or sv.product_id}{hidden} "
                     f"[{sv.product_id}/{sv.variant_id}{where}]")
        lines.append(f"    now: {v.current}; source wants: {v.desired or 'nothing'}")
        lines.append(f"    {v.why}")
    lines.append(f"source rows naming it: {len(e.rows)}")
    for r in e.rows:
        value = (f"quantity {r.quantity}" if r.quantity is not None
                 else f"in_stock {'true' if r.in_stock else 'false'}")
        lines.append(f"  {r.source}:{r.line}: {r.key} = {value}")
    lines.append("rules:")
    lines.extend(f"  {rule}" for rule in e.rules)
    lines.append(f"last writes in the journal: {len(e.writes)}")
    for w in e.writes:
        lines.append(f"  {w.time:%Y-%m-%d %H:%M:%S} UTC  run {w.run_id}  {w.outcome.value}: "
                     f"{_state(w.before.quantity, w.before.in_stock)} -> "
                     f"{_state(w.after.quantity, w.after.in_stock)}"
                     + (f" ({w.error})" if w.error else ""))
    return "\n".join(lines)


def _state(quantity: int | None, in_stock: bool | None) -> str:
    if quantity is not None:
        return str(quantity)
    return "in stock" if in_stock else "out of stock"
