"""Wix-style error answers.

Route code raises ``ApiError``; the middleware in ``app`` turns it into a response. Bodies
follow the shape Wix documents: ``{"message", "details": {"applicationError": {"code",
"description", "data"}}}`` for business rejections and ``{"message", "details":
{"validationError": {"fieldViolations": [...]}}}`` for bad requests. 5xx answers carry no
body at all, as Wix's own system errors do.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from aiohttp import web

JSON_TYPE = "application/json"

PROXY_429_PAGE = ("<!DOCTYPE html>\n<html><head><title>429 Too Many Requests</title></head>\n"
                  "<body><h1>Too Many Requests</h1><p>Rate limit exceeded.</p></body></html>\n")
"""An edge proxy's 429 page (the ``text_429`` switch)."""

PROXY_5XX_TEXT = "upstream connect error or disconnect/reset before headers\n"
"""An edge proxy's 5xx body (the ``text_429`` switch)."""


class ApiError(Exception):
    """An error answer: ``status``, a JSON body (None for an empty body) and extra headers."""

    def __init__(
        self,
        status: int,
        body: Mapping[str, object] | None,
        *,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status}: {body.get('message') if body else ''}")
        self.status = status
        self.body = body
        self.headers = dict(headers or {})

    def response(self, *, as_text: bool = False) -> web.Response:
        """The aiohttp response for this error; ``as_text``: a 429 or 5xx answers as an
        edge proxy would, with an HTML page (429) or a line of plain text (5xx)."""
        if as_text and (self.status == 429 or self.status >= 500):
            html = self.status == 429
            return web.Response(status=self.status, headers=self.headers,
                                text=PROXY_429_PAGE if html else PROXY_5XX_TEXT,
                                content_type="text/html" if html else "text/plain")
        if self.body is None or self.status >= 500:
            return web.Response(status=self.status, headers=self.headers)
        return web.Response(
            status=self.status,
            body=json.dumps(self.body, separators=(",", ":")).encode(),
            content_type=JSON_TYPE,
            headers=self.headers,
        )


def application_error(
    status: int,
    code: str,
    message: str,
    *,
    description: str | None = None,
    data: Mapping[str, object] | None = None,
    headers: Mapping[str, str] | None = None,
) -> ApiError:
    """A business rejection such as NOT_FOUND or a revision conflict."""
    return ApiError(
        status,
        {
            "message": message,
            "details": {
                "applicationError": {
                    "code": code,
                    "description": description or message,
                    "data": dict(data or {}),
                }
            },
        },
        headers=headers,
    )


def field_violation(
    field: str, description: str, *, rule: str = "OTHER", data: Mapping[str, object] | None = None
) -> dict[str, object]:
    """One entry of ``validationError.fieldViolations``."""
    return {
        "field": field,
        "description": description,
        "violatedRule": rule,
        "ruleName": "VALIDATION_ERROR",
        "data": dict(data or {}),
    }


def validation_error(
    field: str, description: str, *, rule: str = "OTHER", data: Mapping[str, object] | None = None
) -> ApiError:
    """A 400 naming one bad field; ``rule`` is MAX, MIN, REQUIRED_FIELD, FORMAT or OTHER."""
    return validation_errors([field_violation(field, description, rule=rule, data=data)])


def validation_errors(violations: list[dict[str, object]]) -> ApiError:
    """A 400 listing several bad fields at once; the message quotes the first."""
    first = violations[0]
    return ApiError(
        400,
        {
            "message": f"{first['field']} {first['description']}",
            "details": {"validationError": {"fieldViolations": violations}},
        },
    )


def not_found(kind: str, ident: str) -> ApiError:
    """404 for an unknown product, variant or inventory item."""
    return application_error(404, "NOT_FOUND", f"{kind} {ident} not found")


def server_error(status: int = 500) -> ApiError:
    """A 5xx with an empty body."""
    return ApiError(status, None)
