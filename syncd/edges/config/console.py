"""The ``console:`` section: who may use the daemon's web console, and what it keeps.

The console (``/ui/`` on the daemon's HTTP listener) shows sites, plans, runs and the
journal. Its actions (approve a refused plan once, run a cycle now, roll a run back) are
off unless a token is configured, from an environment variable or a file, never written in
the configuration itself. The token is registered for redaction like an API key. When the
listener is not loopback (or a proxy is in front), the read-only pages ask for the token too
(``require_token_for_viewing``).

Only the daemon serves the console, so only ``syncd run`` needs the token: a token that
cannot be read (its variable unset, its file missing) is kept as ``token_error`` rather
than failing the load, so that ``plan``, ``explain`` and the other one-shot commands work
without it; ``syncd run`` refuses to start with it (``require_token``) and ``syncd
validate`` reports it. A token that is there but too short is refused at once.

The rest hardens the listener for a browser: the ``Host`` names it answers to (against DNS
rebinding), the proxies whose ``X-Forwarded-*`` headers are believed, how long a signed-in
session lasts, and how many wrong tokens a client may try.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from syncd.base.errors import ConfigError
from syncd.base.yamlnodes import scalar_text
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
    """From ``token_env`` or ``token_file``; None: the console is read-only (and served only
    while viewing needs no token)."""

    history: int = 20
    """Cycles remembered per site for the console (the daemon keeps them in memory)."""

    token_error: ConfigError | None = None
    """Why the configured token could not be read (only the daemon needs it)."""

    allowed_hosts: tuple[str, ...] = ()
    """Host names (besides the listen address) that requests may carry in ``Host``: the name
    a reverse proxy forwards, or a service name such as ``syncd`` in compose. Any other
    ``Host`` is answered 421, so that a DNS-rebinding page cannot read the console."""

    trusted_proxies: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    """Peers whose ``X-Forwarded-Proto``/``X-Forwarded-For`` are believed (a TLS proxy in
    front); everyone else's are ignored."""

    require_token_for_viewing: bool | None = None
    """Pages need a signed-in session too; None: on when the listener is off loopback or a
    trusted proxy is configured (see ``viewing_needs_token``)."""

    session_idle_seconds: float = 1800.0
    """A session unused this long is signed out (30 min)."""

    session_max_seconds: float = 43200.0
    """A session is signed out this long after signing in, used or not (12 h)."""

    login_max_failures: int = 5
    """Wrong tokens a client may send within ``login_window_seconds``; more get 429."""

    login_window_seconds: float = 60.0
    """The window of ``login_max_failures``."""

    def require_token(self) -> None:
        """Raise ``token_error``, if any, for a command that serves the console."""
        if self.enabled and self.token_error is not None:
            raise self.token_error

    def viewing_needs_token(self, *, loopback: bool) -> bool:
        """Whether the read-only pages need a session (``require_token_for_viewing``)."""
        if self.require_token_for_viewing is not None:
            return self.require_token_for_viewing
        return not loopback or bool(self.trusted_proxies)


_DEFAULTS = ConsoleSettings()


def read_console(m: MapReader, base: Path, env: Mapping[str, str]) -> ConsoleSettings:
    """The ``console:`` mapping (absent: the defaults)."""
    m.check_keys(("enabled", "token_env", "token_file", "history", "allowed_hosts",
                  "trusted_proxies", "require_token_for_viewing", "session_idle_seconds",
                  "session_max_seconds", "login_max_failures", "login_window_seconds"))
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
        allowed_hosts=tuple(_host(m, n) for n in m.sequence("allowed_hosts")),
        trusted_proxies=tuple(_network(m, n) for n in m.sequence("trusted_proxies")),
        require_token_for_viewing=(m.boolean("require_token_for_viewing", False)
                                   if m.given("require_token_for_viewing") else None),
        session_idle_seconds=m.number("session_idle_seconds", _DEFAULTS.session_idle_seconds,
                                      positive=True),
        session_max_seconds=m.number("session_max_seconds", _DEFAULTS.session_max_seconds,
                                     positive=True),
        login_max_failures=m.integer("login_max_failures", _DEFAULTS.login_max_failures,
                                     minimum=1),
        login_window_seconds=m.number("login_window_seconds", _DEFAULTS.login_window_seconds,
                                      positive=True),
    )


def _host(m: MapReader, node: yaml.Node) -> str:
    """A host name or IP address as ``Host`` carries it (no scheme, port or path)."""
    text = scalar_text(node)
    host = (text or "").strip().lower()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not host or any(c in host for c in "/@ \t") or (":" in host and not _is_ip(host)):
        raise m.error(node, "allowed_hosts", f"expected a host name such as syncd or "
                      f"syncd.example.com (no scheme, port or path), not {text!r}")
    return host


def _network(m: MapReader, node: yaml.Node) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """A proxy's address, or a CIDR range of them."""
    text = (scalar_text(node) or "").strip()
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise m.error(node, "trusted_proxies", f"expected an IP address or a CIDR range such "
                      f"as 10.0.0.0/8, not {text!r}") from None


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
