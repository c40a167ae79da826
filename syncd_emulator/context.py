"""The state of one running emulator, shared by its middleware and route handlers.

``Emulator`` owns the store, counters, rate limiter and fault settings; handlers reach it
through ``request.app[EMULATOR]``. Nothing here is global: two emulators in one process
(one V1 site and one V3 site, say) never share anything.
"""

from __future__ import annotations

import random
from importlib import resources
from pathlib import Path

from aiohttp import web

from syncd_emulator.config import EmulatorConfig
from syncd_emulator.faults import FaultSettings, Shopper
from syncd_emulator.generate import generate_store
from syncd_emulator.matchcache import MatchCache
from syncd_emulator.ratelimit import SlidingWindowLimiter
from syncd_emulator.spec import StoreSpec
from syncd_emulator.stats import Stats
from syncd_emulator.store import Catalog, Store
from syncd_emulator.storefile import load_store_file


def demo_store_path() -> Path:
    """The packaged demo store (``syncd_emulator/data/demo-store.yaml``)."""
    return Path(str(resources.files("syncd_emulator").joinpath("data/demo-store.yaml")))


def load_spec(config: EmulatorConfig) -> StoreSpec:
    """The initial store ``config`` asks for: a file, a generated store, or the demo store."""
    if config.store_path is not None:
        return load_store_file(config.store_path)
    if config.generate_products:
        return generate_store(config.generate_products, seed=config.seed)
    return load_store_file(demo_store_path())


def catalog_kind(config: EmulatorConfig) -> str:
    """The store's catalog version: ``v3``, or ``v1`` (also for a site without Stores)."""
    return "v3" if config.catalog == "v3" else "v1"


class Emulator:
    """Everything one emulated site is made of."""

    def __init__(self, config: EmulatorConfig, *, spec: StoreSpec | None = None,
                 limiter: SlidingWindowLimiter | None = None, shared: Catalog | None = None,
                 match_cache: MatchCache | None = None) -> None:
        """``limiter`` shares one request budget between emulated sites (``rate_per_key``);
        ``shared`` (built from ``spec``) is a catalog read by several sites, each copying
        only the products written to it, and ``match_cache`` their shared query matches."""
        self.config = config
        self.variants = config.variants
        self.spec = spec if spec is not None else load_spec(config)
        # A site without Stores still needs a store object; it is never reached.
        self.store = Store(self.spec, catalog=catalog_kind(config),
                           unmanaged_options=config.variants.unmanaged_options,
                           shared=shared, match_cache=match_cache)
        self.store.stock_moves_timestamps = config.stock_timestamps == "move"
        self.store.read_lag_s = config.effective_read_lag_s
        self.stats = Stats()
        self.settings = FaultSettings.from_config(config)
        self.limiter = limiter or SlidingWindowLimiter(self.settings.rate_limit)
        self.rng = random.Random(f"faults/{config.seed}")
        self._id_rng = random.Random(f"ids/{config.seed}")
        self.shopper = Shopper(self.store, settings=self.settings, stats=self.stats,
                               rng=random.Random(f"shopper/{config.seed}"))
        self.expired_queries: set[str] = set()
        """Queries whose first follow-up cursor was refused (``expiring_cursor``)."""

    def set_faults(self, **changes: object) -> FaultSettings:
        """Change faults/limits at runtime; ValueError leaves the old settings in place."""
        self.settings = self.settings.updated(dict(changes))
        self.limiter.configure(self.settings.rate_limit)
        self.shopper.wake(self.settings)
        return self.settings

    def reset(self) -> None:
        """Back to the initial store, zero counters and a fresh rate budget.

        Fault settings are kept: a test that set them expects them to stay.
        """
        self.store.reset()
        self.stats.reset()
        self.limiter.reset()
        self.expired_queries.clear()
        self._id_rng = random.Random(f"ids/{self.config.seed}")

    def new_id(self) -> str:
        """A fresh GUID for something the API creates (deterministic per seed)."""
        h = f"{self._id_rng.getrandbits(128):032x}"
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:32]}"


EMULATOR = web.AppKey("syncd_emulator", Emulator)
"""Where the app keeps its ``Emulator``."""
