"""Console sessions: who must sign in to look, the cookie, how long a session lasts, how many
wrong tokens a client may try, and signing out."""

from __future__ import annotations

import asyncio
from http.cookies import SimpleCookie

import aiohttp

from support.console import TOKEN, client, console_daemon, sign_in


async def _login(http: aiohttp.ClientSession, url: str, token: str = TOKEN,
                 headers: dict[str, str] | None = None) -> aiohttp.ClientResponse:
    async with http.post(f"{url}/ui/login", data={"token": token}, allow_redirects=False,
                         headers=headers or {}) as resp:
        await resp.read()
        return resp


def _cookie(resp: aiohttp.ClientResponse) -> SimpleCookie:
    jar: SimpleCookie = SimpleCookie()
    for header in resp.headers.getall("Set-Cookie", []):
        jar.load(header)
    return jar


async def _who(http: aiohttp.ClientSession, url: str) -> str:
    """What the header of a page says of the viewer (or where the page sends them)."""
    async with http.get(f"{url}/ui/site/shop", allow_redirects=False) as resp:
        if resp.status == 303:
            return f"sent to {resp.headers['Location']}"
        text = await resp.text()
    return text.split('class="who">', 1)[1].split("<", 1)[0].strip()


async def test_viewing_needs_a_session_when_require_token_for_viewing_is_on(tmp_path):
    async with console_daemon(tmp_path, console={"require_token_for_viewing": True}) as s, \
            client() as http:
        for path in ("/ui/", "/ui/site/shop", "/ui/site/shop/sku/MUG-CLASSIC"):
            async with http.get(f"{s.url}{path}", allow_redirects=False) as resp:
                assert resp.status == 303, path
                assert resp.headers["Location"] == "/ui/login"
        await sign_in(http, s.url)
        async with http.get(f"{s.url}/ui/") as resp:
            assert resp.status == 200
            assert 'data-site="shop"' in await resp.text()


async def test_behind_a_trusted_proxy_viewing_needs_a_session_by_default(tmp_path):
    async with console_daemon(tmp_path, console={"trusted_proxies": ["127.0.0.1"]}) as s, \
            client() as http:
        async with http.get(f"{s.url}/ui/", allow_redirects=False) as resp:
            assert resp.status == 303 and resp.headers["Location"] == "/ui/login"


async def test_a_trusted_proxy_saying_https_gets_a_secure_host_prefixed_cookie(tmp_path):
    async with console_daemon(tmp_path, console={"trusted_proxies": ["127.0.0.0/8"]}) as s, \
            client() as http:
        secure = _cookie(await _login(http, s.url, headers={"X-Forwarded-Proto": "https"}))
        assert list(secure) == ["__Host-syncd_console"]
        morsel = secure["__Host-syncd_console"]
        assert morsel["secure"] and morsel["httponly"] and morsel["path"] == "/"
        assert not morsel["domain"] and morsel["samesite"] == "Strict"
        # The browser sends it back over HTTPS (through the proxy): the session is live.
        async with http.get(f"{s.url}/ui/site/shop", headers={
                "X-Forwarded-Proto": "https",
                "Cookie": f"__Host-syncd_console={morsel.value}"}) as resp:
            assert "signed in" in await resp.text()
        plain = _cookie(await _login(http, s.url))
        assert list(plain) == ["syncd_console"] and not plain["syncd_console"]["secure"]


async def test_an_untrusted_peers_forwarded_proto_is_ignored(tmp_path):
    async with console_daemon(tmp_path, console={"trusted_proxies": ["10.0.0.0/8"]}) as s, \
            client() as http:
        cookie = _cookie(await _login(http, s.url, headers={"X-Forwarded-Proto": "https"}))
        assert list(cookie) == ["syncd_console"]
        assert not cookie["syncd_console"]["secure"]


async def test_an_idle_session_ends(tmp_path):
    async with console_daemon(tmp_path, console={"session_idle_seconds": 1}) as s, \
            client() as http:
        await sign_in(http, s.url)
        assert (await _who(http, s.url)).startswith("signed in")
        await asyncio.sleep(1.5)
        assert (await _who(http, s.url)).startswith("read-only")
        await s.daemon.wait_for("console_session_expired", idle=True)


async def test_a_session_ends_after_its_maximum_age_even_when_used(tmp_path):
    async with console_daemon(tmp_path, console={"session_max_seconds": 2}) as s, \
            client() as http:
        await sign_in(http, s.url)
        await asyncio.sleep(1)
        assert (await _who(http, s.url)).startswith("signed in")
        await asyncio.sleep(1.5)
        assert (await _who(http, s.url)).startswith("read-only")
        await s.daemon.wait_for("console_session_expired", idle=False)


async def test_the_sixth_wrong_token_within_the_window_gets_429(tmp_path):
    async with console_daemon(tmp_path) as s, client() as http:
        for _ in range(5):
            assert (await _login(http, s.url, "wrong-token-0123456789")).status == 403
        refused = await _login(http, s.url, "wrong-token-0123456789")
        assert refused.status == 429
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        # Locked out: the right token waits too, and so does a Bearer header.
        assert (await _login(http, s.url)).status == 429
        async with http.get(f"{s.url}/ui/",
                            headers={"Authorization": f"Bearer {TOKEN}"}) as resp:
            assert resp.status == 429
        await s.daemon.wait_for("console_sign_in_throttled")


async def test_sign_out_without_the_csrf_token_is_refused(tmp_path):
    async with console_daemon(tmp_path) as s, client() as http:
        csrf = await sign_in(http, s.url)
        async with http.post(f"{s.url}/ui/logout", allow_redirects=False) as resp:
            assert resp.status == 403
        async with http.post(f"{s.url}/ui/logout", data={"csrf": "forged"},
                             allow_redirects=False) as resp:
            assert resp.status == 403
        assert (await _who(http, s.url)).startswith("signed in")
        async with http.post(f"{s.url}/ui/logout", data={"csrf": csrf},
                             allow_redirects=False) as resp:
            assert resp.status == 303
        assert (await _who(http, s.url)).startswith("read-only")


async def test_behind_a_trusted_proxy_the_sign_in_limit_is_per_forwarded_client(tmp_path):
    async with console_daemon(tmp_path, console={"trusted_proxies": ["127.0.0.1"],
                                                 "login_max_failures": 2}) as s, \
            client() as http:
        guesser = {"X-Forwarded-For": "203.0.113.5"}
        for _ in range(2):
            assert (await _login(http, s.url, "wrong-token-0123456789", guesser)).status == 403
        assert (await _login(http, s.url, "wrong-token-0123456789", guesser)).status == 429
        # Another browser behind the same proxy is not locked out by the guesser.
        other = {"X-Forwarded-For": "198.51.100.7, 127.0.0.1"}
        assert (await _login(http, s.url, headers=other)).status == 303


async def test_an_untrusted_peer_cannot_escape_the_sign_in_limit_with_forwarded_for(tmp_path):
    async with console_daemon(tmp_path, console={"login_max_failures": 2}) as s, \
            client() as http:
        for n in range(2):
            resp = await _login(http, s.url, "wrong-token-0123456789",
                                {"X-Forwarded-For": f"203.0.113.{n}"})
            assert resp.status == 403
        resp = await _login(http, s.url, "wrong-token-0123456789",
                            {"X-Forwarded-For": "203.0.113.99"})
        assert resp.status == 429
