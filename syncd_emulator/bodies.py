"""Reading request bodies, including the GET form Wix's JavaScript SDK uses for queries.

The SDK sends Query/Search calls as ``GET`` with the request in the query string: the whole
JSON request base64-encoded in a ``.r`` parameter, or, when the request is flat, as dotted
keys (``query.cursorPaging.limit=10``). ``read_request`` accepts both, plus the documented
JSON ``POST`` body, and always returns the same request dict. The typed getters turn a bad
field into a 400 naming that field.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

from aiohttp import web

from syncd_emulator.error_answers import validation_error

_INT = re.compile(r"-?\d{1,18}")


async def read_request(request: web.Request) -> dict[str, Any]:
    """The request as a dict: the JSON body, or (GET) the SDK's query-string encoding."""
    if request.method == "GET":
        return sdk_query(request)
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError as e:
        raise validation_error("body", f"is not valid JSON: {e}", rule="FORMAT") from None
    if not isinstance(body, dict):
        raise validation_error("body", "must be a JSON object", rule="FORMAT")
    return body


def sdk_query(request: web.Request) -> dict[str, Any]:
    """Decode ``?.r=<base64 JSON>`` or dotted keys into the request dict."""
    params = request.query
    encoded = params.get(".r")
    if encoded is not None:
        try:
            padded = encoded + "=" * (-len(encoded) % 4)
            decoded = json.loads(base64.b64decode(padded.replace("-", "+").replace("_", "/")))
        except (ValueError, binascii.Error) as e:
            raise validation_error(".r", f"is not base64-encoded JSON: {e}",
                                   rule="FORMAT") from None
        if not isinstance(decoded, dict):
            raise validation_error(".r", "must encode a JSON object", rule="FORMAT")
        return decoded
    result: dict[str, Any] = {}
    for key in params:
        values = [_scalar(v) for v in params.getall(key)]
        _set_dotted(result, key, values[0] if len(values) == 1 else values)
    return result


def _scalar(text: str) -> Any:
    # Query strings carry only text; numbers and booleans are what the SDK flattened.
    if text in ("true", "false"):
        return text == "true"
    if _INT.fullmatch(text):
        return int(text)
    return text


def _set_dotted(target: dict[str, Any], key: str, value: Any) -> None:
    parts = key.split(".")
    node = target
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise validation_error(key, "conflicts with another query parameter", rule="FORMAT")
        node = child
    node[parts[-1]] = value


# -- typed getters --------------------------------------------------------------------------


def get_dict(
    body: dict[str, Any], key: str, where: str, *, required: bool = False
) -> dict[str, Any]:
    """``body[key]`` as an object ({} when absent and not required)."""
    value = body.get(key)
    if value is None:
        if required:
            raise validation_error(f"{where}{key}", "is required", rule="REQUIRED_FIELD")
        return {}
    if not isinstance(value, dict):
        raise validation_error(f"{where}{key}", "must be an object", rule="FORMAT")
    return value


def get_list(body: dict[str, Any], key: str, where: str, *, required: bool = False) -> list[Any]:
    """``body[key]`` as an array ([] when absent and not required)."""
    value = body.get(key)
    if value is None:
        if required:
            raise validation_error(f"{where}{key}", "is required", rule="REQUIRED_FIELD")
        return []
    if not isinstance(value, list):
        raise validation_error(f"{where}{key}", "must be an array", rule="FORMAT")
    return value


def get_bool(body: dict[str, Any], key: str, where: str) -> bool | None:
    """``body[key]`` as true/false, or None when absent."""
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise validation_error(f"{where}{key}", "must be true or false", rule="FORMAT")
    return value


def get_int(
    body: dict[str, Any], key: str, where: str, *, low: int | None = None, high: int | None = None
) -> int | None:
    """``body[key]`` as a whole number within ``low..high``, or None when absent."""
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise validation_error(f"{where}{key}", "must be a whole number", rule="FORMAT")
    if high is not None and value > high:
        raise validation_error(f"{where}{key}", f"must not be greater than {high}", rule="MAX",
                               data={"threshold": high})
    if low is not None and value < low:
        raise validation_error(f"{where}{key}", f"must not be less than {low}", rule="MIN",
                               data={"threshold": low})
    return value


def get_str(body: dict[str, Any], key: str, where: str, *, required: bool = False) -> str | None:
    """``body[key]`` as a non-empty string, or None when absent and not required."""
    value = body.get(key)
    if value is None or value == "":
        if required:
            raise validation_error(f"{where}{key}", "must not be empty", rule="REQUIRED_FIELD")
        return None
    if not isinstance(value, str):
        raise validation_error(f"{where}{key}", "must be a string", rule="FORMAT")
    return value
