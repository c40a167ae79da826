"""``syncd run`` (the daemon) and ``syncd healthcheck`` (a probe for container health checks).

The entry point does what only an entry point should: configure logging once, read the
configuration, create the one metrics registry of the process, and hand them to the daemon
under ``asyncio.run``. Failures become exit codes a service manager can act on (see
``RUN_EPILOG``); systemd's unit marks 78 as "do not restart", since restarting cannot fix a
configuration file.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path

import structlog

from syncd.base.errors import ConfigError, ListenError, StateError, SyncdError
from syncd.base.logs import configure_logging
from syncd.cycle.metrics import Metrics
from syncd.edges.backend import SiteLocked, backend_for
from syncd.edges.config import Settings
from syncd.edges.config.schema import DEFAULT_LISTEN, ListenAddress
from syncd.frontends.commands.common import DEFAULT_CONFIG, ENV_CONFIG, ExitCode
from syncd.frontends.daemon.notify import SystemdNotifier

log = structlog.get_logger("syncd.frontends.daemon")

RUN_DESCRIPTION = f"""\
Run syncd as a daemon: keep every configured site in sync until stopped.

Each site gets its own loop. A full cycle (the whole store is read and compared) runs at
start-up and then on the schedule (schedule.interval_seconds or schedule.cron, plus up to
schedule.jitter_seconds). With schedule.watch_source, an edit of the source file is applied
soon after the file stops changing for schedule.settle_seconds: a few changed rows re-read
and write only their products, many changed rows run a full cycle. A failed cycle is retried
after 5 s, 10 s, 20 s ... up to 5 min; an invalid source is reported and nothing is written.

Signals: SIGTERM/SIGINT stop new work, let writes in flight finish for
shutdown_grace_seconds (writes still running then are cancelled and journaled as
"unknown"), then exit 0; a second signal stops at once. SIGHUP re-reads the
configuration file; an invalid file is logged and the running configuration kept.

With sites_dir, each site file is checked on its own: a bad one disables its store
(site_disabled in the log with file:line and field, "Disabled sites" on the console,
/readyz details, syncd_site_config_ok 0) while every other store runs and reloads. A store
whose file turns bad on a reload keeps running its previous settings until the file is
fixed. Errors of the main file still stop the daemon (exit 78); syncd validate refuses any
bad site file.

HTTP (http.listen, default {DEFAULT_LISTEN}): /healthz (alive), /readyz (per site: unready
when its last successful cycle is older than http.ready_max_age_seconds, its source fails
or its site file is invalid; 503 once http.unready_share of the sites are, by default all)
and /metrics (Prometheus).
Under systemd with Type=notify it reports READY, STATUS, WATCHDOG and STOPPING.
"""

RUN_EPILOG = """\
exit status:
  0  stopped by SIGTERM/SIGINT (in-flight writes finished, or were cancelled at the end
     of the grace period and journaled as unknown)
  1  unexpected failure (see the log)
  4  another syncd process holds a site's lock (<state_dir>/<site>.lock names its pid)
  73 the state directory cannot be written or is not private (do not restart)
  78 invalid configuration, or the HTTP address cannot be bound (do not restart)

example:
  syncd run --config /etc/syncd/syncd.yaml
"""

HEALTHCHECK_DESCRIPTION = """\
Ask a running daemon whether it is alive (/healthz) or ready (/readyz) and exit 0 if so,
1 if not. Made for container health checks: it needs no curl, and probes a wildcard
listen address (0.0.0.0, ::) on loopback.
"""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``run`` and ``healthcheck`` to the ``syncd`` command line."""
    run = subparsers.add_parser(
        "run", help="the daemon: schedule, file watch, health, metrics",
        description=RUN_DESCRIPTION, epilog=RUN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    run.add_argument(
        "--config", "-c", type=Path, metavar="FILE",
        default=Path(os.environ.get(ENV_CONFIG, DEFAULT_CONFIG)),
        help=f"the YAML configuration file (default: ${ENV_CONFIG}, else ./{DEFAULT_CONFIG})")
    run.set_defaults(func=run_command)

    probe = subparsers.add_parser(
        "healthcheck", help="probe a running daemon's /healthz or /readyz",
        description=HEALTHCHECK_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    probe.add_argument(
        "--listen", metavar="HOST:PORT", default=None,
        help="the daemon's http.listen address (default: $SYNCD_HTTP_LISTEN, "
             f"else {DEFAULT_LISTEN})")
    probe.add_argument(
        "--ready", action="store_true",
        help="probe /readyz (enough sites synced recently: http.unready_share) instead of "
             "/healthz (alive)")
    probe.add_argument(
        "--timeout", type=float, default=5.0, metavar="SECONDS",
        help="give up after this long (default: 5)")
    probe.set_defaults(func=healthcheck_command)


def run_command(args: argparse.Namespace) -> int:
    """``syncd run``: returns the process exit status."""
    # Imported here so that ``syncd --help`` and ``syncd healthcheck`` stay light.
    from aiohttp import web

    from syncd.edges.config import SiteSettings
    from syncd.edges.wix import LimiterPool
    from syncd.frontends.console import mount_console
    from syncd.frontends.console.notices import announce_console
    from syncd.frontends.daemon.collector import pace_collector
    from syncd.frontends.daemon.compaction import JournalCompaction, compact_sites
    from syncd.frontends.daemon.config import DaemonSetup
    from syncd.frontends.daemon.site_board import Board
    from syncd.frontends.daemon.supervisor import Daemon
    from syncd.frontends.daemon.wiring import build_setup, keep_previous_sites

    configure_logging()  # until the file says otherwise
    pace_collector()
    metrics = Metrics()
    limiters = LimiterPool()  # stores' budgets outlive reloads
    path: Path = args.config
    try:
        # One bad file of sites_dir disables its store, not the daemon (`syncd validate`
        # still refuses it): the other stores must not wait for someone's typo.
        settings = Settings.from_file(path, per_site_file=True)
        settings.console.require_token()
        configure_logging(level=str(settings.log.level), json=_json_logs(str(settings.log.format)))
        board = Board(history=settings.console.history)
        setup = build_setup(settings, metrics=metrics, limiters=limiters, board=board)
    except ConfigError as e:
        log.error("config_invalid", error=str(e))
        return ExitCode.CONFIG
    backend = backend_for(settings)
    problem = backend.problem()
    if problem is not None:
        log.error("state_unusable", error=problem)
        return ExitCode.STATE

    running = settings

    def reload() -> DaemonSetup[SiteSettings]:
        nonlocal running
        fresh = keep_previous_sites(Settings.from_file(path, per_site_file=True), running)
        fresh.console.require_token()
        setup = build_setup(fresh, metrics=metrics, limiters=limiters, board=board)
        running = fresh
        return setup

    def console_routes(app: web.Application) -> None:
        if settings.console.enabled:
            mount_console(app, board=board, control=daemon, settings=settings)

    daemon = Daemon(reload, metrics=metrics, notifier=SystemdNotifier.from_env(),
                    http_routes=console_routes, ownership=backend.ownership(),
                    allowed_hosts=settings.console.allowed_hosts,
                    on_listening=lambda address: announce_console(settings, address),
                    compaction=JournalCompaction(lambda: compact_sites(running)))
    try:
        asyncio.run(daemon.run(setup))
    except SiteLocked as e:
        log.error("site_locked", error=str(e), lock_file=str(e.lock_path), pid=e.pid)
        return ExitCode.LOCKED
    except ConfigError as e:
        log.error("config_invalid", error=str(e))
        return ExitCode.CONFIG
    except ListenError as e:
        log.error("http_listen_failed", error=str(e))
        return ExitCode.CONFIG
    except StateError as e:
        log.error("state_unusable", error=str(e))
        return ExitCode.CONFIG
    except SyncdError as e:
        log.error("daemon_failed", error=str(e))
        return ExitCode.FAILED
    except Exception:
        log.exception("daemon_crashed")
        return ExitCode.FAILED
    return ExitCode.OK


def _json_logs(log_format: str) -> bool | None:
    return {"json": True, "console": False}.get(log_format)


def healthcheck_command(args: argparse.Namespace) -> int:
    """``syncd healthcheck``: 0 when the endpoint answers 200, 1 otherwise."""
    raw = args.listen or os.environ.get("SYNCD_HTTP_LISTEN") or DEFAULT_LISTEN
    try:
        address = ListenAddress.parse(raw)
    except ConfigError as e:
        print(f"syncd healthcheck: {e}", file=sys.stderr)
        return ExitCode.CONFIG
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(address.host, address.host)
    netloc = f"[{host}]:{address.port}" if ":" in host else f"{host}:{address.port}"
    url = f"http://{netloc}/{'readyz' if args.ready else 'healthz'}"
    try:
        with urllib.request.urlopen(url, timeout=args.timeout) as response:
            body = response.read(64 * 1024)
            status = response.status
    except urllib.error.HTTPError as e:
        body, status = e.read(64 * 1024), e.code
    except (OSError, ValueError) as e:
        print(f"syncd healthcheck: {url}: {e}", file=sys.stderr)
        return ExitCode.FAILED
    text = body.decode("utf-8", "replace")
    try:
        text = json.dumps(json.loads(text), sort_keys=True)
    except ValueError:
        pass
    print(f"{url}: {status} {text}")
    return ExitCode.OK if status == 200 else ExitCode.FAILED
