"""How a store probe asks Wix: a few counted, never-repeated reads within a stated budget.

A probe (``syncd probe``) settles the points the contract leaves open on the user's own
store (``syncd.core.findings``). Its questions (``probe_v1``, ``probe_v3``) send their reads
through ``Asker``, which

- paces every request by the site's own rate limiter, like any sync, so a probe never
  exceeds the real rate limit (and therefore never sees a 429);
- never repeats a request (``idempotent=False``: no automatic retries), so the budget it
  states up front (``PROBE_BUDGET``) holds, whatever the store answers;
- keeps each answer as a ``Reply`` (status, JSON, the error message), since the error *is*
  the answer to many questions;
- writes each piece of evidence as the request and the telling part of the answer, with
  no header (the API key never appears; ``SECRETS`` redacts messages too).

What it leaves out: writes. The write test is its own module.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from syncd.base.errors import WixError
from syncd.base.logs import SECRETS
from syncd.edges.wix.client import CallCounter, JSONObject, WixClient

PROBE_BUDGET = 20
"""Most requests a read-only probe sends to one site (stated in its output)."""

WRONG_KEY = "syncd-probe-deliberately-wrong-key"
"""The key of the one request that asks how Wix refuses a key it does not know."""

EVIDENCE_CHARS = 240
"""Longest evidence line kept per finding."""


@dataclass(frozen=True, slots=True)
class Reply:
    """One answer: its status (None: no answer) and its JSON object, or the error."""

    request: str
    """The request in one line: method, path and the telling part of the body."""
    status: int | None
    data: JSONObject = field(default_factory=dict)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    def records(self, key: str) -> list[JSONObject]:
        value = self.data.get(key)
        return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []

    def says(self, telling: str) -> str:
        """Evidence: ``telling`` first, then the request and the status (one line, secrets
        removed)."""
        answer = f"HTTP {self.status}" if self.status is not None else "no answer"
        if self.error and not self.ok:
            answer += f" ({self.error})"
        text = (f"{telling}; " if telling else "") + f"{self.request} -> {answer}"
        text = SECRETS.redact(" ".join(text.split()))
        return text if len(text) <= EVIDENCE_CHARS else text[: EVIDENCE_CHARS - 1] + "…"


class BudgetSpent(Exception):
    """The probe has sent its budget: the questions left are undetermined."""


class Asker:
    """The probe's reads on one site: counted, paced, never repeated, within ``budget``."""

    def __init__(self, client: WixClient, *, budget: int = PROBE_BUDGET) -> None:
        self.client = client
        self.budget = budget
        self.counter = CallCounter()
        """Every request the probe sent (the wrong-key one included)."""

    @property
    def left(self) -> int:
        return self.budget - self.counter.total

    async def ask(self, method: str, path: str, *, endpoint: str,
                  body: Mapping[str, Any] | None = None, shown: str | None = None,
                  client: WixClient | None = None) -> Reply:
        """Send one request (``BudgetSpent`` when none is left); ``shown`` is how the
        evidence names the body (default: the body as JSON)."""
        if self.left <= 0:
            raise BudgetSpent(f"the probe's budget of {self.budget} requests is spent")
        request = f"{method} {path}"
        if body is not None:
            request += " " + (shown if shown is not None else json.dumps(body, sort_keys=True))
        try:
            data = await (client or self.client).request(
                method, path, endpoint=endpoint, body=body, idempotent=False,
                counter=self.counter)
        except WixError as exc:
            return Reply(request, exc.status, error=_message(exc))
        return Reply(request, 200, data)

    async def ask_with_wrong_key(self, path: str, *, endpoint: str) -> Reply:
        """One GET with a deliberately wrong API key, paced by the site's own limiter."""
        wrong = WixClient(api_key=WRONG_KEY, site_id=self.client.site_id,
                          settings=self.client.settings, limiter=self.client.limiter)
        async with wrong:
            reply = await self.ask("GET", path, endpoint=endpoint, client=wrong)
        return Reply(f"GET {path} (with a wrong API key)", reply.status, reply.data,
                     reply.error)


def _message(exc: WixError) -> str:
    """The server's words from a ``WixError`` (without the endpoint and status prefix)."""
    text = str(exc)
    return text.split(": ", 2)[-1] if text.count(": ") >= 2 else text


def numeric(value: Any) -> int | None:
    """A ``numericId`` (a string on the wire) as a number, or None."""
    try:
        return int(str(value))
    except ValueError:
        return None


def default_valued_field(value: Any, where: str = "") -> str | None:
    """The dotted name of the first field holding its default (``false``, ``0``, ``""``, an
    empty list) anywhere in ``value``, or None when every field holds another value."""
    if isinstance(value, dict):
        for key, item in value.items():
            name = f"{where}.{key}" if where else str(key)
            if item is False or item == "" or item == [] or (
                    isinstance(item, int | float) and not isinstance(item, bool) and item == 0):
                return name
            found = default_valued_field(item, name)
            if found:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = default_valued_field(item, f"{where}[{index}]")
            if found:
                return found
    return None
