"""The daemon's HTTP listener as a browser meets it: the names it answers to, the headers on
every answer, and what ``syncd run`` says about its console at start-up."""

from __future__ import annotations

import pytest

from support.console import client, console_daemon

HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}
CSP_PARTS = ("default-src 'self'", "form-action 'self'", "base-uri 'none'",
             "object-src 'none'", "frame-ancestors 'none'")


def assert_security_headers(headers: object, what: str) -> None:
    for name, value in HEADERS.items():
        assert headers.get(name) == value, (what, name)  # type: ignore[attr-defined]
    csp = headers.get("Content-Security-Policy", "")  # type: ignore[attr-defined]
    for part in CSP_PARTS:
        assert part in csp, (what, part)


@pytest.mark.parametrize("path", ["/ui/", "/ui/site/shop", "/metrics", "/readyz", "/healthz"])
async def test_a_request_naming_another_host_is_answered_421(tmp_path, path):
    async with console_daemon(tmp_path) as s, client() as http:
        async with http.get(f"{s.url}{path}",
                            headers={"Host": f"attacker.example:{s.daemon.port}"}) as resp:
            text = await resp.text()
            assert resp.status == 421, text
            assert "console.allowed_hosts" in text
            assert "shop" not in text
        async with http.get(f"{s.url}{path}", headers={"Host": f"localhost:{s.daemon.port}"}
                            ) as resp:
            assert resp.status in (200, 503)  # loopback names are the listener's own
        await s.daemon.wait_for("http_host_refused", host=f"attacker.example:{s.daemon.port}")


async def test_a_host_in_allowed_hosts_is_answered(tmp_path):
    async with console_daemon(tmp_path, console={"allowed_hosts": ["syncd", "Proxy.Example"]}
                              ) as s, client() as http:
        for host in ("syncd:9108", "proxy.example", f"127.0.0.1:{s.daemon.port}"):
            async with http.get(f"{s.url}/ui/", headers={"Host": host}) as resp:
                assert resp.status == 200, host
        async with http.get(f"{s.url}/metrics", headers={"Host": "syncd.evil"}) as resp:
            assert resp.status == 421


async def test_a_wildcard_listener_answers_any_ip_address_but_no_other_name(tmp_path):
    async with console_daemon(tmp_path, listen="0.0.0.0:0") as s, client() as http:
        for host in ("10.244.1.7:9108", "[fd00::7]:9108", "127.0.0.1"):
            async with http.get(f"{s.url}/healthz", headers={"Host": host}) as resp:
                assert resp.status == 200, host
        async with http.get(f"{s.url}/readyz", headers={"Host": "rebound.example"}) as resp:
            assert resp.status == 421


async def test_security_headers_are_on_pages_and_on_error_answers(tmp_path):
    async with console_daemon(tmp_path) as s, client() as http:
        async with http.get(f"{s.url}/ui/site/shop") as resp:
            assert resp.status == 200
            assert_security_headers(resp.headers, "page")
        async with http.get(f"{s.url}/ui/site/nowhere") as resp:
            assert resp.status == 404
            assert_security_headers(resp.headers, "404 of the console")
        async with http.get(f"{s.url}/no/such/path") as resp:
            assert resp.status == 404
            assert_security_headers(resp.headers, "404 of the router")
        async with http.delete(f"{s.url}/ui/site/shop/cycle") as resp:
            assert resp.status == 405
            assert_security_headers(resp.headers, "405")
        async with http.post(f"{s.url}/ui/site/shop/cycle") as resp:
            assert resp.status == 403
            assert_security_headers(resp.headers, "403")
        async with http.get(f"{s.url}/metrics", headers={"Host": "attacker.example"}) as resp:
            assert resp.status == 421
            assert_security_headers(resp.headers, "421")


async def test_start_up_logs_a_dialable_console_url_and_warns_of_a_console_without_tls(
        tmp_path):
    async with console_daemon(tmp_path, listen="0.0.0.0:0") as s, client() as http:
        port = s.daemon.port
        notice = s.daemon.find("console_url")
        assert notice is not None and notice["url"] == f"http://127.0.0.1:{port}/ui/"
        warning = s.daemon.find("console_token_without_tls")
        assert warning is not None and warning["level"] == "warning"
        assert "console.trusted_proxies" in warning["hint"]
        assert s.daemon.find("console_without_token") is None
        async with http.get(notice["url"], allow_redirects=False) as resp:
            assert resp.status == 303  # it answers there (and asks for the token)


async def test_start_up_warns_of_a_console_without_token_off_loopback(tmp_path):
    async with console_daemon(tmp_path, listen="0.0.0.0:0", token=False) as s:
        warning = s.daemon.find("console_without_token")
        assert warning is not None and warning["level"] == "warning"
        assert s.daemon.find("console_token_without_tls") is None


async def test_start_up_warns_of_nothing_on_loopback_or_behind_a_trusted_proxy(tmp_path):
    for name, listen, console in (("loop", "127.0.0.1:0", {}),
                                  ("proxied", "0.0.0.0:0", {"trusted_proxies": ["10.0.0.2"]})):
        (tmp_path / name).mkdir()
        async with console_daemon(tmp_path / name, listen=listen, console=console) as s:
            assert s.daemon.find("console_url") is not None
            assert s.daemon.find("console_token_without_tls") is None, name
            assert s.daemon.find("console_without_token") is None, name
