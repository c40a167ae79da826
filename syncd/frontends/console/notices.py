"""What the daemon says about its console at start-up: where to open it, and what is unsafe.

Logged once the listener is bound (so the port is the real one, also with ``:0``):

- ``console_url``: a URL to open, dialable as it is: a wildcard listen address
  (``0.0.0.0``/``::``) is shown as the loopback address of the same family, which the
  ``Host`` check accepts.
- ``console_without_token`` (warning): the console is served off loopback with no token, so
  it cannot sign anyone in: anyone who reaches the port sees it read-only, or nobody does.
- ``console_token_without_tls`` (warning): a token-protected console off loopback with no
  trusted proxy, i.e. no TLS in front that syncd knows of: the token and the session cookie
  cross the network in clear text.
"""

from __future__ import annotations

import structlog

from syncd.edges.config import ListenAddress, Settings

log = structlog.get_logger("syncd.frontends.console")


def console_url(address: ListenAddress) -> str:
    """``http://host:port/ui/`` for the bound address, with a wildcard made dialable."""
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(address.host,
                                                                    address.host)
    return f"http://{ListenAddress(host, address.port)}/ui/"


def announce_console(settings: Settings, address: ListenAddress) -> None:
    """Log the console's URL and the warnings its settings call for."""
    console = settings.console
    if not console.enabled:
        return
    loopback = settings.http.listen.is_loopback
    log.info("console_url", url=console_url(address), listen=str(address),
             allowed_hosts=list(console.allowed_hosts),
             viewing_needs_token=console.viewing_needs_token(loopback=loopback),
             actions=console.token is not None)
    if loopback:
        return
    if console.token is None:
        log.warning("console_without_token", listen=str(address),
                    hint="set console.token_env or console.token_file, or listen on "
                         "127.0.0.1 (http.listen)")
    elif not console.trusted_proxies:
        log.warning("console_token_without_tls", listen=str(address),
                    hint="serve the console through a TLS proxy and list it in "
                         "console.trusted_proxies, or listen on 127.0.0.1 (http.listen)")
