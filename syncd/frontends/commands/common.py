"""What the sub-commands share: exit codes, the ``--config`` and site options, loading the
settings with logging configured, and printing a site's error.

Each command module exposes ``register(subparsers)`` for ``syncd.frontends.cli``.
"""

from __future__ import annotations

import argparse
import os
import sys
from enum import IntEnum
from typing import TextIO

from syncd.base.errors import ConfigError
from syncd.base.logs import SECRETS, configure_logging
from syncd.base.textsafe import safe_text
from syncd.edges.config import Settings

DEFAULT_CONFIG = "syncd.yaml"
ENV_CONFIG = "SYNCD_CONFIG"


class ExitCode(IntEnum):
    """The exit status of every ``syncd`` command; each number means one thing everywhere."""

    OK = 0
    """Done: everything planned landed, nothing is pending, or the daemon stopped cleanly."""

    FAILED = 1
    """An error (Wix, the source, a failed write, an unexpected failure): see the message."""

    PENDING = 2
    """``plan`` and every ``--dry-run``: changes are pending. (argparse also exits 2 on a
    command line it cannot parse, with a usage message.)"""

    REFUSED = 3
    """A safety guard refused a plan: nothing was written to that site."""

    LOCKED = 4
    """Another syncd process holds a site's lock (``<state_dir>/<site>.lock`` names its
    pid)."""

    STOPPED = 5
    """A stop (Ctrl-C, SIGTERM) ended the run early: no request was sent after it; the
    account lists what was written and what was not sent."""

    NO_MATCH = 6
    """The source matched no store variant, or far fewer than at the last good run (a wrong
    store, SKUs in another case): nothing was written (policy ``fail_on_no_match``)."""

    PROBLEMS = 7
    """``lint``: a sync would refuse the plan (or, with ``--fail-on warning``, the store has
    problems a sync handles with a warning)."""

    STATE = 73
    """The state directory cannot be created or written, or cannot be trusted (another
    owner, writable by everyone, a link where a state file belongs) (``EX_CANTCREAT``): fix
    its path, owner or permissions; the systemd unit does not restart on it."""

    ABORTED = 130
    """A second Ctrl-C/SIGTERM ended the run at once: requests that were on the wire are
    journaled ``pending`` (they may have landed)."""

    CONFIG = 78
    """The configuration cannot be used, or the daemon's HTTP address cannot be bound
    (``EX_CONFIG`` of sysexits.h): restarting cannot help, so the systemd unit lists it in
    ``RestartPreventExitStatus``."""


EXIT_MEANINGS: dict[ExitCode, str] = {
    ExitCode.OK: "done: everything landed, nothing pending, or the daemon stopped cleanly",
    ExitCode.FAILED: "error (Wix, the source, failed writes): see the message",
    ExitCode.PENDING: "plan or --dry-run: changes are pending",
    ExitCode.REFUSED: "a safety guard refused a plan: nothing was written to that site",
    ExitCode.LOCKED: "another syncd process holds a site's lock",
    ExitCode.STOPPED: "stopped by a signal: nothing sent after it, see the account",
    ExitCode.NO_MATCH: "the source matched no (or far fewer) store variants: wrong store?",
    ExitCode.PROBLEMS: "lint found problems in the store",
    ExitCode.STATE: "the state directory cannot be written or is not private",
    ExitCode.ABORTED: "a second signal ended the run at once",
    ExitCode.CONFIG: "invalid configuration or HTTP address: restarting cannot help",
}

EXIT_STATUS_HELP = "\n".join(f"  {code.value:>2}  {text}" for code, text in EXIT_MEANINGS.items())
"""Every exit code with its meaning, for ``syncd --help``."""


def add_config_option(parser: argparse.ArgumentParser) -> None:
    """``--config FILE``, defaulting to $SYNCD_CONFIG, then ./syncd.yaml."""
    parser.add_argument(
        "--config", "-c", metavar="FILE",
        default=os.environ.get(ENV_CONFIG, DEFAULT_CONFIG),
        help=f"the configuration file (default: ${ENV_CONFIG}, else ./{DEFAULT_CONFIG}); "
             "see docs/configuration.md")


def add_site_options(parser: argparse.ArgumentParser) -> None:
    """The options every command that talks to configured sites shares: ``--config``,
    ``--site``, ``--max-rows`` and ``--log-level`` (read by ``load_command_settings``)."""
    add_config_option(parser)
    parser.add_argument("--site", metavar="NAME", action="append",
                        help="only this site (repeatable; default: every configured site)")
    parser.add_argument("--max-rows", type=int, default=200, metavar="N",
                        help="changes listed in the text table (default 200; the counts "
                             "always cover all)")
    parser.add_argument("--log-level", choices=("debug", "info", "warning", "error"),
                        help="log level on stderr (default: warning on a terminal, the "
                             "configured level otherwise)")


def load_command_settings(args: argparse.Namespace, out: TextIO) -> Settings | ExitCode:
    """The settings of ``--config`` with logging configured, or the exit code after
    printing why they cannot be used."""
    try:
        settings = Settings.from_file(args.config)
    except ConfigError as exc:
        print(f"syncd: invalid configuration: {exc}", file=out)
        return ExitCode.CONFIG
    known = {s.name for s in settings.sites}
    unknown = sorted(set(args.site or ()) - known)
    if unknown:
        print(f"syncd: no site named {', '.join(unknown)} in {settings.path} "
              f"(sites: {', '.join(sorted(known))})", file=out)
        return ExitCode.CONFIG
    level = args.log_level or ("warning" if sys.stderr.isatty() else settings.log.level.value)
    fmt = settings.log.format.value
    configure_logging(level=level, json=None if fmt == "auto" else fmt == "json")
    return settings


def print_site_error(site: str, exc: BaseException | str) -> None:
    """``syncd: site NAME: message`` on stderr, with every known secret redacted."""
    print(f"syncd: site {site}: {safe_text(SECRETS.redact(str(exc)))}", file=sys.stderr)
