"""A site's informer: list the store once, then follow only what changed, and prove it works.

After a full walk the informer keeps the walk's variants (the cached snapshot) and a
*watermark*: the newest change timestamp the server reported just before the walk began
(``ChangeReader.newest``; the server's own value, never this host's clock). An incremental
read then asks for every V3 inventory item (``updatedDate``) or V1 product
(``lastUpdated``) stamped at or after ``watermark - change_overlap_s``, replaces those units
in the cached snapshot, and moves the watermark to the newest stamp it saw. Units read twice
(the overlap window, page boundaries) are de-duplicated by id, newest revision first; a V3
item whose revision did not move is not counted as changed.

Whether every stock change moves those timestamps is not confirmed, so the informer keeps
proving it, and falls back to full walks for the rest of the configuration's life when the
proof fails:

- the canary: every unit syncd wrote must come back in the next incremental read with a
  timestamp newer than the watermark held when it was written. If one does not, stock
  changes are evidently not stamped, and this very cycle walks the store instead;
- the resync check: a full walk compares the store with the cached snapshot brought up to
  date by one more incremental read; a variant whose stock differs although nothing stamped
  it after the walk began is a change the incremental reads missed.

Deleted products and items never show up in a read of changes; the periodic full walk
(``schedule.resync_seconds``) removes them from the cache.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

import structlog
from msgspec import structs

from syncd.base.model import Catalog, StoreSnapshot, StoreVariant
from syncd.edges.config.client import WalkSettings
from syncd.edges.wix import StoreAdapter
from syncd.edges.wix.store_changes import ChangeRead, ChangeReader, incomplete_products, stamp_minus


class Fallback(StrEnum):
    """Why a site stopped trusting incremental reads (the metric's ``reason`` label)."""

    CANARY = "canary_missed"
    """syncd's own writes did not show up in the next incremental read."""
    RESYNC = "resync_found_missed_changes"
    """A full walk found stock the incremental reads should have seen but did not."""
    NO_TIMESTAMPS = "no_timestamps"
    """The store reported no change timestamp at all."""


@dataclass(frozen=True, slots=True)
class ReadAccount:
    """What the last read of the informer did, for the cycle's log line."""

    kind: str
    """``full`` or ``incremental``."""
    changed: int = 0
    """Units (V3 items, V1 products) that came back with something new."""
    read: int = 0
    """Units the read of changes returned, before de-duplication against the cache."""
    api_calls: int = 0


Unit = tuple[StoreVariant, ...]
"""The variants of one change unit: one V3 inventory item, or one V1 product."""


class Informer:
    """The cached snapshot, watermark, canary and fallback state of one site."""

    def __init__(self, *, overlap_s: float,
                 on_fallback: Callable[[Fallback], None] | None = None,
                 log: structlog.typing.FilteringBoundLogger | None = None) -> None:
        self._overlap_s = overlap_s
        self._on_fallback = on_fallback
        self._log = log or structlog.get_logger("syncd.cycle.incremental")
        self._catalog: Catalog | None = None
        self._cache: dict[str, Unit] | None = None
        self._watermark: datetime | None = None
        self._canary: dict[str, datetime] = {}
        self.fallback: Fallback | None = None
        """Set once incremental reads proved untrustworthy: every cycle walks the store."""
        self.last = ReadAccount("full")

    @property
    def ready(self) -> bool:
        """True when the next cycle may read only what changed."""
        return (self.fallback is None and self._cache is not None
                and self._watermark is not None)

    def reset(self) -> None:
        """Forget everything but the fallback (the catalog changed, say)."""
        self._cache, self._watermark, self._catalog = None, None, None
        self._canary.clear()

    async def full(self, store: StoreAdapter) -> StoreSnapshot:
        """Walk the whole store; check the incremental reads against it; new baseline."""
        reader = ChangeReader(store.client, _walk_settings(store), store.catalog)
        newest, calls = (None, 0) if self.fallback else await reader.newest()
        snapshot = await store.walk()
        calls += snapshot.api_calls
        if self.ready:
            calls += await self._check_against(store, reader, snapshot, newest)
        self._catalog = store.catalog
        self._cache = _units(snapshot.variants, store.catalog)
        self._canary.clear()
        self._watermark = newest
        if newest is None and self.fallback is None:
            self._fall_back(Fallback.NO_TIMESTAMPS, units=len(self._cache))
        self.last = ReadAccount("full", api_calls=calls)
        return StoreSnapshot(snapshot.catalog, snapshot.variants, api_calls=calls)

    async def incremental(self, store: StoreAdapter) -> StoreSnapshot | None:
        """The store as of now from a read of changes; None when a full walk is needed."""
        if not self.ready or store.catalog is not self._catalog:
            return None
        assert self._watermark is not None and self._cache is not None
        reader = ChangeReader(store.client, _walk_settings(store), store.catalog)
        read = await reader.since(stamp_minus(self._watermark, self._overlap_s))
        calls = read.api_calls + await _complete_v1(store, read)
        missed = [key for key, written_after in self._canary.items()
                  if key not in read.units or not read.units[key].stamp > written_after]
        if missed:
            self._fall_back(Fallback.CANARY, written=len(self._canary), missing=len(missed),
                            sample=missed[:5])
            return None
        keep_hidden = _walk_settings(store).v3_product_visibility
        changed = _merge(self._cache, read, keep_hidden=keep_hidden)
        if read.newest is not None and read.newest > self._watermark:
            self._watermark = read.newest
        self._canary.clear()
        self.last = ReadAccount("incremental", changed=changed, read=len(read.units),
                                api_calls=calls)
        self._log.info("incremental_read", changed=changed, read=len(read.units),
                       api_calls=calls, watermark=str(self._watermark))
        return StoreSnapshot(store.catalog, _flatten(self._cache), api_calls=calls)

    def wrote(self, variants: Iterable[StoreVariant]) -> None:
        """Arm the canary: these variants were just written and must show up next read."""
        if self._watermark is None or self._catalog is None or not self.ready:
            return
        for variant in variants:
            key = (variant.inventory_item_id if self._catalog is Catalog.V3
                   else variant.product_id)
            if key:
                self._canary[key] = self._watermark

    async def _check_against(self, store: StoreAdapter, reader: ChangeReader,
                             snapshot: StoreSnapshot, walk_began: datetime | None) -> int:
        """Compare the cache, brought up to date, with a full walk; fall back on a miss."""
        assert self._cache is not None and self._watermark is not None
        read = await reader.since(stamp_minus(self._watermark, self._overlap_s))
        calls = read.api_calls + await _complete_v1(store, read)
        cache = dict(self._cache)
        _merge(cache, read, keep_hidden=_walk_settings(store).v3_product_visibility)
        moved = {key for key, unit in read.units.items()
                 if walk_began is None or unit.stamp > walk_began}
        missed = [key for key, unit in _units(snapshot.variants, store.catalog).items()
                  if key in cache and key not in moved and _stock(cache[key]) != _stock(unit)]
        if missed:
            self._fall_back(Fallback.RESYNC, missed=len(missed), sample=missed[:5])
        return calls

    def _fall_back(self, reason: Fallback, **details: object) -> None:
        if self.fallback is None:
            self.fallback = reason
            self._log.warning("incremental_reads_disabled", reason=str(reason),
                              fallback="full walks every cycle", **details)
            if self._on_fallback is not None:
                self._on_fallback(reason)


def _walk_settings(store: StoreAdapter) -> WalkSettings:
    """The adapter's walk settings (``V1Store``/``V3Store`` carry them; fakes may not)."""
    settings = getattr(store, "settings", None)
    return settings if isinstance(settings, WalkSettings) else WalkSettings()


async def _complete_v1(store: StoreAdapter, read: ChangeRead) -> int:
    """Re-read by id the V1 products whose page lacked stock; returns the calls spent."""
    if store.catalog is not Catalog.V1:
        return 0
    missing = incomplete_products(read)
    if not missing:
        return 0
    fresh = await store.refresh(product_ids=missing)
    grouped = _units(fresh.variants, Catalog.V1)
    for product_id in missing:
        unit = read.units[product_id]
        read.units[product_id] = replace(unit, variants=grouped.get(product_id, ()))
    return fresh.api_calls


def _merge(cache: dict[str, Unit], read: ChangeRead, *, keep_hidden: bool = False) -> int:
    """Put the read units into ``cache``; returns how many brought something new.

    ``keep_hidden`` (V3 with ``v3_product_visibility``): an item knows whether its variant
    is visible, not its product; a unit the full walk marked hidden stays hidden until the
    next full walk looks at the products again."""
    changed = 0
    for key, unit in read.units.items():
        old = cache.get(key)
        if old == unit.variants:
            continue
        if (old is not None and unit.revision is not None and len(old) == 1
                and old[0].revision == unit.revision):
            continue  # an overlap re-read of a revision already held
        new = unit.variants
        if keep_hidden and old and all(v.hidden for v in old):
            new = tuple(structs.replace(v, hidden=True) for v in new)
        cache[key] = new
        changed += 1
    return changed


def _units(variants: Iterable[StoreVariant], catalog: Catalog) -> dict[str, Unit]:
    grouped: dict[str, list[StoreVariant]] = {}
    for v in variants:
        key = v.inventory_item_id if catalog is Catalog.V3 else v.product_id
        grouped.setdefault(key, []).append(v)
    return {key: tuple(vs) for key, vs in grouped.items()}


def _flatten(cache: dict[str, Unit]) -> tuple[StoreVariant, ...]:
    return tuple(v for unit in cache.values() for v in unit)


def _stock(unit: Unit) -> list[tuple[str, bool, int | None, bool]]:
    return sorted((v.variant_id, v.tracked, v.quantity if v.tracked else None, v.in_stock)
                  for v in unit)
