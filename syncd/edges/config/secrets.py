"""Secrets in the configuration: the ``Secret`` type, reading a site's API key, and the
PostgreSQL DSN (``register_dsn``, ``read_dsn_file``).

API keys are read from the environment variable named by ``api_key_env`` or from the file
named by ``api_key_file`` (a systemd credential, a Docker secret), are registered with the
log redaction (``syncd.base.logs.SECRETS``), and are wrapped in ``Secret`` so that no repr, log
line or traceback shows them.
"""

from __future__ import annotations

import contextlib
import hmac
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, unquote, urlsplit

from syncd.base.logs import SECRETS

if TYPE_CHECKING:
    from syncd.edges.config.reader import MapReader


class Secret:
    """A string that never shows itself: repr and str print ``Secret('********')``.

    ``reveal()`` is the only way to the value, so every place that sends the key to Wix is
    easy to find.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The secret itself, for the Authorization header and nothing else."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self) -> str | tuple[object, ...]:
        raise TypeError("a Secret is not pickled: it would leave the process in clear text")


def resolve_api_key(m: MapReader, base: Path, env: Mapping[str, str]) -> tuple[Secret, str]:
    """The key from ``api_key_env`` or ``api_key_file`` (exactly one), registered for
    redaction. Never quoted in an error message."""
    found = read_secret(m, base, env, env_key="api_key_env", file_key="api_key_file",
                        required=True)
    assert found is not None
    return found


def read_secret(m: MapReader, base: Path, env: Mapping[str, str], *, env_key: str,
                file_key: str, required: bool = False) -> tuple[Secret, str] | None:
    """A secret from the environment variable named by ``env_key`` or the file named by
    ``file_key`` (``${VAR}`` expanded, relative to ``base``), with where it came from;
    None when neither is given and the secret is not ``required``. The value is
    registered for redaction and never quoted in an error message."""
    var, file_text = m.string(env_key), m.string(file_key)
    if (var is not None and file_text is not None) or (required and var is None is file_text):
        how = "exactly one" if required else "at most one"
        raise m.error(m.node(file_key), env_key,
                      f"give {how} of {env_key} (an environment variable name) and "
                      f"{file_key} (a file holding the secret)")
    if var is not None:
        if not _ENV_NAME.fullmatch(var):
            # Most likely the secret itself was pasted here: never echo it.
            raise m.error(m.node(env_key), env_key,
                          "must be the name of an environment variable (letters, digits and "
                          "_), not the secret itself")
        value = env.get(var, "").strip()
        origin = f"env {var}"
        if not value:
            raise m.error(m.node(env_key), env_key,
                          f"the environment variable {var} is not set or empty")
    elif file_text is not None:
        path = base / _expand_env(m, file_key, file_text, env)
        origin = f"file {path}"
        try:
            value = path.read_text(encoding="utf-8").strip()
        except OSError as e:
            raise m.error(m.node(file_key), file_key,
                          f"cannot read {path}: {e.strerror or e}") from None
        if not value:
            raise m.error(m.node(file_key), file_key, f"{path} is empty")
    else:
        return None
    SECRETS.add(value)
    return Secret(value), origin


_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _expand_env(m: MapReader, key: str, text: str, env: Mapping[str, str]) -> str:
    """A file name with ``${VAR}`` replaced from the environment, so a systemd unit can
    say ``${CREDENTIALS_DIRECTORY}/wix-api-key`` (systemd sets the variable per service)."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if not env.get(name):
            raise m.error(m.node(key), key,
                          f"refers to ${{{name}}}, which is not set"
                          + (" (set by systemd's LoadCredential=)"
                             if name == "CREDENTIALS_DIRECTORY" else ""))
        return env[name]

    return _ENV_REF.sub(value, text)


ENV_CREDENTIALS_DIRECTORY = "CREDENTIALS_DIRECTORY"
"""Where systemd's ``LoadCredential=`` puts a service's credentials."""

_DSN_PASSWORD = re.compile(r"""(?:^|\s)password\s*=\s*('(?:[^'\\]|\\.)*'|\S+)""")


def register_dsn(dsn: str) -> Secret:
    """Register a PostgreSQL DSN and the password in it for redaction, so that neither
    appears in a log line or an error message even when a library quotes one of them.

    Reads both DSN forms: ``postgresql://user:password@host/db?password=...`` and
    ``host=db user=syncd password=...``."""
    SECRETS.add(dsn)
    passwords: list[str] = []
    if "://" in dsn:
        parts = urlsplit(dsn)
        with contextlib.suppress(ValueError):
            if parts.password:
                passwords += [parts.password, unquote(parts.password)]
        passwords += [v for k, v in parse_qsl(parts.query) if k == "password"]
    else:
        for match in _DSN_PASSWORD.finditer(dsn):
            value = match.group(1)
            passwords += [value, value.strip("'").replace("\\'", "'")]
    for password in passwords:
        SECRETS.add(password)
    return Secret(dsn)


def dsn_file_path(text: str, *, base: Path, env: Mapping[str, str]) -> Path:
    """Where ``dsn_file`` points: a relative name is relative to ``$CREDENTIALS_DIRECTORY``
    when systemd set it (``LoadCredential=syncd-dsn:/etc/syncd/dsn``), else to ``base``."""
    path = Path(text)
    if path.is_absolute():
        return path
    credentials = env.get(ENV_CREDENTIALS_DIRECTORY)
    return (Path(credentials) if credentials else base) / path


def read_dsn_file(path: Path) -> Secret:
    """The DSN in the file at ``path`` (surrounding whitespace ignored), registered for
    redaction; ``OSError`` or ``ValueError`` (empty) with a message that never quotes it."""
    value = path.read_text(encoding="utf-8").strip()
    if not value:
        raise ValueError(f"{path} is empty: it should hold the PostgreSQL DSN "
                         "(postgresql://user:password@host:5432/db?sslmode=verify-full)")
    return register_dsn(value)
