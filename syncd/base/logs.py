"""Logging setup (structlog) and secret redaction.

``configure_logging`` is called once at start-up by the entry point; it is the one
accepted piece of global state. Output goes to stderr: JSON when it is not a terminal
(journald, Docker), readable console lines when it is. ``redact_secrets`` is a processor
that replaces every registered secret (API keys) wherever it appears in an event, so a
key can never reach a log line even when an exception message quotes it.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

REDACTED = "[REDACTED]"


class SecretRegistry:
    """The set of strings that must never be logged (API keys)."""

    def __init__(self) -> None:
        self._secrets: set[str] = set()

    def add(self, secret: str) -> None:
        """Register ``secret``; very short strings are ignored to avoid redacting noise."""
        if len(secret) >= 6:
            self._secrets.add(secret)

    def redact(self, text: str) -> str:
        """``text`` with every registered secret replaced by ``[REDACTED]``."""
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text

    def __call__(
        self, logger: Any, method_name: str, event_dict: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        if not self._secrets:
            return event_dict
        for key, value in list(event_dict.items()):
            event_dict[key] = self._redacted(value)
        return event_dict

    def _redacted(self, value: Any) -> Any:
        """``value`` with secrets redacted, keeping lists and mappings as such (a JSON log
        line shows ``"sites": ["demo"]``, not the string ``"['demo']"``)."""
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, BaseException):
            return self.redact(f"{type(value).__name__}: {value}")
        if isinstance(value, list | tuple | set | frozenset):
            return [self._redacted(v) for v in value]
        if isinstance(value, dict):
            return {str(k): self._redacted(v) for k, v in value.items()}
        return value


class _CurrentStderr:
    """Writes to whatever ``sys.stderr`` is at the time of writing, not at configuration:
    loggers bound early must follow a later redirection (test capture, daemonisation)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


SECRETS = SecretRegistry()
"""Process-wide secret registry; keys are added when configuration is loaded."""


def configure_logging(*, level: str = "info", json: bool | None = None) -> None:
    """Configure structlog once. ``json=None`` picks JSON unless stderr is a terminal."""
    if json is None:
        json = not sys.stderr.isatty()
    renderer: structlog.types.Processor
    if json:
        renderer = structlog.processors.JSONRenderer()
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=False)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            SECRETS,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()]
        ),
        logger_factory=structlog.PrintLoggerFactory(file=_CurrentStderr()),  # type: ignore[arg-type]
        cache_logger_on_first_use=False,
    )
