"""Introspection routes under ``/__emulator/``, outside the Wix API.

They need no auth, are never rate limited and never faulted, so tests and the fault suite
can always look at (and steer) the emulator, however hostile it is being to clients:

    GET  /__emulator/stats    request, status, fault and write counters
    GET  /__emulator/state    a list with every variant's stock (see Store.state_rows)
    POST /__emulator/reset    back to the initial store; counters and rate budget zeroed
    GET  /__emulator/faults   current fault settings
    POST /__emulator/faults   change them: {"fail_rate", "drop_rate", "latency_ms",
                              "rate_limit": "200/60" | "off", "retry_after_s",
                              "shopper_rate", "stale_status", "drop_after_rate",
                              "adjust_bad_entry", "adjust_below_zero",
                              "adjust_untracked"} (any subset)
"""

from __future__ import annotations

import json

from aiohttp import web

from syncd_emulator.context import EMULATOR
from syncd_emulator.respond import json_response

PREFIX = "/__emulator"


def add_routes(router: web.UrlDispatcher) -> None:
    """Register the introspection routes."""
    router.add_get(f"{PREFIX}/stats", get_stats, allow_head=False)
    router.add_get(f"{PREFIX}/state", get_state, allow_head=False)
    router.add_post(f"{PREFIX}/reset", post_reset)
    router.add_get(f"{PREFIX}/faults", get_faults, allow_head=False)
    router.add_post(f"{PREFIX}/faults", post_faults)


async def get_stats(request: web.Request) -> web.Response:
    """The counters."""
    return json_response(request.app[EMULATOR].stats.snapshot())


async def get_state(request: web.Request) -> web.Response:
    """Every variant's stock."""
    return json_response(request.app[EMULATOR].store.state_rows())


async def post_reset(request: web.Request) -> web.Response:
    """Restore the initial store and zero the counters."""
    emu = request.app[EMULATOR]
    emu.reset()
    return json_response({"reset": True, "variants": emu.store.variant_count})


async def get_faults(request: web.Request) -> web.Response:
    """Current fault settings."""
    return json_response(request.app[EMULATOR].settings.as_dict())


async def post_faults(request: web.Request) -> web.Response:
    """Change fault settings; 400 with the reason when one is out of range."""
    emu = request.app[EMULATOR]
    try:
        changes = json.loads(await request.read() or b"{}")
        if not isinstance(changes, dict):
            raise ValueError("expected a JSON object of settings")
        settings = emu.set_faults(**changes)
    except ValueError as e:
        return json_response({"message": str(e)}, status=400)
    return json_response(settings.as_dict())
