"""Where a site's journal, run state, lock, approvals and ownership live: a local directory
or PostgreSQL. Nothing else in syncd reaches them but through a ``StateBackend``.

    base       the ``StateBackend`` interface (and ``SiteLocked``)
    select     ``backend_for(settings)``: the one place that decides which backend is used
    local      the local-directory backend (the default): journal files, state files, locks
    runstate   the run state of the last successful sync, as both backends keep it
    postgres   the PostgreSQL backend (asyncpg, the ``postgres`` extra)
    schema     its versioned schema and ``migrate`` (``syncd db migrate``)
    leases     site ownership shared among replicas (advisory locks and heartbeats)
    fence      a replica's lease on one site, checked by every journal insert and send
"""

from syncd.edges.backend.base import SiteLocked, StateBackend
from syncd.edges.backend.local import LocalBackend
from syncd.edges.backend.runstate import RunState
from syncd.edges.backend.select import backend_for

__all__ = ["LocalBackend", "RunState", "SiteLocked", "StateBackend", "backend_for"]
