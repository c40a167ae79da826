"""The ``syncd`` command line: one sub-command per job, each defined in its own module.

Each module of ``syncd.frontends.commands`` exposes ``register(subparsers)``, which adds its parser
and sets ``func`` (taking the parsed namespace, returning an exit code). This module only
wires them together, so adding a command never touches another command's code.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from types import ModuleType

from syncd import __version__
from syncd.frontends.commands import (
    db,
    demo,
    emulator,
    explain,
    journal,
    lint,
    probe,
    rollback,
    run,
    sync,
    validate,
)
from syncd.frontends.commands.common import EXIT_STATUS_HELP, ExitCode

COMMAND_MODULES: tuple[ModuleType, ...] = (emulator, validate, sync, rollback, journal, demo,
                                           run, explain, lint, probe, db)
"""Modules providing sub-commands, in the order ``--help`` lists them."""

DESCRIPTION = """\
syncd keeps a Wix store's inventory equal to a source of truth (a CSV or YAML stock file).
It reads the whole store in the fewest API calls Wix allows, computes the difference, and
writes only what must change, under Wix's rate limit of 200 requests per minute per site.
"""

EPILOG = """\
typical use:
  syncd emulator --generate-products 50     an offline Wix store to try everything against
  syncd validate --config syncd.yaml        check config and stock file, no network
  syncd plan --config syncd.yaml            what would change (exit 2 when changes are pending)
  syncd sync --config syncd.yaml            plan, check the safety guards, write, journal
  syncd rollback --config syncd.yaml        undo the last sync, from its journal
  syncd journal --config syncd.yaml         the runs in the journal, their writes, open ones
  syncd run --config syncd.yaml             the daemon: schedule, file watch, health, metrics
  syncd explain SKU --config syncd.yaml     why a SKU says what it says, what a sync will do
  syncd lint --config syncd.yaml            what in the store will stop or confuse a sync
  syncd probe --config syncd.yaml           how the store answers Wix's open points (read-only)

exit status (the same meaning in every command; each command's --help says which it uses):
""" + EXIT_STATUS_HELP + """

Run 'syncd COMMAND --help' for the options of each command.
"""


def build_parser() -> argparse.ArgumentParser:
    """The full parser, with every registered sub-command."""
    parser = argparse.ArgumentParser(
        prog="syncd",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"syncd {__version__}")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the chosen command; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help(sys.stderr)
        return ExitCode.FAILED
    try:
        code: int = func(args)
    except BrokenPipeError:
        # The reader went away (`syncd plan --output json | head`): end quietly, and keep
        # the interpreter's final flush from complaining about the same pipe.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return ExitCode.FAILED
    return int(code)
