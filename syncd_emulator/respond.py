"""JSON responses, written compactly; cached JSON text is spliced in as-is."""

from __future__ import annotations

from aiohttp import web

from syncd_emulator.jsontext import dumps

JSON_TYPE = "application/json"


def json_response(data: object, *, status: int = 200) -> web.Response:
    """``data`` as a compact JSON response."""
    return web.Response(status=status, body=dumps(data).encode(), content_type=JSON_TYPE)


def json_text_response(text: str) -> web.Response:
    """Already-serialized JSON ``text`` as a response."""
    return web.Response(body=text.encode(), content_type=JSON_TYPE)
