"""The ``console:`` section: who may use the daemon's web console, and what it keeps.

The console (``/ui/`` on the daemon's HTTP listener) shows sites, plans, runs and the
journal. Its actions (approve a refused plan once, run a cycle now, roll a run back) are
off unless a token is configured, from an environment variable or a file, never written in
the configuration itself. The token is registered for redaction like an API key. When the
listener is not loopback, the read-only pages ask for the token too.

Only the daemon serves the console, so only ``syncd run`` needs the token: a token that
cannot be read (its variable unset, its file missing) is kept as ``token_error`` rather
than failing the load, so that ``plan``, ``explain`` and the other one-shot commands work
without it; ``syncd run`` refuses to start with it (``require_token``) and ``syncd
validate`` reports it. A token that is there but too short is refused at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from syncd.base.errors import ConfigError
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

    token_error: ConfigError | None = None
    """Why the configured token could not be read (only the daemon needs it)."""

    def require_token(self) -> None:
        """Raise ``token_error``, if any, for a command that serves the console."""
        if self.enabled and self.token_error is not None:
            raise self.token_error


_DEFAULTS = ConsoleSettings()


def read_console(m: MapReader, base: Path, env: Mapping[str, str]) -> ConsoleSettings:
    """The ``console:`` mapping (absent: the defaults)."""
    m.check_keys(("enabled", "token_env", "token_file", "history"))
    token_error: ConfigError | None = None
    try:
        found = read_secret(m, base, env, env_key="token_env", file_key="token_file")
    except ConfigError as e:
        found = None
        if m.string("token_env") is not None and m.string("token_file") is not None:
            m.fail(e)  # both given: a mistake in the file itself, whatever the command
        else:
            token_error = e
    if found is not None and len(found[0].reveal()) < MIN_TOKEN_CHARS:
        key = "token_env" if m.string("token_env") is not None else "token_file"
        m.fail(m.error(m.node(key), key,
                       f"the token must have at least {MIN_TOKEN_CHARS} characters"))
    return ConsoleSettings(
        enabled=m.boolean("enabled", _DEFAULTS.enabled),
        token=found[0] if found is not None else None,
        history=m.integer("history", _DEFAULTS.history, minimum=1),
        token_error=token_error,
    )
