"""Answers that did not come from Wix: a wrong ``base_url`` reaching a web server, a proxy's
error page, a service that does not implement the route.

Wix answers JSON (or an empty body on some 5xx). An HTML page, a 200 whose body is not
JSON, or a 501 means that ``base_url`` most likely points somewhere else, so the error says
so in one line (the ``base_url``, the status, a short escaped excerpt of the body) instead
of dumping the page or reporting "Expecting value". A 501, and any non-JSON answer outside
the 5xx range, is permanent: retrying it only burns the budget. A non-JSON 502/503/504 may
be a proxy's passing trouble and stays a retried ``WixServerError``, with the same message.
A 429 is never foreign: whatever its body (an edge proxy's HTML or plain text), the status
says the budget is spent, and it is handled as Wix's 429.
"""

from __future__ import annotations

from syncd.base.errors import WixError, WixForeignAnswer, WixServerError
from syncd.base.textsafe import safe_value

EXCERPT_CHARS = 80
"""Characters of the body quoted in the message."""


def foreign_answer(base_url: str, status: int, body: bytes, *, is_json: bool, endpoint: str,
                   limit: int = EXCERPT_CHARS) -> WixError | None:
    """The error for an answer Wix would not give, or None when it may be Wix's; the body
    is quoted up to ``min(limit, EXCERPT_CHARS)`` characters. ``is_json``: the body was
    decoded as JSON (the caller decodes each answer once)."""
    stripped = body.strip()
    if status == 429 or (status != 501 and (not stripped or is_json)):
        return None
    excerpt = safe_value(" ".join(stripped.decode("utf-8", errors="replace").split()),
                         min(limit, EXCERPT_CHARS))
    what = f"a body that is not Wix's JSON: {excerpt!r}" if stripped else "an empty body"
    text = (f"{base_url} answered {endpoint} with HTTP {status} and {what}; "
            "is base_url right?")
    if 500 <= status < 600 and status != 501:
        return WixServerError(text, status=status, endpoint=endpoint)
    return WixForeignAnswer(text, status=status, endpoint=endpoint)
