"""Secrets in the configuration: the ``Secret`` type, and reading a site's API key.

API keys are read from the environment variable named by ``api_key_env`` or from the file
named by ``api_key_file`` (a systemd credential, a Docker secret), are registered with the
log redaction (``syncd.logs.SECRETS``), and are wrapped in ``Secret`` so that no repr, log
line or traceback shows them.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from syncd.logs import SECRETS

if TYPE_CHECKING:
    from syncd.config.reader import MapReader


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
    var, file_text = m.string("api_key_env"), m.string("api_key_file")
    if (var is None) == (file_text is None):
        raise m.error(m.node("api_key_file"), "api_key_env",
                      "give exactly one of api_key_env (an environment variable name) and "
                      "api_key_file (a file holding the key)")
    if var is not None:
        if not _ENV_NAME.fullmatch(var):
            # Most likely the key itself was pasted here: never echo it.
            raise m.error(m.node("api_key_env"), "api_key_env",
                          "must be the name of an environment variable (letters, digits and "
                          "_), not the key itself")
        key = env.get(var, "").strip()
        origin = f"env {var}"
        if not key:
            raise m.error(m.node("api_key_env"), "api_key_env",
                          f"the environment variable {var} is not set or empty")
    else:
        assert file_text is not None
        key_path = base / _expand_env(m, file_text, env)
        origin = f"file {key_path}"
        try:
            key = key_path.read_text(encoding="utf-8").strip()
        except OSError as e:
            raise m.error(m.node("api_key_file"), "api_key_file",
                          f"cannot read {key_path}: {e.strerror or e}") from None
        if not key:
            raise m.error(m.node("api_key_file"), "api_key_file", f"{key_path} is empty")
    SECRETS.add(key)
    return Secret(key), origin


_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _expand_env(m: MapReader, text: str, env: Mapping[str, str]) -> str:
    """``api_key_file`` with ``${VAR}`` replaced from the environment, so a systemd unit can
    say ``${CREDENTIALS_DIRECTORY}/wix-api-key`` (systemd sets the variable per service)."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if not env.get(name):
            raise m.error(m.node("api_key_file"), "api_key_file",
                          f"refers to ${{{name}}}, which is not set"
                          + (" (set by systemd's LoadCredential=)"
                             if name == "CREDENTIALS_DIRECTORY" else ""))
        return env[name]

    return _ENV_REF.sub(value, text)
