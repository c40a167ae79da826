"""The configuration that "Connect your Wix store" shows is one syncd accepts, pointing at
Wix itself, with the key read from a file."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from syncd.edges.config import Settings

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("where", ["docs/connect-your-store.md", "README.md"])
def test_the_documented_store_configuration_loads(tmp_path, where):
    text = (ROOT / where).read_text()
    section = text[text.index("Connect your Wix store"):]
    block = re.search(r"```yaml\n(.*?)```", section, re.S)
    assert block is not None, f"{where} shows no configuration"
    key = tmp_path / "wix-api-key"
    key.write_text("a-real-looking-api-key-value\n")
    stock = tmp_path / "stock.csv"
    stock.write_text("sku,quantity\nA,1\n")
    config = tmp_path / "syncd.yaml"
    config.write_text(block.group(1).replace("/etc/syncd/wix-api-key", str(key))
                      .replace("/srv/stock/stock.csv", str(stock))
                      .replace("path: stock.csv", f"path: {stock}"))
    settings = Settings.from_file(config, env={})
    [site] = settings.sites
    assert site.base_url == "https://www.wixapis.com"
    assert site.api_key.reveal() == "a-real-looking-api-key-value"
