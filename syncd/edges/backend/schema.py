"""The PostgreSQL schema, versioned: each migration runs once, in order, in a transaction.

``syncd db migrate`` applies what is missing; several replicas may run it at once (an
advisory lock serialises them, and each sees what the first applied). A daemon or command
on a database whose schema is older than this syncd refuses to start and says so, and one
that is newer is refused too (an older syncd must not write a newer schema).
"""

from __future__ import annotations

from typing import Any

from syncd.base.errors import StateError

MIGRATION_LOCK = 0x73796E6364  # "syncd": serialises concurrent migrations

MIGRATIONS: tuple[tuple[int, str, str], ...] = (
    (1, "journal, run state, replicas and site owners", """
        CREATE TABLE syncd_journal (
            id          bigserial PRIMARY KEY,
            site        text NOT NULL,
            write_id    text NOT NULL,
            run_id      text NOT NULL,
            outcome     text NOT NULL,
            entry       text NOT NULL,
            recorded_at timestamptz NOT NULL DEFAULT now(),
            UNIQUE (site, write_id, outcome)
        );
        CREATE INDEX syncd_journal_site ON syncd_journal (site, id);
        CREATE TABLE syncd_run_state (
            site            text PRIMARY KEY,
            last_success_at timestamptz NOT NULL,
            source_rows     integer NOT NULL,
            source_digest   text NOT NULL,
            updated_at      timestamptz NOT NULL DEFAULT now()
        );
        CREATE TABLE syncd_replicas (
            replica      text PRIMARY KEY,
            started_at   timestamptz NOT NULL DEFAULT now(),
            heartbeat_at timestamptz NOT NULL
        );
        CREATE TABLE syncd_site_owners (
            site    text PRIMARY KEY,
            replica text NOT NULL,
            since   timestamptz NOT NULL DEFAULT now()
        );
    """),
    (2, "run state: source rows that matched a store variant", """
        ALTER TABLE syncd_run_state ADD COLUMN matched_rows integer;
    """),
    # Epochs come from one sequence: a release deletes the owner row, and an epoch must
    # never be handed out twice for a site, even after that.
    (3, "fencing: an epoch per ownership term, and the term of each journal row", """
        CREATE SEQUENCE syncd_owner_epoch;
        ALTER TABLE syncd_site_owners
            ADD COLUMN epoch bigint NOT NULL DEFAULT nextval('syncd_owner_epoch');
        ALTER TABLE syncd_journal ADD COLUMN replica text, ADD COLUMN epoch bigint;
    """),
    (4, "console state: approvals bound to a plan, the action log, signed-in sessions", """
        CREATE TABLE syncd_approvals (
            site        text PRIMARY KEY,
            digest      text NOT NULL,
            approved_by text NOT NULL,
            approved_at timestamptz NOT NULL,
            changes     integer NOT NULL DEFAULT 0
        );
        CREATE TABLE syncd_console_actions (
            id        bigserial PRIMARY KEY,
            at        timestamptz NOT NULL,
            action    text NOT NULL,
            site      text,
            actor     text NOT NULL,
            allowed   boolean NOT NULL,
            detail    text NOT NULL DEFAULT ''
        );
        CREATE TABLE syncd_console_sessions (
            key       text PRIMARY KEY,
            csrf      text NOT NULL,
            opened_at timestamptz NOT NULL,
            seen_at   timestamptz NOT NULL
        );
    """),
    # The entry's own time (the journal's clock) is what retention judges; recorded_at
    # is the server's. Rows of older versions are filled from their entry's text (a row
    # that is not JSON gets none, and is kept by compaction, not stopped by a cast).
    (5, "journal: one run's rows, the open writes and retention, by index", """
        ALTER TABLE syncd_journal ADD COLUMN at timestamptz;
        UPDATE syncd_journal
            SET at = substring(entry from '"time":"([^"]+)"')::timestamptz;
        CREATE INDEX syncd_journal_run ON syncd_journal (site, run_id);
        CREATE INDEX syncd_journal_pending ON syncd_journal (site, id)
            WHERE outcome = 'pending';
        CREATE TABLE syncd_journal_open (
            site     text NOT NULL,
            write_id text NOT NULL,
            id       bigint NOT NULL,
            PRIMARY KEY (site, write_id)
        );
        INSERT INTO syncd_journal_open (site, write_id, id)
            SELECT p.site, p.write_id, p.id FROM syncd_journal p
            WHERE p.outcome = 'pending' AND NOT EXISTS (
                SELECT 1 FROM syncd_journal s WHERE s.site = p.site
                AND s.write_id = p.write_id AND s.outcome <> 'pending');
    """),
    (6, "the findings of each site's last store probe", """
        CREATE TABLE syncd_probe_reports (
            site     text PRIMARY KEY,
            taken_at timestamptz NOT NULL,
            report   text NOT NULL
        );
    """),
)

LATEST = MIGRATIONS[-1][0]

_VERSION_TABLE = """
    CREATE TABLE IF NOT EXISTS syncd_schema_version (
        version    integer PRIMARY KEY,
        about      text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
    )"""


async def current_version(conn: Any) -> int:
    """The schema version of the database (0: syncd never migrated it)."""
    exists = await conn.fetchval("SELECT to_regclass('syncd_schema_version') IS NOT NULL")
    if not exists:
        return 0
    return int(await conn.fetchval("SELECT coalesce(max(version), 0) FROM syncd_schema_version"))


async def migrate(conn: Any, *, up_to: int = LATEST) -> list[int]:
    """Apply the missing migrations (those up to version ``up_to``: an older schema, for
    upgrade tests); returns the versions applied (empty: up to date)."""
    applied: list[int] = []
    await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)
    try:
        await conn.execute(_VERSION_TABLE)
        have = await current_version(conn)
        for version, about, sql in MIGRATIONS:
            if version <= have or version > up_to:
                continue
            async with conn.transaction():
                await conn.execute(sql)
                await conn.execute("INSERT INTO syncd_schema_version (version, about) "
                                   "VALUES ($1, $2)", version, about)
            applied.append(version)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK)
    return applied


async def check_version(conn: Any) -> None:
    """``StateError`` unless the database has exactly this syncd's schema."""
    have = await current_version(conn)
    if have < LATEST:
        raise StateError(f"the database schema is at version {have}, this syncd needs "
                         f"{LATEST}: run `syncd db migrate` first")
    if have > LATEST:
        raise StateError(f"the database schema is at version {have}, newer than this "
                         f"syncd ({LATEST}): upgrade syncd")
