"""The web console: what the daemon sees, on one page per question, under ``/ui/``.

    app      routes, the safe actions, and ``mount_console`` (the daemon's HTTP app)
    auth     the console token, sessions, CSRF checks and the sign-in rate limit
    proxy    the client and its scheme, from the peer or a trusted proxy's headers
    notices  the console's URL and warnings at start-up
    pages    the pages as HTML (pure)
    charts   small inline SVG charts
    html     escaping-by-default HTML building
    static/  a few kilobytes of CSS and JS, shipped in the package

Server-rendered, no build step, nothing loaded from another site.
"""

from syncd.frontends.console.app import mount_console

__all__ = ["mount_console"]
