"""The mutable state of one emulated site, and every change the API can make to it.

One ``Store`` holds one catalog: V1 (stock per variant, tracking per product, one Inventory
V2 item per product) or V3 (stock on inventory items, one per variant and location, each
with a revision). Request parsing and HTTP statuses stay in the route modules; this module
only knows the business rules (ranges, tracking, revisions) so they hold the same way for
every endpoint that reaches them, including the simulated shopper.

Writes clear the product's cached JSON (``ProductState.cache``), which the V1 views fill
lazily; that keeps full Query Products pages cheap.

With ``read_lag_s`` set (the ``read_lag`` switch) every V1 stock change also keeps the
variant's value from before it, for ``read_lag_s`` seconds: ``as_read()`` shows the store
as it was that long ago, which is what the ``stores-reader`` routes serve.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from syncd.base.model import MAX_QUANTITY, NIL_GUID
from syncd_emulator.matchcache import MatchCache
from syncd_emulator.spec import BASE_TIMESTAMP, ProductSpec, StoreSpec, VariantSpec

V3_MIN_QUANTITY = -MAX_QUANTITY
"""V3 quantities range -99999..99999; negative stock comes only from decrements."""


def now_iso() -> str:
    """The current time as Wix writes it: ISO-8601, milliseconds, ``Z``."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class VariantState:
    """One variant. ``quantity``/``in_stock`` are its V1 stock (V3 keeps stock on items).

    ``in_stock`` is the manual flag of untracked products; a tracked variant's reported
    stock status is derived from its quantity (``reported_in_stock``).
    """

    __slots__ = ("choices", "id", "in_stock", "items", "json", "price", "product", "quantity",
                 "sku", "visible")

    def __init__(self, product: ProductState, spec: VariantSpec, *, variant_id: str) -> None:
        self.product = product
        self.id = variant_id
        self.choices = spec.choices
        self.sku = spec.sku
        self.price = spec.price
        self.visible = spec.visible
        self.quantity = spec.quantity
        self.in_stock = spec.in_stock
        self.items: list[ItemState] = []
        # Cached V1 JSON text of the variant (``views_v1``); cleared when its stock changes.
        self.json: str | None = None

    @property
    def reported_in_stock(self) -> bool:
        """V1 stock status: quantity > 0 when the product is tracked, else the manual flag."""
        return self.quantity > 0 if self.product.track else self.in_stock

    def default_item(self, location_id: str) -> ItemState | None:
        """The V3 inventory item at ``location_id``, if the variant has one."""
        for item in self.items:
            if item.location_id == location_id:
                return item
        return None


class ProductState:
    """One product with its variants. ``track`` is V1's product-wide trackQuantity."""

    __slots__ = ("cache", "created", "description", "id", "inventory_item_id", "manage_variants",
                 "name", "numeric_id", "options", "price", "sku", "slug", "track", "updated",
                 "variants", "variants_by_id", "visible")

    def __init__(self, spec: ProductSpec, *, catalog: str, unmanaged: bool = False) -> None:
        """``unmanaged``: a product with options but ``manageVariants: false`` (V1): one
        SKU, on the product, for every variant; each variant keeps its own stock."""
        self.id = spec.id
        self.numeric_id = spec.numeric_id
        self.name = spec.name
        self.slug = _slug(spec.name)
        self.description = spec.description
        self.visible = spec.visible
        self.sku = spec.sku
        self.manage_variants = (spec.has_options if spec.manage_variants is None
                                else spec.manage_variants)
        self.track = spec.track
        self.price = spec.price
        self.options = spec.options
        self.inventory_item_id = spec.inventory_item_id
        self.created = BASE_TIMESTAMP
        self.updated = BASE_TIMESTAMP
        self.cache: dict[str, object] = {}
        # V1 gives the single variant of an option-less product the nil GUID; V3 never does.
        self.variants = [
            VariantState(
                self,
                v,
                variant_id=NIL_GUID if catalog == "v1" and not spec.has_options else v.id,
            )
            for v in spec.variants
        ]
        self.variants_by_id = {v.id: v for v in self.variants}
        if ((unmanaged or spec.manage_variants is False) and spec.has_options
                and catalog == "v1"):
            self.manage_variants = False
            self.sku = spec.sku or next((v.sku for v in spec.variants if v.sku), "")
            for variant in self.variants:
                variant.sku = self.sku

    def touch(self, now: str) -> None:
        """Record a change: new ``lastUpdated``/``updatedDate`` and no stale cached JSON."""
        self.updated = now
        if self.cache:
            self.cache.clear()


class ItemState:
    """A V3 inventory item: the stock of one variant at one location."""

    __slots__ = ("created", "id", "in_stock", "json", "location_id", "product", "quantity",
                 "revision", "track", "updated", "variant")

    def __init__(
        self,
        item_id: str,
        variant: VariantState,
        *,
        location_id: str,
        track: bool,
        quantity: int,
        in_stock: bool,
        created: str,
    ) -> None:
        self.id = item_id
        self.variant = variant
        self.product = variant.product
        self.location_id = location_id
        self.track = track
        self.quantity = quantity
        self.in_stock = in_stock
        self.revision = 1
        self.created = created
        self.updated = created
        # Cached JSON text of the item (``views_v3``); every write clears it.
        self.json: str | None = None

    @property
    def reported_in_stock(self) -> bool:
        """Derived for quantity-tracked items, the set flag otherwise."""
        return self.quantity > 0 if self.track else self.in_stock


class Store:
    """All products (by ascending numeric id), their variants and, for V3, inventory items."""

    def __init__(self, spec: StoreSpec, *, catalog: str, unmanaged_options: bool = False) -> None:
        """``unmanaged_options`` (V1 only): one product with options in four gets
        ``manageVariants: false`` (see ``syncd_emulator.variants``)."""
        self.spec = spec
        self.catalog = catalog
        self.unmanaged_options = unmanaged_options and catalog == "v1"
        self.location_id = spec.location_id
        self.products: list[ProductState] = []
        self.numeric_ids: list[int] = []
        self.by_id: dict[str, ProductState] = {}
        self.by_inventory_id: dict[str, ProductState] = {}
        self.items: list[ItemState] = []
        self.items_by_id: dict[str, ItemState] = {}
        self._stock_units: list[VariantState] | list[ItemState] = []
        self.changes = 0
        """Bumped by every change: query matches cached for an older count are stale."""
        self.creations = 0
        """Bumped when items are created (or the store reset): membership changes."""
        self.match_cache = MatchCache()
        self.stock_moves_timestamps = True
        """False: stock changes leave ``lastUpdated``/``updatedDate`` alone (``timestamps``)."""
        self.sold: dict[tuple[str, str], int] = {}
        """V1: (product id, variant id) -> units the simulated shopper took."""
        self.read_lag_s = 0.0
        """Seconds V1 reads lag writes (``as_read``); 0: reads see every write at once."""
        self._history: dict[VariantState, list[tuple[float, int, bool]]] = {}
        """V1 variants changed within ``read_lag_s``: (when, quantity before, in_stock
        before) per change, oldest first."""
        self._lagged = False
        self.write_calls = 0
        """Write calls handled (``applied_5xx`` answers every third with a 5xx)."""
        self.reset()

    def reset(self) -> None:
        """Throw away every change and rebuild the state from the spec."""
        self.changes += 1
        self.creations += 1
        self.products = [ProductState(p, catalog=self.catalog,
                                      unmanaged=self.unmanaged_options and p.numeric_id % 4 == 0)
                         for p in sorted(self.spec.products, key=lambda p: p.numeric_id)]
        self.numeric_ids = [p.numeric_id for p in self.products]
        self.by_id = {p.id: p for p in self.products}
        self.by_inventory_id = {p.inventory_item_id: p for p in self.products}
        self.items = []
        self.items_by_id = {}
        self.sold = {}
        self._history = {}
        self.write_calls = 0
        if self.catalog == "v3":
            specs = {p.id: p for p in self.spec.products}
            for product in self.products:
                spec = specs[product.id]
                for variant, vspec in zip(product.variants, spec.variants, strict=True):
                    if vspec.item_id is not None:
                        self._add_item(vspec.item_id, variant, location_id=self.location_id,
                                       track=spec.track, quantity=vspec.quantity,
                                       in_stock=vspec.in_stock, created=BASE_TIMESTAMP)
            self._stock_units = self.items
        else:
            self._stock_units = [v for p in self.products for v in p.variants]

    # -- lookups ------------------------------------------------------------------------

    def variant(self, product: ProductState, variant_id: str) -> VariantState | None:
        """The variant of ``product`` with ``variant_id``, if any."""
        return product.variants_by_id.get(variant_id)

    @property
    def variant_count(self) -> int:
        """Number of variants over all products."""
        return sum(len(p.variants) for p in self.products)

    # -- V1 / Inventory V2 --------------------------------------------------------------

    def set_tracking(self, product: ProductState, track: bool) -> None:
        """Switch quantity tracking of the whole product (V2 ``trackQuantity``)."""
        product.track = track
        for variant in product.variants:
            variant.json = None
        self._stock_touch(product)

    def set_variant_stock(
        self, variant: VariantState, *, quantity: int | None, in_stock: bool | None
    ) -> None:
        """Write a V1 variant's quantity and/or manual in-stock flag (0..99999, checked)."""
        self._remember(variant)
        if quantity is not None:
            variant.quantity = quantity
        if in_stock is not None:
            variant.in_stock = in_stock
        variant.json = None
        self._stock_touch(variant.product)

    def adjust_variant(self, variant: VariantState, delta: int) -> None:
        """Add ``delta`` to a V1 variant's quantity (range checked by the caller)."""
        self._remember(variant)
        variant.quantity += delta
        variant.json = None
        self._stock_touch(variant.product)

    # -- reads that lag writes (``read_lag``) ----------------------------------------------

    def _remember(self, variant: VariantState) -> None:
        """Keep ``variant``'s value before a change, while reads may still show it."""
        if self._lagged:
            raise RuntimeError("a write reached the store while a lagging read was served")
        if self.read_lag_s <= 0:
            return
        now = time.monotonic()
        self._history.setdefault(variant, []).append((now, variant.quantity, variant.in_stock))
        if len(self._history) > 1024:
            self._forget(now - self.read_lag_s)

    def _forget(self, before: float) -> None:
        for variant, changes in list(self._history.items()):
            kept = [c for c in changes if c[0] > before]
            if kept:
                self._history[variant] = kept
            else:
                del self._history[variant]

    @contextmanager
    def as_read(self) -> Iterator[None]:
        """Within the block, V1 variants hold what they held ``read_lag_s`` seconds ago.

        For a read handler only, and only around code that never yields to the event loop:
        a write arriving meanwhile would land on the old values (it raises instead).
        """
        if self.read_lag_s <= 0:
            yield
            return
        self._forget(time.monotonic() - self.read_lag_s)
        now_values = [(v, v.quantity, v.in_stock) for v in self._history]
        for variant, changes in self._history.items():
            _, variant.quantity, variant.in_stock = changes[0]
            self._uncache(variant)
        self._lagged = True
        try:
            yield
        finally:
            self._lagged = False
            for variant, quantity, in_stock in now_values:
                variant.quantity, variant.in_stock = quantity, in_stock
                self._uncache(variant)

    def _uncache(self, variant: VariantState) -> None:
        variant.json = None
        variant.product.cache.clear()
        self.changes += 1

    # -- V3 inventory items -------------------------------------------------------------

    def write_item(self, item: ItemState, *, quantity: int | None, in_stock: bool | None) -> None:
        """Set an item's stock; writing ``quantity`` selects quantity tracking, ``inStock`` not.

        Always a write: the revision goes up by one even when nothing else changes.
        """
        if quantity is not None:
            item.track = True
            item.quantity = quantity
        elif in_stock is not None:
            item.track = False
            item.in_stock = in_stock
        self._bump(item)

    def adjust_item(self, item: ItemState, delta: int) -> None:
        """Add ``delta`` to a tracked item's quantity (rules checked by ``check_adjust``)."""
        item.quantity += delta
        self._bump(item)

    def check_adjust(self, item: ItemState, delta: int, *, restrict: bool) -> str | None:
        """The §2.4 error code an increment/decrement of ``item`` by ``delta`` would hit."""
        if not item.track:
            return "INVENTORY_QUANTITY_NOT_TRACKED"
        result = item.quantity + delta
        if result > MAX_QUANTITY:
            return "MAX_QUANTITY_LIMIT_REACHED"
        if delta < 0 and restrict and result < 0:
            return "INSUFFICIENT_INVENTORY"
        if result < V3_MIN_QUANTITY:
            return "MIN_QUANTITY_LIMIT_REACHED"
        return None

    def create_item(
        self,
        variant: VariantState,
        *,
        location_id: str,
        item_id: str,
        quantity: int | None,
        in_stock: bool | None,
    ) -> ItemState:
        """Create a V3 inventory item (the caller checked that none exists there)."""
        now = now_iso()
        item = self._add_item(
            item_id, variant, location_id=location_id, track=quantity is not None,
            quantity=quantity or 0, in_stock=bool(in_stock), created=now,
        )
        variant.product.touch(now)
        self.changes += 1
        self.creations += 1
        return item

    def _add_item(
        self, item_id: str, variant: VariantState, *, location_id: str, track: bool,
        quantity: int, in_stock: bool, created: str,
    ) -> ItemState:
        item = ItemState(item_id, variant, location_id=location_id, track=track,
                         quantity=quantity, in_stock=in_stock, created=created)
        variant.items.append(item)
        self.items.append(item)
        self.items_by_id[item_id] = item
        return item

    def _bump(self, item: ItemState) -> None:
        item.revision += 1
        item.json = None
        if self.stock_moves_timestamps:
            item.updated = now_iso()
        self._stock_touch(item.product, item.updated)

    def _stock_touch(self, product: ProductState, now: str | None = None) -> None:
        """A stock change of ``product``: stamp it, unless stock changes move no timestamps."""
        self.changes += 1
        if self.stock_moves_timestamps:
            product.touch(now or now_iso())
        else:
            product.cache.clear()

    # -- the simulated shopper ----------------------------------------------------------

    def sell_one(self, rng: random.Random) -> bool:
        """Decrement one random tracked variant (V3: item) with stock left, like an order.

        Returns False when nothing tracked has stock. Random probes first keep this O(1)
        on realistic stores; the scan only runs when stock is nearly exhausted.
        """
        units = self._stock_units
        if not units:
            return False
        for _ in range(32):
            unit = units[rng.randrange(len(units))]
            if self._sellable(unit):
                break
        else:
            candidates = [u for u in units if self._sellable(u)]
            if not candidates:
                return False
            unit = rng.choice(candidates)
        if isinstance(unit, ItemState):
            self.adjust_item(unit, -1)
        else:
            self.adjust_variant(unit, -1)
            key = (unit.product.id, unit.id)
            self.sold[key] = self.sold.get(key, 0) + 1
        return True

    @staticmethod
    def _sellable(unit: VariantState | ItemState) -> bool:
        tracked = unit.track if isinstance(unit, ItemState) else unit.product.track
        return tracked and unit.quantity > 0

    # -- introspection ------------------------------------------------------------------

    def state_rows(self) -> list[dict[str, object]]:
        """Every variant (V3: every inventory item, plus variants without one) as plain data.

        Keys follow ``syncd.base.model.StoreVariant`` so tests can compare snapshots directly.
        """
        rows: list[dict[str, object]] = []
        for product in self.products:
            for variant in product.variants:
                if self.catalog != "v3":
                    rows.append(_row(variant, product.inventory_item_id, product.track,
                                     variant.quantity, variant.reported_in_stock, None, None))
                    continue
                for item in variant.items:
                    rows.append(_row(variant, item.id, item.track,
                                     item.quantity if item.track else None,
                                     item.reported_in_stock, str(item.revision), item.location_id))
                if not variant.items:
                    rows.append(_row(variant, None, False, None, False, None, None))
        return rows


def _row(
    variant: VariantState,
    inventory_item_id: str | None,
    tracked: bool,
    quantity: int | None,
    in_stock: bool,
    revision: str | None,
    location_id: str | None,
) -> dict[str, object]:
    product = variant.product
    return {
        "sku": variant.sku,
        "product_id": product.id,
        "variant_id": variant.id,
        "inventory_item_id": inventory_item_id,
        "tracked": tracked,
        "quantity": quantity,
        "in_stock": in_stock,
        "hidden": not product.visible,
        "product_name": product.name,
        "shared_sku": not product.manage_variants,
        "revision": revision,
        "location_id": location_id,
    }


def _slug(name: str) -> str:
    return "-".join("".join(c if c.isalnum() else " " for c in name.lower()).split())
