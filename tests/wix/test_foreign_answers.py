"""A base_url that is not Wix: one clear line, the body escaped and cut, no retry storm."""

from __future__ import annotations

import pytest
from aioresponses import aioresponses

from support.wix import API_KEY, BASE, SITE_ID, fast_settings
from syncd.base.errors import WixError, WixForeignAnswer
from syncd.edges.wix import WixClient

PAGE = ("<!DOCTYPE html>\n<html><head><title>Welcome to nginx!</title></head>\n<body>"
        + "<p>lorem ipsum</p>\n" * 200 + "</body></html>")


async def _request(status: int, body: str) -> tuple[WixError, int]:
    async with WixClient(api_key=API_KEY, site_id=SITE_ID,
                         settings=fast_settings(retry_delays_s=(0.01, 0.01))) as wix:
        with aioresponses() as mock:
            mock.post(BASE + "/q", status=status, body=body, repeat=True,
                      content_type="text/html")
            with pytest.raises(WixError) as caught:
                await wix.request("POST", "/q", endpoint="v1.products.query")
    return caught.value, wix.calls.total


@pytest.mark.parametrize("status", [200, 404, 501])
async def test_an_html_answer_is_one_line_naming_base_url_and_status(status):
    error, calls = await _request(status, PAGE)
    text = str(error)
    assert isinstance(error, WixForeignAnswer)
    assert "\n" not in text and len(text) < 300
    assert BASE in text and f"HTTP {status}" in text and "is base_url right?" in text
    assert "Welcome to nginx" in text and "Expecting value" not in text
    assert calls == 1, "an answer that is not Wix's is never retried"


async def test_a_501_with_an_empty_body_is_not_retried():
    error, calls = await _request(501, "")
    assert isinstance(error, WixForeignAnswer) and calls == 1


async def test_control_characters_of_the_body_are_escaped():
    error, _ = await _request(404, "\x1b[31mred\x00 alert")
    assert "\x1b" not in str(error) and "\\x1b" in str(error) and "\\x00" in str(error)
