"""Who is asking and over what: the peer, or what a trusted proxy in front says of it.

A TLS-terminating proxy (nginx, Traefik, an ingress) talks plain HTTP to the daemon, so the
daemon cannot see that the browser used HTTPS, nor the browser's address. The proxy says so
in ``X-Forwarded-Proto`` and ``X-Forwarded-For``; those headers are believed only from the
peers listed in ``console.trusted_proxies``, since anyone else could send them to obtain a
fresh login budget or to pose as a secure client.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from aiohttp import web

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class Proxies:
    """The trusted proxies of one listener."""

    def __init__(self, trusted: Sequence[Network] = ()) -> None:
        self.trusted = tuple(trusted)

    def _trusts(self, address: str | None) -> bool:
        if not address or not self.trusted:
            return False
        try:
            ip = ipaddress.ip_address(address.strip().strip("[]"))
        except ValueError:
            return False
        return any(ip.version == net.version and ip in net for net in self.trusted)

    def secure(self, request: web.Request) -> bool:
        """True when the browser's request came over TLS (directly, or as a trusted proxy
        says in ``X-Forwarded-Proto``: its last value, the one the nearest proxy set)."""
        if request.transport is not None and \
                request.transport.get_extra_info("sslcontext") is not None:
            return True
        if not self._trusts(request.remote):
            return False
        proto = request.headers.get("X-Forwarded-Proto", "")
        return proto.split(",")[-1].strip().lower() == "https"

    def client(self, request: web.Request) -> str:
        """The client's address: the peer, or, behind trusted proxies, the nearest address
        in ``X-Forwarded-For`` that is not itself a trusted proxy."""
        peer = request.remote or "unknown"
        if not self._trusts(peer):
            return peer
        hops = [h.strip() for h in request.headers.get("X-Forwarded-For", "").split(",")]
        for hop in reversed([h for h in hops if h]):
            if not self._trusts(hop):
                return hop
        return peer
