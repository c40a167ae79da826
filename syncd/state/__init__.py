"""What a site keeps between runs, and the lock that keeps one writer per site.

    run     the run state of the last successful sync (``<site>.state.json``)
    lock    the per-site lock file (``<site>.lock``) held while a process writes to a store
"""

from syncd.state.lock import SiteLocked, acquire_site_lock, lock_path
from syncd.state.run import RunState, read_state, state_path, write_state

__all__ = ["RunState", "SiteLocked", "acquire_site_lock", "lock_path", "read_state",
           "state_path", "write_state"]
