"""Wix's answers decode the same with or without the optional fast decoder."""

from __future__ import annotations

import math

import pytest

from syncd.edges.wix import jsonbody

BODIES = [
    b'{"products": [{"id": "p1", "stock": {"quantity": 7}}], "totalResults": 1}',
    b'{"quantity": 18446744073709551615, "revision": -9223372036854775808}',  # 64 bits
    b'{"price": NaN}',  # the standard library accepts it
    '{"name": "Ch\u00e2le"}'.encode("utf-16"),  # the standard library detects UTF-16
    b'  {"a": [1, 2.5, true, null]}\n',
]


@pytest.fixture(params=["orjson", "standard library"])
def decoder(request, monkeypatch):
    if request.param == "orjson":
        if not jsonbody.fast_decoder():
            pytest.skip("orjson is not installed (pip install 'syncd[fast]')")
    else:
        monkeypatch.setattr(jsonbody, "_orjson", None)
    return request.param


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


@pytest.mark.parametrize("body", BODIES)
def test_answers_decode_as_the_standard_library_decodes_them(decoder, body):
    import json

    assert _same(jsonbody.loads(body), json.loads(body))


@pytest.mark.parametrize("body", [b"<html>Bad Gateway</html>", b'{"a": 1', b"\xff\xfe\xfa"])
def test_what_is_not_json_is_refused_with_a_value_error(decoder, body):
    with pytest.raises(ValueError):
        jsonbody.loads(body)


def test_an_integer_past_64_bits_stays_a_number_of_the_same_size(decoder):
    decoded = jsonbody.loads(b'{"quantity": 123456789012345678901234567890}')
    assert isinstance(decoded, dict)
    assert int(decoded["quantity"]) == pytest.approx(123456789012345678901234567890, rel=1e-15)
