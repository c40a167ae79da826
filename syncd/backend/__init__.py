"""Where a site's journal, run state and ownership live: a local directory or PostgreSQL.

    base       the ``StateBackend`` interface and the local-directory backend (the default)
    postgres   the PostgreSQL backend (asyncpg, the ``postgres`` extra)
    schema     its versioned schema and ``migrate`` (``syncd db migrate``)
    leases     site ownership shared among replicas (advisory locks and heartbeats)

``open_backend(settings)`` gives the configured one; the cycle (``syncd.sync``), the
one-shot commands and the daemon see only the interface.
"""

from syncd.backend.base import LocalBackend, StateBackend, open_backend

__all__ = ["LocalBackend", "StateBackend", "open_backend"]
