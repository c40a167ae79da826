"""Which state backend a configuration uses: decided here, and nowhere else.

Every command, the daemon (its locks, its ownership of the sites) and the console get their
backend from ``backend_for``; none of them looks at ``state_backend`` itself.
"""

from __future__ import annotations

from syncd.edges.backend.base import StateBackend
from syncd.edges.backend.local import LocalBackend
from syncd.edges.config import Settings
from syncd.edges.config.fleet import StateBackendKind


def backend_for(settings: Settings) -> StateBackend:
    """The configured backend, not yet opened: ``async with backend_for(settings) as b``.

    ``state_backend: postgres`` (with ``SYNCD_DATABASE_URL``) gives the database shared by
    replicas; anything else the state directory of this machine."""
    fleet = settings.fleet
    if fleet.backend is StateBackendKind.LOCAL or fleet.database_url is None:
        return LocalBackend(settings.state_dir)
    from syncd.edges.backend.postgres import PostgresBackend  # asyncpg is an optional extra

    return PostgresBackend(fleet.database_url.reveal(), replica=fleet.replica_id,
                           lease_ttl_s=fleet.lease_ttl_s)
