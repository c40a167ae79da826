"""``syncd db``: the PostgreSQL state backend's schema and who owns which site.

``syncd db migrate`` creates or upgrades the schema (run it once per upgrade, before the
replicas start: a Kubernetes init container, or a job); ``syncd db status`` prints the
schema version, the live replicas and how many sites each holds. Both read the DSN from
``SYNCD_DATABASE_URL`` or from the file ``--dsn-file`` names; the configuration file is not
needed. The DSN and its password are redacted from every message.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path
from typing import Any

from syncd.base.logs import SECRETS
from syncd.edges.config.fleet import ENV_DATABASE_URL
from syncd.edges.config.secrets import read_dsn_file, register_dsn
from syncd.frontends.commands.common import ExitCode

DESCRIPTION = f"""\
Manage the PostgreSQL state backend (state_backend: postgres). The database is named by
the environment variable {ENV_DATABASE_URL} or by the file given with --dsn-file
(postgresql://user:password@host:5432/db?sslmode=verify-full).
"""

EPILOG = """\
exit status:
  0  done (migrate: the schema is now current)
  1  the database could not be reached or the migration failed
  78 no database DSN (environment or --dsn-file), or the asyncpg extra is not installed

examples:
  SYNCD_DATABASE_URL=postgresql://syncd@db/syncd?sslmode=verify-full syncd db migrate
  syncd db status --dsn-file /etc/syncd/database-dsn
"""


def register(subparsers: Any) -> None:
    """Add ``db migrate`` and ``db status``."""
    parser = subparsers.add_parser(
        "db", help="PostgreSQL state backend: migrate the schema, show owners",
        description=DESCRIPTION, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=("migrate", "status"),
                        help="migrate: create or upgrade the schema; status: version, "
                             "replicas and their sites")
    parser.add_argument("--dsn-file", metavar="FILE", type=Path,
                        help=f"read the DSN from FILE (a systemd credential, a mounted "
                             f"secret) instead of ${ENV_DATABASE_URL}")
    parser.set_defaults(func=run)


def _dsn(args: argparse.Namespace) -> str | None:
    """The DSN of ``--dsn-file`` or the environment, registered for redaction; None (after
    printing why) when there is none."""
    from_env = os.environ.get(ENV_DATABASE_URL)
    if args.dsn_file is not None:
        if from_env:
            print(f"syncd db: --dsn-file and {ENV_DATABASE_URL} both give a DSN: "
                  "give one only", file=sys.stderr)
            return None
        try:
            return read_dsn_file(args.dsn_file).reveal()
        except OSError as e:
            print(f"syncd db: --dsn-file: cannot read {args.dsn_file}: {e.strerror or e}",
                  file=sys.stderr)
        except ValueError as e:
            print(f"syncd db: --dsn-file: {e}", file=sys.stderr)
        return None
    if not from_env:
        print(f"syncd db: set {ENV_DATABASE_URL} to the database's DSN, or give --dsn-file",
              file=sys.stderr)
        return None
    return register_dsn(from_env).reveal()


def run(args: argparse.Namespace) -> int:
    dsn = _dsn(args)
    if dsn is None:
        return ExitCode.CONFIG
    try:
        import asyncpg  # noqa: F401 - only to tell a missing extra apart
    except ImportError:
        print("syncd db: the PostgreSQL backend needs asyncpg: pip install 'syncd[postgres]'",
              file=sys.stderr)
        return ExitCode.CONFIG
    try:
        return asyncio.run(_migrate(dsn) if args.action == "migrate" else _status(dsn))
    except (OSError, TimeoutError) as e:
        print(f"syncd db: cannot reach the database: {SECRETS.redact(str(e))}",
              file=sys.stderr)
    except Exception as e:  # asyncpg's own errors (authentication, SQL)
        print(f"syncd db: {type(e).__name__}: {SECRETS.redact(str(e))}", file=sys.stderr)
    return ExitCode.FAILED


async def _migrate(dsn: str) -> int:
    from syncd.edges.backend.postgres import connect
    from syncd.edges.backend.schema import LATEST, migrate

    conn = await connect(dsn)
    try:
        applied = await migrate(conn)
    finally:
        await conn.close()
    if applied:
        print(f"syncd db: applied migration(s) {', '.join(map(str, applied))}; "
              f"schema at version {LATEST}")
    else:
        print(f"syncd db: schema already at version {LATEST}")
    return ExitCode.OK


async def _status(dsn: str) -> int:
    from syncd.edges.backend.postgres import connect
    from syncd.edges.backend.schema import LATEST, current_version

    conn = await connect(dsn)
    try:
        version = await current_version(conn)
        print(f"schema version {version} (this syncd: {LATEST})")
        if version == 0:
            return ExitCode.OK
        rows = await conn.fetch(
            "SELECT r.replica, r.heartbeat_at, count(o.site) AS sites "
            "FROM syncd_replicas r LEFT JOIN syncd_site_owners o ON o.replica = r.replica "
            "GROUP BY r.replica, r.heartbeat_at ORDER BY r.replica")
        for row in rows:
            print(f"  {row['replica']}  heartbeat {row['heartbeat_at']:%Y-%m-%d %H:%M:%S}  "
                  f"{row['sites']} sites")
    finally:
        await conn.close()
    return ExitCode.OK
