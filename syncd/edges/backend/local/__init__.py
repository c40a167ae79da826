"""The local state backend: a directory of one machine (the default).

    backend    ``LocalBackend``, the ``StateBackend`` of a state directory
    journal    the journal files (``journal/<site>.jsonl``) and their reading
    statefile  the run state files (``<site>.state.json``)
    lock       the per-site lock files (``<site>.lock``)
    approve    approval requests to a daemon holding a site (``<site>.force``)
    check      whether the directory can be used at all
"""

from syncd.edges.backend.local.backend import LocalBackend

__all__ = ["LocalBackend"]
