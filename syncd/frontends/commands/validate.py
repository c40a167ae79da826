"""``syncd validate``: check the configuration and every source without contacting Wix.

Meant for CI pipelines that produce the stock file and for operators editing the config:
it loads the settings exactly as a sync would (API keys included, so a missing variable is
caught), reads each site's source, lists every invalid row as ``file:line: field: reason``,
checks each site's run state in the configured state backend (the state directory, or the
PostgreSQL database), and exits 0 when a sync could start, non-zero when it could not.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from syncd.base.errors import ConfigError, SourceError, StateError
from syncd.base.logs import SECRETS
from syncd.base.textsafe import safe_text
from syncd.edges.backend import RunState, backend_for
from syncd.edges.backend.local.check import state_dir_problem
from syncd.edges.config import (
    OnInvalidRow,
    ScheduleSettings,
    Settings,
    SiteSettings,
    SourceSettings,
)
from syncd.edges.sources import InvalidRowsError, load_desired
from syncd.edges.sources.remote import fetch_copy
from syncd.frontends.commands.common import ExitCode, add_config_option
from syncd.frontends.commands.outcome import SiteOutcome, overall_code
from syncd.frontends.commands.sites import add_output_option, finish

DESCRIPTION = """\
Check a syncd configuration file and the stock files it names, without contacting Wix:
every key of the configuration, each site's API key source (the variable must be set or
the file readable), every row of every source, and each site's run state (in the state
directory, or in PostgreSQL with state_backend: postgres). Prints what it found; invalid
rows are listed as FILE:LINE: FIELD: REASON.
"""

EPILOG = """\
exit status:
  0  valid: a sync could start (invalid rows are tolerated with on_invalid_row: skip,
     unless --strict)
  1  invalid: a source or a state file must be fixed first
  78 invalid configuration

--output json prints one object: command, outcome, exit_code, reason, config, state_dir
(path, problem), state_backend (problem), and per site its site, outcome, reason,
invalid_rows (of all its sources), sources (source, rows, invalid_rows, problem) and
run_state (last_success_at, source_rows, or null).

examples:
  syncd validate --config /etc/syncd/syncd.yaml
  WIX_API_KEY=demo-key syncd validate -c config/syncd.example.yaml --strict
"""


def register(subparsers: Any) -> None:
    """Add the ``validate`` sub-command."""
    parser = subparsers.add_parser(
        "validate",
        help="check config and stock files (no network)",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_config_option(parser)
    parser.add_argument("--site", metavar="NAME", action="append",
                        help="check only this site (repeatable; default: every site)")
    parser.add_argument("--strict", action="store_true",
                        help="fail on any invalid row, even with on_invalid_row: skip")
    add_output_option(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, *, out: TextIO | None = None) -> int:
    """Validate ``args.config``; returns the exit status."""
    out = out or sys.stdout
    output = getattr(args, "output", "text")
    text = out if output == "text" else io.StringIO()
    try:
        settings = Settings.from_file(args.config)
    except ConfigError as e:
        print(f"invalid configuration: {e}", file=text)
        return finish("validate", [], output=output, code=ExitCode.CONFIG,
                      reason=f"invalid configuration: {e}", out=out)
    sites = settings.sites
    if args.site:
        unknown = sorted(set(args.site) - {s.name for s in sites})
        if unknown:
            known = ", ".join(s.name for s in sites)
            reason = f"no site named {', '.join(unknown)} in {settings.path} (sites: {known})"
            print(reason, file=text)
            return finish("validate", [], output=output, code=ExitCode.CONFIG, reason=reason,
                          out=out)
        sites = tuple(s for s in sites if s.name in args.site)

    states, backend_problem = _run_states(settings, sites)
    print(f"configuration {settings.path}: {len(settings.sites)} "
          f"site{'s' if len(settings.sites) != 1 else ''}", file=text)
    outcomes: list[SiteOutcome] = []
    checked: dict[SourceSettings, _SourceCheck] = {}
    for site in sites:
        _print_site(site, text)
        reasons: list[tuple[str, str]] = []
        for source in site.sources:
            if source not in checked:
                checked[source] = _check_source(source, strict=args.strict, out=text,
                                                state_dir=settings.state_dir)
            else:
                print("  source: checked above", file=text)
            if (refused := checked[source].problem) is not None:
                reasons.append(("invalid_source", refused))
        state = states.get(site.name)
        if isinstance(state, StateError):
            print(f"  run state: {state}", file=text)
            reasons.append(("state_unusable", str(state)))
        elif site.name in states:
            print("  run state: " + (f"last success {state.last_success_at:%Y-%m-%d %H:%M:%S} "
                                     f"UTC, {state.source_rows} source rows" if state
                                     else "no successful run yet"), file=text)
        outcomes.append(SiteOutcome(
            site.name, ExitCode.FAILED if reasons else ExitCode.OK,
            reasons[0][1] if reasons else None, outcome=reasons[0][0] if reasons else None,
            fields={"invalid_rows": [row for source in site.sources
                                     for row in checked[source].invalid_rows],
                    "sources": [checked[source].as_dict() for source in site.sources],
                    "run_state": _state_dict(state)}))
    state_problem = state_dir_problem(settings.state_dir, keep=False)
    if backend_problem is not None:
        print(f"state backend: {backend_problem}", file=text)
    print(f"state_dir: {state_problem or settings.state_dir}", file=text)
    print(f"schedule: {_describe_schedule(settings.schedule)}", file=text)
    print(f"http: {settings.http.listen}; log: {settings.log.level}, {settings.log.format}",
          file=text)
    if settings.console.enabled and settings.console.token_error is not None:
        print(f"console: {settings.console.token_error} (syncd run refuses to start until "
              "it is fixed; the one-shot commands do not need the token)", file=text)
    problem = backend_problem or state_problem
    code = overall_code([o.code for o in outcomes]
                        + ([ExitCode.FAILED] if problem is not None else []))
    print("valid" if code is ExitCode.OK else "invalid", file=text)
    return finish("validate", outcomes, output=output, code=code, reason=problem, out=out,
                  config=str(settings.path),
                  state_dir={"path": str(settings.state_dir), "problem": state_problem},
                  state_backend={"problem": backend_problem})


def _state_dict(state: RunState | StateError | None) -> dict[str, Any] | None:
    if state is None or isinstance(state, StateError):
        return None
    return {"last_success_at": state.last_success_at.isoformat(),
            "source_rows": state.source_rows}


@dataclass(frozen=True, slots=True)
class _SourceCheck:
    """What checking one source found: its rows and why a sync would refuse it."""

    name: str
    rows: int
    invalid_rows: tuple[str, ...]
    problem: str | None
    """Why a sync would refuse the source (None: it would not)."""

    def as_dict(self) -> dict[str, Any]:
        return {"source": self.name, "rows": self.rows, "invalid_rows": list(self.invalid_rows),
                "problem": self.problem}


RunStates = dict[str, RunState | StateError | None]


def _run_states(settings: Settings, sites: Sequence[SiteSettings]
                ) -> tuple[RunStates, str | None]:
    """Each site's run state from the configured backend (a ``StateError`` for a site
    whose state cannot be read), or why the backend cannot be used."""

    async def read() -> RunStates:
        states: RunStates = {}
        async with backend_for(settings) as backend:
            for site in sites:
                try:
                    states[site.name] = await backend.read_state(site.name)
                except StateError as e:
                    states[site.name] = e
        return states

    try:
        return asyncio.run(read()), None
    except StateError as e:
        return {}, SECRETS.redact(str(e))
    except OSError as e:
        return {}, f"unreachable: {SECRETS.redact(str(e))}"


def _print_site(site: SiteSettings, out: TextIO) -> None:
    p = site.policy
    print(f"site {site.name}: site id {site.site_id}, catalog {site.catalog}, {site.base_url}, "
          f"api key from {site.api_key_origin}", file=out)
    print(f"  requests: {site.rate_limit.requests} per {site.rate_limit.per_s:g} s, "
          f"{site.concurrency} in flight, timeout {site.timeout_s:g} s", file=out)
    print(f"  policy: unmatched {p.unmatched}, untracked {p.untracked}, buffer {p.buffer}, "
          f"cap {p.cap if p.cap is not None else 'none'}; guards: changes <= "
          f"{p.max_changed_fraction:.0%}, zeroed <= {p.max_zeroed}, source shrink <= "
          f"{p.max_source_shrink:.0%}", file=out)


def _check_source(source: SourceSettings, *, strict: bool, out: TextIO,
                  state_dir: Path) -> _SourceCheck:
    """Print what the source holds, and say whether it would stop a sync."""
    head = f"  source {source.name} ({source.format}, on invalid rows: {source.on_invalid_row})"
    try:
        desired = load_desired(source, on_invalid_row=OnInvalidRow.SKIP,
                               file=fetch_copy(source, state_dir))
    except InvalidRowsError as e:
        print(f"{head}: no usable rows, {len(e.errors)} invalid:", file=out)
        for error in e.errors:
            print(f"    {safe_text(str(error))}", file=out)
        return _SourceCheck(source.name, 0, tuple(str(x) for x in e.errors), str(e))
    except SourceError as e:
        print(f"{head}: {safe_text(str(e))}", file=out)
        return _SourceCheck(source.name, 0, (), str(e))
    errors = desired.errors
    print(f"{head}: {_plural(len(desired.rows), 'valid row')}" + (
        f", {len(errors)} invalid:" if errors else ""), file=out)
    for error in errors:
        print(f"    {safe_text(str(error))}", file=out)
    fatal = bool(errors) and (strict or source.on_invalid_row is OnInvalidRow.FAIL)
    if fatal:
        print("  a sync would refuse this source: fix the rows above" + (
            "" if strict else " (or set source.on_invalid_row: skip)"), file=out)
    return _SourceCheck(source.name, len(desired.rows), tuple(str(x) for x in errors),
                        f"{source.name}: {_plural(len(errors), 'invalid row')}" if fatal
                        else None)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _describe_schedule(s: ScheduleSettings) -> str:
    when = f"cron {s.cron!r} (UTC)" if s.cron else f"every {s.interval_s:g} s"
    watch = f", on source change after {s.settle_s:g} s" if s.watch_source else ""
    full = f", full sync at least every {s.full_every_s:g} s" if s.full_every_s else ""
    return f"{when}, jitter {s.jitter_s:g} s{watch}{full}"
