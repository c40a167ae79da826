"""Redirects an HTTP feed must not follow, against real servers: HTTPS with a throwaway
certificate on 127.0.0.1, and (in a network namespace the test makes) a public-looking
address redirecting into a private one."""

from __future__ import annotations

import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.abc import AbstractResolver, ResolveResult

from syncd.edges.config import Secret
from syncd.edges.config.feed import FeedSettings
from syncd.edges.feeds.copy import FeedCopy, FetchResult
from syncd.edges.feeds.redirects import (
    AddressGuard,
    GuardedResolver,
    RedirectRefused,
    address_rule,
)
from tests.feeds.httpfeed import FeedServer
from tests.feeds.tlscert import self_signed

TOKEN = "feed-token-9d41c7e2aa"
ROOT = Path(__file__).parents[2]


@pytest.fixture
async def tls_front(tmp_path: Path) -> AsyncIterator[tuple[FeedServer, Path]]:
    """An HTTPS feed server on 127.0.0.1 and the CA file that trusts it."""
    cert, key = self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    server = await FeedServer(body=b"sku,quantity\nA-1,5\n").start(tls=context)
    try:
        yield server, cert
    finally:
        await server.stop()


async def test_an_https_feed_is_fetched_with_its_ca_file(tls_front, tmp_path):
    server, ca = tls_front
    copy = FeedCopy(FeedSettings(url=f"{server.url}/stock.csv", ca_file=str(ca)),
                    tmp_path / "feeds")
    assert await copy.refresh() is FetchResult.CHANGED


async def test_an_https_feed_redirected_to_http_on_the_same_host_is_refused(
        tls_front, feed_server: FeedServer, tmp_path):
    server, ca = tls_front
    server.redirect_to = f"{feed_server.url}/stock.csv"
    copy = FeedCopy(FeedSettings(url=f"{server.url}/stock.csv", ca_file=str(ca),
                                 secret=Secret(f"Bearer {TOKEN}")), tmp_path / "feeds")
    with pytest.raises(RedirectRefused) as caught:
        await copy.refresh()
    assert (caught.value.kind, caught.value.rule, caught.value.hop) == (
        "redirect_refused", "https_to_http", 1)
    assert f"redirect 1 to {feed_server.url}/stock.csv refused (https_to_http)" in str(
        caught.value)
    assert server.auth_headers == [f"Bearer {TOKEN}"]
    assert feed_server.auth_headers == []  # the plain-http server saw no request at all
    assert not copy.body.exists()


async def test_a_redirect_to_another_scheme_is_refused(feed_server: FeedServer, tmp_path):
    feed_server.redirect_to = "file:///etc/passwd"
    with pytest.raises(RedirectRefused) as caught:
        await FeedCopy(FeedSettings(url=f"{feed_server.url}/stock.csv"),
                       tmp_path / "feeds").refresh()
    assert caught.value.rule == "scheme"


@pytest.mark.parametrize(("address", "rule"), [
    ("8.8.8.8", None), ("2606:4700::1111", None), ("127.0.0.1", "loopback"),
    ("::1", "loopback"), ("10.1.2.3", "private"), ("192.168.0.1", "private"),
    ("169.254.169.254", "link_local"), ("fe80::1", "link_local"), ("0.0.0.0", "unspecified"),
    ("224.0.0.1", "multicast"), ("240.0.0.1", "reserved"), ("100.64.0.1", "not_global"),
    ("::ffff:10.0.0.1", "private"), ("fd00::1", "private"),
])
def test_which_addresses_count_as_not_public(address: str, rule: str | None):
    assert address_rule(address) == rule


def _run_in_namespace() -> dict[str, dict[str, object]]:
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        pytest.skip("needs unshare and ip (util-linux, iproute2)")
    script = ("ip link set lo up && ip addr add 11.0.0.1/32 dev lo && "
              "ip addr add 10.77.0.1/24 dev lo && "
              f'exec "{sys.executable}" -m tests.feeds.netns_scenarios')
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(["unshare", "-rn", "sh", "-c", script], capture_output=True,
                          text=True, env=env, cwd=ROOT, timeout=120, check=False)
    if done.returncode != 0 and not done.stdout.strip():
        pytest.skip(f"cannot make a user+network namespace here: {done.stderr.strip()[-200:]}")
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


@pytest.fixture(scope="module")
def namespace_results() -> dict[str, dict[str, object]]:
    return _run_in_namespace()


def test_a_public_feed_redirecting_to_a_private_address_is_refused(namespace_results):
    got = namespace_results["public_to_private"]
    assert got == {"kind": "redirect_refused", "rule": "private", "hop": 1,
                   "target_requests": 0}


def test_a_public_feed_redirecting_to_a_name_of_a_loopback_address_is_refused(
        namespace_results):
    got = namespace_results["public_to_loopback_name"]
    assert got == {"kind": "redirect_refused", "rule": "loopback", "hop": 1,
                   "target_requests": 0}


def test_a_private_feed_may_redirect_within_its_private_network(namespace_results):
    assert namespace_results["private_to_private"] == {"result": "changed",
                                                       "target_requests": 1}


def test_a_plain_http_s3_endpoint_off_loopback_is_refused_before_connecting(
        namespace_results):
    got = namespace_results["s3_plain_http_private"]
    assert got["kind"] == "error" and got["connections"] == 0
    assert "plain http to 10.77.0.1 is refused" in str(got["error"])


class _Answers(AbstractResolver):
    """A resolver that gives each lookup of a name the next of its answers."""

    def __init__(self, *answers: list[str]) -> None:
        self.answers = list(answers)

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        return [{"hostname": host, "host": a, "port": port, "family": socket.AF_INET,
                 "proto": 0, "flags": 0} for a in self.answers.pop(0)]

    async def close(self) -> None:
        pass


async def test_a_name_that_turns_private_after_the_first_lookup_is_refused():
    guard = AddressGuard("https://feeds.example/stock.csv")
    resolver = GuardedResolver(guard, inner=_Answers(["11.0.0.1"], ["11.0.0.1", "10.0.0.5"]))
    assert [r["host"] for r in await resolver.resolve("feeds.example", 443)] == ["11.0.0.1"]
    guard.hop, guard.url = 1, "https://feeds.example/next.csv"
    with pytest.raises(RedirectRefused) as caught:
        await resolver.resolve("feeds.example", 443)
    assert (caught.value.rule, caught.value.hop) == ("private", 1)
    assert caught.value.details == {"rule": "private", "hop": 1}


async def test_the_daemon_logs_and_reports_which_rule_refused_a_redirect(
        feed_server: FeedServer, tmp_path):
    from structlog.testing import capture_logs

    from syncd.frontends.daemon.feedpoller import FeedPoller

    async def nothing() -> None:
        pass

    health: list[str | None] = []
    feed_server.redirect_to = "ftp://files.example/stock.csv"
    poller = FeedPoller(FeedCopy(FeedSettings(url=f"{feed_server.url}/stock.csv"),
                                 tmp_path / "feeds"), on_changed=nothing,
                        on_health=health.append)
    with capture_logs() as logs:
        assert await poller.check(notify=False) is None
    failed = [e for e in logs if e["event"] == "feed_failed"]
    assert [(e["kind"], e["rule"], e["hop"]) for e in failed] == [
        ("redirect_refused", "scheme", 1)]
    assert health and "redirect 1 to ftp://files.example/stock.csv refused (scheme)" in str(
        health[0])
