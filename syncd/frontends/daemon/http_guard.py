"""What every answer of the daemon's HTTP listener goes through: the ``Host`` check and the
security headers.

The listener serves the console and the scrape endpoints to browsers as well as to probes.
A page on another site can make a browser send requests to ``127.0.0.1:9108`` under its own
name (DNS rebinding) and read the answers, since the browser then thinks they come from that
site. Those requests carry the attacker's name in ``Host``, so every request must name the
listener itself: its listen address, one of ``console.allowed_hosts`` (a reverse proxy's or
a compose service's name), a loopback name (``localhost``) when it listens on loopback or on
every address, or, when it listens on every address (``0.0.0.0``/``::``), any IP address
(Kubernetes probes dial the pod's IP). A rebinding page cannot choose any of these: its own
name is what it rebinds. Anything else is answered ``421 Misdirected Request``.

Every response, error pages included, carries a Content-Security-Policy and the other headers
that keep the console's pages from being framed, sniffed or leaking their URLs. The ports are
not compared: a proxy may forward from another port, and a rebinding page cannot forge the
name.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable, Iterable

import structlog
from aiohttp import web

log = structlog.get_logger("syncd.frontends.daemon")

WILDCARD_HOSTS = frozenset({"", "0.0.0.0", "::"})
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
                               "form-action 'self'; base-uri 'none'; object-src 'none'; "
                               "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}
"""Sent with every response. The console's pages use only their own stylesheet and script
(no inline ones) and inline SVG, so ``default-src 'self'`` is all they need. The referrer
policy is ``same-origin``, not ``no-referrer``: under the latter browsers send ``Origin:
null`` with the console's own forms, which the console's Origin check must then refuse."""

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def is_ip(host: str) -> bool:
    """True for an IPv4 or IPv6 address (without brackets)."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def host_name(header: str) -> str:
    """The name of a ``Host`` header without its port, lower-cased (``[::1]:80`` -> ``::1``)."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1:].split("]", 1)[0]
    if header.count(":") == 1:
        return header.split(":", 1)[0]
    return header  # no port, or a bare IPv6 address


class HostCheck:
    """Which ``Host`` names the listener on ``listen_host`` answers to."""

    def __init__(self, listen_host: str, allowed_hosts: Iterable[str] = ()) -> None:
        listen = listen_host.strip("[]").lower()
        self.wildcard = listen in WILDCARD_HOSTS
        names = {listen, *(h.lower() for h in allowed_hosts)}
        if self.wildcard or listen in LOOPBACK_NAMES or listen.startswith("127."):
            names |= LOOPBACK_NAMES
        self.names = frozenset(names - {""})

    def accepts(self, header: str | None) -> bool:
        """True when a request with this ``Host`` header is meant for this listener."""
        if not header:
            return False
        name = host_name(header)
        return name in self.names or (self.wildcard and is_ip(name))


def install(app: web.Application, check: HostCheck) -> None:
    """Add the ``Host`` check and the security headers to ``app`` (before it starts)."""

    @web.middleware
    async def check_host(request: web.Request, handler: Handler) -> web.StreamResponse:
        host = request.headers.get("Host")
        if not check.accepts(host):
            log.warning("http_host_refused", host=host, path=request.path,
                        remote=request.remote)
            return web.Response(
                status=421, content_type="text/plain",
                text=f"syncd: this listener does not answer to the name {host!r}; add it to "
                     "console.allowed_hosts if it is yours\n")
        return await handler(request)

    async def add_headers(request: web.Request, response: web.StreamResponse) -> None:
        for name, value in SECURITY_HEADERS.items():
            response.headers[name] = value

    app.middlewares.append(check_host)
    app.on_response_prepare.append(add_headers)
