"""An offline, faithful emulator of the Wix Stores endpoints syncd talks to.

The Wix API cannot be reached from tests or from a laptop on a train, so syncd ships its
own Wix: Catalog V1 with Inventory V2 (and the older endpoints of Wix's inventory
walkthrough), and Catalog V3 with its inventory items, each behaving as the contract in
``wix-api.md`` describes: string-encoded V1 filters, offset paging that fails past 10,000,
hidden products silently dropped, revisions that go stale, 200 requests per minute per
site, and (on request) failures, dropped connections, latency and shoppers buying stock
in the middle of a sync.

Use it from tests::

    async with serve(EmulatorConfig(catalog="v3", generate_products=500)) as emu:
        ...  # talk to emu.url; assert on emu.state() and emu.stats()

or from a shell: ``syncd emulator --help``. The package depends only on ``syncd.base.model``
and ``syncd.base.errors``; nothing else in syncd is imported here.

Modules: ``config`` (settings), ``spec``/``storefile``/``generate`` (initial stores),
``store`` (state and business rules), ``views_v1``/``views_v3`` (JSON shapes), ``query``/
``fields``/``paging`` (filters, sorts, pages), ``bodies``/``errors``/``respond`` (HTTP
plumbing), ``ratelimit``/``faults``/``stats`` (the hostile parts), ``routes_*`` (endpoints),
``app`` (middleware and serving), ``command`` (the CLI).
"""

from syncd_emulator.app import RunningEmulator, build_app, serve
from syncd_emulator.config import EmulatorConfig, parse_rate_limit
from syncd_emulator.generate import generate_store
from syncd_emulator.spec import StoreSpec
from syncd_emulator.store import Store
from syncd_emulator.storefile import load_store_file

__all__ = [
    "EmulatorConfig",
    "RunningEmulator",
    "Store",
    "StoreSpec",
    "build_app",
    "generate_store",
    "load_store_file",
    "parse_rate_limit",
    "serve",
]
