"""The seam the sync cycle depends on: one store, whatever its catalog.

``StoreAdapter`` is a ``typing.Protocol``; ``V1Store`` and ``V3Store`` implement it over a
``WixClient``, and a test fake can implement it without HTTP. ``open_store`` asks the site
which catalog it runs (or takes the forced one) and returns the matching adapter.

``write`` takes planned changes as (variant as read, absolute stock wanted) and returns one
outcome per change, in order. It never raises for one item's failure, so one bad product
cannot hide the results of the others; it raises only ``WixAuthError`` (nothing else can
work either) and ``ValueError`` for a change that cannot be expressed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from syncd.base.errors import (
    StopRequested,
    WixAuthError,
    WixConflict,
    WixError,
    WixServerError,
    WixUnavailable,
)
from syncd.base.model import MAX_QUANTITY, Catalog, StoreSnapshot, StoreVariant
from syncd.core.store_hints import StoreHints
from syncd.edges.config.client import CatalogChoice, WalkSettings
from syncd.edges.wix.catalog import CatalogDetector
from syncd.edges.wix.client import WixClient
from syncd.edges.wix.seed_v1 import SeedReader
from syncd.edges.wix.tasks import task_group
from syncd.edges.wix.walk_v1 import V1Reader
from syncd.edges.wix.walk_v3 import V3Reader
from syncd.edges.wix.writes_v1 import VariantStock, update_inventory_variants
from syncd.edges.wix.writes_v3 import ItemStock, bulk_update_inventory_items


@dataclass(frozen=True, slots=True)
class StockWrite:
    """One planned change: the variant as it was read, and the absolute stock it should have.

    Exactly one of ``quantity`` (quantity tracking) and ``in_stock`` (status only) is set.
    """

    variant: StoreVariant
    quantity: int | None = None
    in_stock: bool | None = None

    def __post_init__(self) -> None:
        if (self.quantity is None) == (self.in_stock is None):
            raise ValueError(f"{self.variant.sku or self.variant.variant_id}: "
                             "give exactly one of quantity and in_stock")


@dataclass(frozen=True, slots=True)
class WriteOutcome:
    """What became of one ``StockWrite``."""

    write: StockWrite
    success: bool
    conflict: bool = False
    """The item changed since it was read (V3 revision): re-read it, re-plan, retry."""
    stored: StoreVariant | None = None
    """The item as Wix now stores it, when Wix said (V3 ``returnEntity``); None on V1."""
    error: str | None = None
    error_code: str | None = None
    uncertain: bool = False
    """No answer said whether the write landed (timeout or 5xx after every retry): the
    store holds either the old or the new value."""
    not_sent: bool = False
    """A stop was requested before the request left: the store is untouched."""


class StoreAdapter(Protocol):
    """One Wix store: read it whole, re-read parts of it, write absolute stock levels."""

    @property
    def catalog(self) -> Catalog:
        """The catalog the store runs."""
        ...

    @property
    def client(self) -> WixClient:
        """The site's client (call counts, rate limiter, logger, observers)."""
        ...

    async def walk(self, *, unchanged: int | None = None) -> StoreSnapshot:
        """Every variant of the store, hidden ones included. ``unchanged``: the ``answers``
        digest of an earlier walk; a walker that keeps digests may then answer with an
        ``unchanged`` snapshot (no variants) when Wix answered exactly as then."""
        ...

    async def refresh(
        self, *, product_ids: Sequence[str] = (), item_ids: Sequence[str] = (),
        skus: Sequence[str] = (),
    ) -> StoreSnapshot:
        """Current state of the named products (V1, V3), and of the inventory items named
        or carrying one of ``skus`` (V3 only: V1 cannot filter variants by SKU)."""
        ...

    async def write(self, changes: Sequence[StockWrite]) -> tuple[WriteOutcome, ...]:
        """Apply absolute stock levels; one outcome per change, in order."""
        ...


class V1Store:
    """A Catalog V1 store: Query Products walk, Update Inventory Variants per product."""

    catalog = Catalog.V1

    def __init__(self, client: WixClient, settings: WalkSettings | None = None, *,
                 hints: StoreHints | None = None) -> None:
        self.client = client
        self.settings = settings or WalkSettings()
        self._reader = V1Reader(client, self.settings,
                                bound_as_string=hints is not None and hints.bound_as_string)
        self._seed = SeedReader(client, self.settings)

    def __repr__(self) -> str:
        return f"V1Store({self.client!r})"

    async def walk(self, *, unchanged: int | None = None) -> StoreSnapshot:
        """Every variant, in about ceil(P/100) calls (``unchanged``: see ``StoreAdapter``)."""
        return await self._reader.walk(unchanged=unchanged)

    async def refresh(
        self, *, product_ids: Sequence[str] = (), item_ids: Sequence[str] = (),
        skus: Sequence[str] = (),
    ) -> StoreSnapshot:
        """Named products, by Query Products (default) or the seed flow (``refresh_mode``)."""
        if item_ids or skus:
            raise ValueError("a V1 store is refreshed by product id (inventory items are "
                             "one per product, and variants cannot be queried by SKU)")
        if self.settings.refresh_mode == "seed":
            return await self._seed.refresh(product_ids)
        return await self._reader.refresh(product_ids)

    async def write(self, changes: Sequence[StockWrite]) -> tuple[WriteOutcome, ...]:
        """One Update Inventory Variants call per product, concurrently.

        V1 tracks quantity per product, not per variant: every change of one product must
        use the same mode, and a write in the other mode than the product's switches the
        whole product (all its variants) to that mode.
        """
        for change in changes:
            # Refuse before sending anything: a ValueError raised mid-way would cancel
            # writes in flight and lose their outcomes.
            if change.quantity is not None and not 0 <= change.quantity <= MAX_QUANTITY:
                raise ValueError(f"{change.variant.sku or change.variant.variant_id}: "
                                 f"quantity {change.quantity} outside 0..{MAX_QUANTITY}")
        groups: dict[str, list[int]] = {}
        for index, change in enumerate(changes):
            groups.setdefault(change.variant.product_id, []).append(index)
        outcomes: dict[int, WriteOutcome] = {}
        async with task_group() as group:
            for product_id, indexes in groups.items():
                group.create_task(
                    self._write_product(product_id, [changes[i] for i in indexes], indexes,
                                        outcomes),
                    name=f"wix v1 write product={product_id}",
                )
        return tuple(outcomes[i] for i in range(len(changes)))

    async def _write_product(
        self,
        product_id: str,
        changes: list[StockWrite],
        indexes: list[int],
        outcomes: dict[int, WriteOutcome],
    ) -> None:
        modes = {change.quantity is not None for change in changes}
        if len(modes) > 1:
            for index, change in zip(indexes, changes, strict=True):
                outcomes[index] = WriteOutcome(
                    change, False, error="V1 tracks quantity per product: one product's "
                    "changes cannot mix quantities and in-stock flags")
            return
        stocks = [VariantStock(c.variant.variant_id, c.quantity, c.in_stock) for c in changes]
        try:
            await update_inventory_variants(
                self.client, product_id, track_quantity=modes.pop(), variants=stocks
            )
        except WixAuthError:
            raise
        except StopRequested as exc:
            for index, change in zip(indexes, changes, strict=True):
                outcomes[index] = WriteOutcome(change, False, error=str(exc), not_sent=True)
            return
        except WixError as exc:
            for index, change in zip(indexes, changes, strict=True):
                outcomes[index] = WriteOutcome(
                    change, False, conflict=isinstance(exc, WixConflict), error=str(exc),
                    error_code=exc.code, uncertain=_uncertain(exc),
                )
            return
        for index, change in zip(indexes, changes, strict=True):
            outcomes[index] = WriteOutcome(change, True)


class V3Store:
    """A Catalog V3 store: Query Inventory Items walk, Bulk Update with revisions."""

    catalog = Catalog.V3

    def __init__(self, client: WixClient, settings: WalkSettings | None = None) -> None:
        self.client = client
        self.settings = settings or WalkSettings()
        self._reader = V3Reader(client, self.settings)

    def __repr__(self) -> str:
        return f"V3Store({self.client!r})"

    async def walk(self, *, unchanged: int | None = None) -> StoreSnapshot:
        """Every inventory item, in about ceil(I/1000) calls (``unchanged``: see
        ``StoreAdapter``)."""
        return await self._reader.walk(unchanged=unchanged)

    async def refresh(
        self, *, product_ids: Sequence[str] = (), item_ids: Sequence[str] = (),
        skus: Sequence[str] = (),
    ) -> StoreSnapshot:
        """Named items, every item of the named products, and every item carrying one of
        ``skus`` (so a SKU duplicated since the last walk is still seen twice)."""
        return await self._reader.refresh(item_ids=item_ids, product_ids=product_ids,
                                          skus=skus)

    async def write(self, changes: Sequence[StockWrite]) -> tuple[WriteOutcome, ...]:
        """Bulk Update in calls of 1000, each item guarded by the revision it was read at."""
        stocks = []
        for change in changes:
            if not change.variant.revision:
                raise ValueError(f"item {change.variant.inventory_item_id}: no revision read")
            stocks.append(ItemStock(change.variant.inventory_item_id, change.variant.revision,
                                    change.quantity, change.in_stock))
        try:
            results = await bulk_update_inventory_items(self.client, stocks)
        except WixAuthError:
            raise
        except StopRequested as exc:
            return tuple(WriteOutcome(c, False, error=str(exc), not_sent=True) for c in changes)
        except WixError as exc:
            return tuple(WriteOutcome(c, False, error=str(exc), error_code=exc.code,
                                      uncertain=_uncertain(exc))
                         for c in changes)
        return tuple(
            WriteOutcome(change, r.success, r.conflict, r.variant, r.error, r.error_code)
            for change, r in zip(changes, results, strict=True)
        )


def _uncertain(exc: WixError) -> bool:
    """True when the failed write may nevertheless have landed (no definite answer)."""
    return isinstance(exc, WixServerError | WixUnavailable)


async def open_store(
    client: WixClient,
    *,
    catalog: CatalogChoice = CatalogChoice.AUTO,
    settings: WalkSettings | None = None,
    hints: StoreHints | None = None,
) -> StoreAdapter:
    """The adapter for the site's catalog; asks Wix once unless ``catalog`` forces one.

    Raises ``WixClientError`` with ``code == "STORES_NOT_INSTALLED"`` when the site has no
    store, and the client's errors when the question cannot be asked.
    """
    detected = await CatalogDetector(client, force=catalog).detect()
    if detected is Catalog.V1:
        return V1Store(client, settings, hints=hints)
    return V3Store(client, settings)
