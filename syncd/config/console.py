"""The ``console:`` section: who may use the daemon's web console, and what it keeps.

The console (``/ui/`` on the daemon's HTTP listener) shows sites, plans, runs and the
journal. Its actions (approve a refused plan once, run a cycle now, roll a run back) are
off unless a token is configured, from an environment variable or a file, never written in
the configuration itself. The token is registered for redaction like an API key. When the
listener is not loopback, the read-only pages ask for the token too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from syncd.config.reader import MapReader
from syncd.config.secrets import Secret
from syncd.logs import SECRETS

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


_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_DEFAULTS = ConsoleSettings()


def read_console(m: MapReader, base: Path, env: Mapping[str, str]) -> ConsoleSettings:
    """The ``console:`` mapping (absent: the defaults)."""
    m.check_keys(("enabled", "token_env", "token_file", "history"))
    var, file_text = m.string("token_env"), m.string("token_file")
    if var is not None and file_text is not None:
        raise m.error(m.node("token_file"), "token_env",
                      "give at most one of token_env and token_file")
    token: str | None = None
    if var is not None:
        if not _ENV_NAME.fullmatch(var):
            raise m.error(m.node("token_env"), "token_env",
                          "must be the name of an environment variable, not the token itself")
        token = env.get(var, "").strip()
        if not token:
            raise m.error(m.node("token_env"), "token_env",
                          f"the environment variable {var} is not set or empty")
    elif file_text is not None:
        path = base / file_text
        try:
            token = path.read_text(encoding="utf-8").strip()
        except OSError as e:
            raise m.error(m.node("token_file"), "token_file",
                          f"cannot read {path}: {e.strerror or e}") from None
    if token is not None and len(token) < MIN_TOKEN_CHARS:
        key = "token_env" if var is not None else "token_file"
        raise m.error(m.node(key), key,
                      f"the token must have at least {MIN_TOKEN_CHARS} characters")
    if token is not None:
        SECRETS.add(token)
    return ConsoleSettings(
        enabled=m.boolean("enabled", _DEFAULTS.enabled),
        token=Secret(token) if token is not None else None,
        history=m.integer("history", _DEFAULTS.history, minimum=1),
    )
