"""The ``console:`` section: who may use the daemon's web console, and what it keeps.

The console (``/ui/`` on the daemon's HTTP listener) shows sites, plans, runs and the
journal. Its actions (approve a refused plan once, run a cycle now, roll a run back) are
off unless a token is configured, from an environment variable or a file, never written in
the configuration itself. The token is registered for redaction like an API key. When the
listener is not loopback, the read-only pages ask for the token too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from syncd.edges.config.reader import MapReader
from syncd.edges.config.secrets import Secret, read_secret

MIN_TOKEN_CHARS = 16
"""A shorter token is refused: it guards writes to a store."""


@dataclass(frozen=True, slots=True)
class ConsoleSettings:
    """The web console of the daemon."""

    enabled: bool = True
    """Serve ``/ui/`` at all (``false`` leaves only /healthz, /readyz and /metrics)."""

    token: Secret | None = None
    """From ``token_env`` or ``token_file``; None: the console is read-only (and served on
    loopback only)."""

    history: int = 20
    """Cycles remembered per site for the console (the daemon keeps them in memory)."""


_DEFAULTS = ConsoleSettings()


def read_console(m: MapReader, base: Path, env: Mapping[str, str]) -> ConsoleSettings:
    """The ``console:`` mapping (absent: the defaults)."""
    m.check_keys(("enabled", "token_env", "token_file", "history"))
    found = read_secret(m, base, env, env_key="token_env", file_key="token_file")
    if found is not None and len(found[0].reveal()) < MIN_TOKEN_CHARS:
        key = "token_env" if m.string("token_env") is not None else "token_file"
        raise m.error(m.node(key), key,
                      f"the token must have at least {MIN_TOKEN_CHARS} characters")
    return ConsoleSettings(
        enabled=m.boolean("enabled", _DEFAULTS.enabled),
        token=found[0] if found is not None else None,
        history=m.integer("history", _DEFAULTS.history, minimum=1),
    )
