"""The mutable state of one emulated site, and every change the API can make to it.

One ``Store`` holds one catalog: V1 (stock per variant, tracking per product, one Inventory
V2 item per product) or V3 (stock on inventory items, one per variant and location, each
with a revision). Request parsing and HTTP statuses stay in the route modules; this module
only knows the business rules (ranges, tracking, revisions) so they hold the same way for
every endpoint that reaches them, including the simulated shopper.

Writes clear the product's cached JSON (``ProductState.cache``), which the V1 views fill
lazily; that keeps full Query Products pages cheap.

Many sites can share one catalog (``Catalog``, built once; ``syncd emulator --sites``): each
site's ``Store`` reads the shared products until a write request looks one up, which then
gets a private copy of that product (its variants and items) for that site alone. A site
costs memory for what was written to it, not for its whole catalog, and a write to one site
is invisible to every other.

With ``read_lag_s`` set (the ``read_lag`` switch) every V1 stock change also keeps the
variant's value from before it, for ``read_lag_s`` seconds: ``as_read()`` shows the store
as it was that long ago, which is what the ``stores-reader`` routes serve.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TypeVar

from syncd.base.model import MAX_QUANTITY, NIL_GUID
from syncd_emulator.matchcache import MatchCache
from syncd_emulator.spec import BASE_TIMESTAMP, ProductSpec, StoreSpec, VariantSpec

T_State = TypeVar("T_State")

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


class Catalog:
    """The products of a spec as the API shows them before any write: built once and, in
    a multi-site emulator, read by every site (nothing here is written through a ``Store``
    that shares it)."""

    __slots__ = ("by_id", "by_inventory_id", "items", "items_by_id", "numeric_ids",
                 "products")

    def __init__(self, spec: StoreSpec, *, catalog: str, unmanaged_options: bool = False,
                 ) -> None:
        unmanaged = unmanaged_options and catalog == "v1"
        self.products = [ProductState(p, catalog=catalog,
                                      unmanaged=unmanaged and p.numeric_id % 4 == 0)
                         for p in sorted(spec.products, key=lambda p: p.numeric_id)]
        self.numeric_ids = [p.numeric_id for p in self.products]
        self.by_id = {p.id: p for p in self.products}
        self.by_inventory_id = {p.inventory_item_id: p for p in self.products}
        self.items: list[ItemState] = []
        self.items_by_id: dict[str, ItemState] = {}
        if catalog == "v3":
            specs = {p.id: p for p in spec.products}
            for product in self.products:
                pspec = specs[product.id]
                for variant, vspec in zip(product.variants, pspec.variants, strict=True):
                    if vspec.item_id is not None:
                        item = ItemState(vspec.item_id, variant, location_id=spec.location_id,
                                         track=pspec.track, quantity=vspec.quantity,
                                         in_stock=vspec.in_stock, created=BASE_TIMESTAMP)
                        variant.items.append(item)
                        self.items.append(item)
                        self.items_by_id[item.id] = item


class _Overlay(Mapping[str, T_State]):
    """A lookup of a shared catalog through one site's copies of the products it wrote."""

    __slots__ = ("_resolve", "_shared")
    _shared: dict[str, T_State]
    _resolve: Callable[[T_State], T_State]

    def __init__(self, shared: dict[str, T_State],
                 resolve: Callable[[T_State], T_State]) -> None:
        self._shared = shared
        self._resolve = resolve

    def __getitem__(self, key: str) -> T_State:
        return self._resolve(self._shared[key])

    def __iter__(self) -> Iterator[str]:
        return iter(self._shared)

    def __len__(self) -> int:
        return len(self._shared)


class Store:
    """All products (by ascending numeric id), their variants and, for V3, inventory items.

    With ``shared`` the store starts as that catalog (shared with other sites) and copies a
    product the first time a write request looks it up (``writing``); without, it builds a
    catalog of its own and changes it in place.
    """

    def __init__(self, spec: StoreSpec, *, catalog: str, unmanaged_options: bool = False,
                 shared: Catalog | None = None, match_cache: MatchCache | None = None,
                 ) -> None:
        """``unmanaged_options`` (V1 only): one product with options in four gets
        ``manageVariants: false`` (see ``syncd_emulator.variants``). ``match_cache`` may be
        shared between sites too (its entries are told apart by the record lists)."""
        self.spec = spec
        self.catalog = catalog
        self.unmanaged_options = unmanaged_options and catalog == "v1"
        self.location_id = spec.location_id
        self._shared = shared
        self._owned: dict[str, ProductState] = {}
        """Shared mode: this site's copies of the products written to, by product id."""
        self._own_items: dict[str, ItemState] = {}
        """Shared mode: the items of those copies, and the items created, by item id."""
        self._writing = 0
        self.products: list[ProductState] = []
        self.numeric_ids: list[int] = []
        self.by_id: Mapping[str, ProductState] = {}
        self.by_inventory_id: Mapping[str, ProductState] = {}
        self.items: list[ItemState] = []
        self.items_by_id: Mapping[str, ItemState] = {}
        self._stock_units: list[VariantState] | list[ItemState] = []
        self.changes = 0
        """Bumped by every change: query matches cached for an older count are stale."""
        self.creations = 0
        """Bumped when items are created (or the store reset): membership changes."""
        self.match_cache = match_cache or MatchCache()
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
        self.sold = {}
        self._history = {}
        self.write_calls = 0
        self._owned = {}
        self._own_items = {}
        if self._shared is None:
            catalog = Catalog(self.spec, catalog=self.catalog,
                              unmanaged_options=self.unmanaged_options)
            self.products = catalog.products
            self.numeric_ids = catalog.numeric_ids
            self.by_id = catalog.by_id
            self.by_inventory_id = catalog.by_inventory_id
            self.items = catalog.items
            self.items_by_id = catalog.items_by_id
        else:
            shared = self._shared
            self.products = shared.products
            self.numeric_ids = shared.numeric_ids
            self.by_id = _Overlay(shared.by_id, self._resolve)
            self.by_inventory_id = _Overlay(shared.by_inventory_id, self._resolve)
            self.items = shared.items
            self.items_by_id = _Overlay(shared.items_by_id, self._resolve_item)
        if self._shared is not None:
            self._stock_units = []  # listed when the shopper sells (``_units``)
        elif self.catalog == "v3":
            self._stock_units = self.items
        else:
            self._stock_units = [v for p in self.products for v in p.variants]

    # -- copy on write (a catalog shared between sites) ----------------------------------

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Within the block (a write request), products looked up are this site's copies."""
        self._writing += 1
        try:
            yield
        finally:
            self._writing -= 1

    @property
    def owned_products(self) -> int:
        """Products this site holds a copy of (all of them without a shared catalog)."""
        return len(self.products) if self._shared is None else len(self._owned)

    def _resolve(self, product: ProductState) -> ProductState:
        """``product`` of the shared catalog as this site sees it (copied when writing)."""
        owned = self._owned.get(product.id)
        if owned is not None:
            return owned
        if self._writing and self._shared is not None:
            return self._own(product)
        return product

    def _resolve_item(self, item: ItemState) -> ItemState:
        owned = self._own_items.get(item.id)
        if owned is not None:
            return owned
        if self._writing and self._shared is not None:
            self._own(item.product)
            return self._own_items[item.id]
        return item

    def _own(self, product: ProductState) -> ProductState:
        """This site's copy of a shared product, its variants and their items."""
        copy = _copy_product(product)
        self._owned[copy.id] = copy
        for variant in copy.variants:
            for item in variant.items:
                self._own_items[item.id] = item
        owned, own_items = self._owned, self._own_items
        self.products = [owned.get(p.id, p) for p in self.products]
        if self.catalog == "v3":
            self.items = [own_items.get(i.id, i) for i in self.items]
        return copy

    def _check_owned(self, product: ProductState) -> None:
        if self._shared is not None and self._owned.get(product.id) is not product:
            raise RuntimeError(
                f"product {product.id} of the shared catalog was about to be written: a "
                "write request must look products up within Store.writing()")

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
        self._check_owned(product)
        product.track = track
        for variant in product.variants:
            variant.json = None
        self._stock_touch(product)

    def set_variant_stock(
        self, variant: VariantState, *, quantity: int | None, in_stock: bool | None
    ) -> None:
        """Write a V1 variant's quantity and/or manual in-stock flag (0..99999, checked)."""
        self._check_owned(variant.product)
        self._remember(variant)
        if quantity is not None:
            variant.quantity = quantity
        if in_stock is not None:
            variant.in_stock = in_stock
        variant.json = None
        self._stock_touch(variant.product)

    def adjust_variant(self, variant: VariantState, delta: int) -> None:
        """Add ``delta`` to a V1 variant's quantity (range checked by the caller)."""
        self._check_owned(variant.product)
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
        self._check_owned(item.product)
        if quantity is not None:
            item.track = True
            item.quantity = quantity
        elif in_stock is not None:
            item.track = False
            item.in_stock = in_stock
        self._bump(item)

    def adjust_item(self, item: ItemState, delta: int) -> None:
        """Add ``delta`` to a tracked item's quantity (rules checked by ``check_adjust``)."""
        self._check_owned(item.product)
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
        self._check_owned(variant.product)
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
        if self._shared is None:
            self.items.append(item)
            assert isinstance(self.items_by_id, dict)
            self.items_by_id[item_id] = item
        else:
            self._own_items[item_id] = item
            self.items = [*self.items, item]
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
        units = self._units()
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

    def _units(self) -> list[VariantState] | list[ItemState]:
        """What the shopper may sell: kept listed with a catalog of its own; listed afresh
        over a shared one (a list of every variant a site would cost 16 KB a site)."""
        if self._shared is None:
            return self._stock_units
        if self.catalog == "v3":
            return self.items
        return [v for p in self.products for v in p.variants]

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


def _copy_product(product: ProductState) -> ProductState:
    """A copy of ``product`` whose variants and items are copies too (no cached JSON)."""
    copy = object.__new__(ProductState)
    for name in ProductState.__slots__:
        setattr(copy, name, getattr(product, name))
    copy.cache = {}
    copy.variants = []
    for variant in product.variants:
        vcopy = object.__new__(VariantState)
        for name in VariantState.__slots__:
            setattr(vcopy, name, getattr(variant, name))
        vcopy.product = copy
        vcopy.json = None
        vcopy.items = []
        for item in variant.items:
            icopy = object.__new__(ItemState)
            for name in ItemState.__slots__:
                setattr(icopy, name, getattr(item, name))
            icopy.variant, icopy.product, icopy.json = vcopy, copy, None
            vcopy.items.append(icopy)
        copy.variants.append(vcopy)
    copy.variants_by_id = {v.id: v for v in copy.variants}
    return copy


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
