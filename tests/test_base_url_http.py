"""The API key never travels in clear text unless a site says so.

``base_url`` (and ``SYNCD_BASE_URL``) may be plain ``http`` only to a loopback host, where
the emulator runs; any other host needs ``allow_insecure_http: true`` on the site, and a
client built on such a site logs ``wix_plain_http`` when it starts.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from structlog.testing import capture_logs

from syncd.base.errors import ConfigError
from syncd.edges.config import Settings
from syncd.edges.wix.client import WixClient

ROOT = Path(__file__).resolve().parent.parent
ENV = {"WIX_API_KEY": "test-key-5f2a9c"}


def write(tmp_path: Path, **site: object) -> Path:
    source = tmp_path / "stock.csv"
    source.write_text("sku,quantity\nA-1,3\n")
    path = tmp_path / "syncd.yaml"
    path.write_text(yaml.safe_dump({
        "source": {"path": str(source)},
        "sites": [{"name": "shop", "site_id": "s1", "api_key_env": "WIX_API_KEY", **site}],
    }, sort_keys=False))
    return path


def test_plain_http_to_another_host_is_refused_with_file_line_and_the_way_out(tmp_path):
    path = write(tmp_path, base_url="http://example.com")
    with pytest.raises(ConfigError) as refused:
        Settings.from_file(path, env=ENV)
    message = str(refused.value)
    line = next(n for n, text in enumerate(path.read_text().splitlines(), start=1)
                if "base_url:" in text)
    assert message.startswith(f"{path}:{line}: sites[0].base_url: plain http to example.com "
                              "would send the API key in clear text")
    assert "use https, or set allow_insecure_http: true on site 'shop'" in message


def test_plain_http_from_the_environment_is_refused_naming_the_variable(tmp_path):
    path = write(tmp_path)
    with pytest.raises(ConfigError, match=r"environment SYNCD_BASE_URL: plain http to "
                                          r"wix\.example\.net would send"):
        Settings.from_file(path, env={**ENV, "SYNCD_BASE_URL": "http://wix.example.net:80"})


def test_a_host_that_only_starts_like_loopback_is_not_loopback(tmp_path):
    with pytest.raises(ConfigError, match=r"plain http to 127\.0\.0\.1\.example\.com"):
        Settings.from_file(write(tmp_path, base_url="http://127.0.0.1.example.com"), env=ENV)


@pytest.mark.parametrize("url", ["http://127.0.0.1:8787", "http://127.8.9.10",
                                 "http://localhost:8787/", "http://[::1]:8787",
                                 "https://www.wixapis.com", "https://wix.example.net"])
def test_https_anywhere_and_plain_http_to_loopback_are_accepted(tmp_path, url):
    settings = Settings.from_file(write(tmp_path, base_url=url), env=ENV)
    assert settings.sites[0].base_url == url.rstrip("/")


def test_allow_insecure_http_accepts_another_host_and_the_client_warns(tmp_path):
    path = write(tmp_path, base_url="http://emulator:8787", allow_insecure_http=True)
    site = Settings.from_file(path, env=ENV).sites[0]
    assert site.wix.allow_insecure_http
    with capture_logs() as logs:
        WixClient(api_key="test-key-5f2a9c", site_id=site.site_id, settings=site.wix)
    warned = [e for e in logs if e["event"] == "wix_plain_http"]
    assert warned and warned[0]["log_level"] == "warning"
    assert warned[0]["base_url"] == "http://emulator:8787"


def test_a_loopback_emulator_needs_no_warning(tmp_path):
    site = Settings.from_file(write(tmp_path, base_url="http://127.0.0.1:8787"),
                              env=ENV).sites[0]
    with capture_logs() as logs:
        WixClient(api_key="test-key-5f2a9c", site_id=site.site_id, settings=site.wix)
    assert not [e for e in logs if e["event"] == "wix_plain_http"]


@pytest.mark.parametrize("name", ["syncd.example.yaml"])
def test_the_example_configuration_still_loads(tmp_path, name):
    config = yaml.safe_load((ROOT / "config" / name).read_text())
    source = tmp_path / "stock.csv"
    source.write_text("sku,quantity\nA,1\n")
    config["source"]["path"] = str(source)
    file = tmp_path / name
    file.write_text(yaml.safe_dump(config))
    env = {**ENV, **{s["api_key_env"]: "test-key-5f2a9c" for s in config["sites"]
                     if "api_key_env" in s}}
    assert Settings.from_file(file, env=env).sites
