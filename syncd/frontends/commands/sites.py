"""Running a command on each configured site: one loop, one way of reporting a site's
error, one exit code, one JSON object.

A command supplies what it does with one site (a coroutine returning a ``SiteOutcome``);
``run_on_sites`` opens the sites (``--site`` honoured), runs it on each in turn, turns a
site's ``SyncdError`` into that site's outcome (``syncd.cycle.endings`` classifies it, as it
does for ``sync`` and the daemon) so that the other sites still run, prints each site's
text as it finishes, and ends with the exit code of the whole (``overall_code``) and, with
``--output json``, the one JSON object (``run_document``). Anything that is not a
``SyncdError`` is a bug and propagates.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import sys
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TextIO

from syncd.base.errors import SyncdError
from syncd.cycle.sync import SiteSync
from syncd.cycle.wiring import open_site_syncs
from syncd.edges.config import Settings
from syncd.frontends.commands.common import ExitCode, load_command_settings, print_site_error
from syncd.frontends.commands.outcome import SiteOutcome, error_outcome, overall_code, run_document
from syncd.frontends.commands.statecheck import run_on_state
from syncd.frontends.render import to_json

SiteWork = Callable[[str, SiteSync], Awaitable[SiteOutcome]]
"""What a command does with one site: its name and its open-able ``SiteSync``."""

OnError = Callable[[str, SyncdError], SiteOutcome]
"""A site's outcome when an error stopped it (``error_outcome`` unless a command has more
to say, as ``plan`` and ``sync`` have: the plan a guard refused)."""


def add_output_option(parser: argparse.ArgumentParser) -> None:
    """``--output text|json``: the same choice, and the same JSON object, everywhere."""
    parser.add_argument("--output", choices=("text", "json"), default="text",
                        help="text for people (default), json for scripts: one object "
                             "(command, outcome, exit_code, reason, sites)")


def run_site_command(command: str, args: argparse.Namespace, work: SiteWork, *,
                     together: bool = False) -> int:
    """Load ``--config``, run ``work`` on each selected site (with ``together``, on all of
    them at once), print, return the exit code."""
    settings = load_settings_for(command, args)
    if isinstance(settings, ExitCode):
        return settings
    return run_on_state(run_on_sites(command, settings, args, work, together=together))


def load_settings_for(command: str, args: argparse.Namespace) -> Settings | ExitCode:
    """``load_command_settings``; when the settings cannot be used and ``--output json``
    was asked for, the run's one JSON object still follows, its reason the message (every
    configuration error) printed on stderr."""
    said = io.StringIO()
    settings = load_command_settings(args, said)
    print(said.getvalue(), end="", file=sys.stderr)
    if isinstance(settings, ExitCode) and getattr(args, "output", "text") == "json":
        reason = said.getvalue().strip().removeprefix("syncd: ")
        finish(command, [], output="json", code=settings, reason=reason)
    return settings


async def run_on_sites(command: str, settings: Settings, args: argparse.Namespace,
                       work: SiteWork, *, on_error: OnError = error_outcome,
                       together: bool = False) -> int:
    """``work`` on each site selected by ``--site``, then the run's exit code (and JSON)."""
    async with open_site_syncs(settings, site_names=args.site or ()) as syncs:
        outcomes = await each_site(syncs, lambda name: work(name, syncs[name]),
                                   text=args.output == "text", on_error=on_error,
                                   together=together)
    return finish(command, outcomes, output=args.output)


async def each_site(names: Iterable[str], work: Callable[[str], Awaitable[SiteOutcome]], *,
                    text: bool, on_error: OnError = error_outcome,
                    together: bool = False) -> list[SiteOutcome]:
    """``work`` on each site in turn (``together``: on every site at once, each paced by
    its own budget); a site's ``SyncdError`` becomes its outcome (``on_error``). With
    ``text``, each site's text is printed as it finishes (``together``: in site order once
    all have), an error as ``syncd: site NAME: message`` on stderr."""

    async def one(name: str) -> tuple[SiteOutcome, SyncdError | None]:
        try:
            return await work(name), None
        except SyncdError as exc:
            return on_error(name, exc), exc

    def show(name: str, outcome: SiteOutcome, error: SyncdError | None) -> None:
        if not text:
            return
        if error is not None:
            print_site_error(name, error)
        elif outcome.text is not None:
            print(outcome.text)

    names = list(names)
    if together:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(one(name), name=f"site {name}") for name in names]
        done = [task.result() for task in tasks]
        for name, (outcome, error) in zip(names, done, strict=True):
            show(name, outcome, error)
        return [outcome for outcome, _ in done]
    outcomes = []
    for name in names:
        outcome, error = await one(name)
        show(name, outcome, error)
        outcomes.append(outcome)
    return outcomes


def finish(command: str, outcomes: Iterable[SiteOutcome], *, output: str,
           code: ExitCode | None = None, reason: str | None = None,
           out: TextIO | None = None, **extra: Any) -> int:
    """The run's exit code (from its sites' unless given); with ``output == "json"``,
    its one JSON object printed (on ``out``, default stdout). ``extra`` are the command's
    top-level fields."""
    outcomes = list(outcomes)
    if code is None:
        code = overall_code(o.code for o in outcomes)
    if output == "json":
        print(to_json(run_document(command, outcomes, code, reason=reason, **extra)),
              file=out or sys.stdout)
    return code
