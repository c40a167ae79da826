"""Which redirects an HTTP feed may follow, and a resolver that enforces it at connect time.

A feed's server (or whoever answers in its name) must not be able to turn syncd against
its user. So a redirect is refused when it

- goes from ``https`` to ``http`` (the credential, the validators and the body would travel
  in clear text; the configuration refuses a credential on a plain ``http`` URL for the
  same reason), or to any scheme other than ``http``/``https``;
- leads to an address that is not public (loopback, private, link-local, unspecified,
  multicast, reserved, shared...) while the configured URL itself points to a public one:
  a feed on the internet must not make syncd read a service on its own machine or network
  and take the answer as stock.

The addresses checked are the ones connected to: ``GuardedResolver`` is the connector's
resolver, so a name is resolved once, checked, and the connection goes to exactly those
addresses (a name that answers "public" to a check and "private" to the connection cannot
slip through). A host written as an IP address is never passed to a resolver by aiohttp,
so ``check_address`` is called for it before the request.

Nothing here decides where credentials go: ``same_origin`` is the whole rule (scheme, host
and port of the configured URL), applied in ``syncd.edges.feeds.http_feed``.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from syncd.edges.config.feed import display_url
from syncd.edges.feeds.feed_errors import FeedError

_DEFAULT_PORTS = {"http": 80, "https": 443}


class RedirectRefused(FeedError):
    """A redirect a feed may not follow; ``rule`` says which rule refused it, ``hop`` which
    redirect it was (1 for the first)."""

    def __init__(self, feed: str, *, rule: str, hop: int, target: str, reason: str) -> None:
        super().__init__(feed, "redirect_refused",
                         f"redirect {hop} to {display_url(target)} refused ({rule}): {reason}")
        self.rule = rule
        self.hop = hop
        self.details = {"rule": rule, "hop": hop}


def origin(url: str) -> tuple[str, str, int]:
    """Scheme, host and port of ``url``: where a credential may be sent."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or _DEFAULT_PORTS.get(scheme, 0)


def same_origin(a: str, b: str) -> bool:
    return origin(a) == origin(b)


def address_rule(address: str) -> str | None:
    """The rule an address falls under when it is not public (``loopback``, ``private``...),
    None for a public address."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return "not_an_address"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for rule, hit in (("unspecified", ip.is_unspecified), ("loopback", ip.is_loopback),
                      ("link_local", ip.is_link_local), ("multicast", ip.is_multicast),
                      ("reserved", ip.is_reserved), ("private", ip.is_private)):
        if hit:
            return rule
    return None if ip.is_global else "not_global"


def check_scheme(feed: str, *, hop: int, current: str, target: str) -> None:
    """Refuse a redirect from https to http, or to anything but http(s)."""
    before, after = urlsplit(current).scheme.lower(), urlsplit(target).scheme.lower()
    if after not in ("http", "https"):
        raise RedirectRefused(feed, rule="scheme", hop=hop, target=target,
                              reason=f"only http and https are followed, not {after or '?'}")
    if before == "https" and after == "http":
        raise RedirectRefused(feed, rule="https_to_http", hop=hop, target=target,
                              reason="a feed configured with https is never fetched over "
                                     "plain http; configure the final URL if it moved")


class AddressGuard:
    """What the configured URL decided, and the hop being fetched: shared by the fetch loop
    and its resolver."""

    def __init__(self, feed: str) -> None:
        self.feed = feed
        self.hop = 0
        self.url = ""
        self.private_allowed: bool | None = None
        """None until the configured URL's addresses are known; True when one of them is not
        public (then the feed lives on a private network and may redirect within it)."""

    def check(self, host: str, addresses: list[str]) -> None:
        """Raise ``RedirectRefused`` when the hop may not connect to ``addresses``."""
        rules = [r for r in map(address_rule, addresses) if r is not None]
        if self.hop == 0 and self.private_allowed is None:
            self.private_allowed = bool(rules)
            return
        if rules and not self.private_allowed:
            bad = next(a for a in addresses if address_rule(a) is not None)
            raise RedirectRefused(
                self.feed, rule=rules[0], hop=self.hop, target=self.url,
                reason=f"{host} is {bad}, not a public address, and the configured URL is "
                       "public; configure the final URL if the feed really lives there")

    def check_literal(self, url: str) -> None:
        """For a host written as an IP address (never passed to the resolver)."""
        host = urlsplit(url).hostname or ""
        try:
            ipaddress.ip_address(host)
        except ValueError:
            return
        self.check(host, [host])


class GuardedResolver(AbstractResolver):
    """Resolves like aiohttp does, then lets ``guard`` refuse what it found; the connector
    connects to exactly the addresses returned here."""

    def __init__(self, guard: AddressGuard, *, inner: AbstractResolver | None = None) -> None:
        self._guard = guard
        self._inner = inner or DefaultResolver()

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        found = await self._inner.resolve(host, port, family)
        self._guard.check(host, [r["host"] for r in found])
        return found

    async def close(self) -> None:
        await self._inner.close()
