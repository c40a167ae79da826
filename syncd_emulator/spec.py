"""The initial content of an emulated store, as immutable values.

A store file (``storefile``) and the generator (``generate``) both produce a ``StoreSpec``;
``store.Store`` turns it into mutable state, and rebuilds that state from the same spec on
``POST /__emulator/reset``. Every id is already resolved here (GUID strings, ascending
numeric ids), so building a store twice from one spec gives identical stores.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

ID_NAMESPACE = uuid.UUID("5b0e3c1e-8f0a-4a43-9d8e-2a7c2f1d0e11")
"""Namespace for ids derived from names (store files that give no explicit ids)."""

DEFAULT_LOCATION_ID = "d4e5f6a7-0000-4000-8000-00000000c0de"
"""The one stock location of every emulated V3 site."""

FIRST_NUMERIC_ID = 1_598_904_314_932_014
"""Numeric ids start here (the value shown in Wix's own examples) and only go up."""

BASE_TIMESTAMP = "2024-01-15T09:30:00.000Z"
"""``createdDate``/``lastUpdated`` of every product and item until it is first written."""


def derived_id(*parts: object) -> str:
    """A GUID derived from ``parts``: stable across runs, distinct for distinct parts."""
    return str(uuid.uuid5(ID_NAMESPACE, "/".join(str(p) for p in parts)))


@dataclass(frozen=True, slots=True)
class OptionSpec:
    """A product option such as Size or Colour with its choices, in display order."""

    name: str
    choices: tuple[str, ...]
    kind: str = "drop_down"


@dataclass(frozen=True, slots=True)
class VariantSpec:
    """One variant. ``id`` is its V3 id; a V1 option-less product uses the nil GUID instead.

    ``sku`` is the variant's effective SKU: for an option-less product it is the product's
    SKU (V1 shows it on the product because ``manageVariants`` is false). ``item_id`` is the
    id of its V3 inventory item at the default location, or None when it has none.
    """

    id: str
    choices: tuple[tuple[str, str], ...]
    sku: str
    quantity: int
    in_stock: bool
    price: float
    item_id: str | None
    visible: bool = True


@dataclass(frozen=True, slots=True)
class ProductSpec:
    """One product; ``track`` is V1's product-wide ``trackQuantity`` (V3: per item)."""

    id: str
    numeric_id: int
    name: str
    sku: str
    visible: bool
    track: bool
    price: float
    options: tuple[OptionSpec, ...]
    variants: tuple[VariantSpec, ...]
    inventory_item_id: str
    description: str = ""
    manage_variants: bool | None = None
    """V1 ``manageVariants``; None: true exactly when the product has options. False on a
    product with options: its SKU (``sku``) is the product's, shared by every variant, and
    each variant keeps its own stock."""

    @property
    def has_options(self) -> bool:
        """True when variants come from options (V1 ``manageVariants`` unless turned off)."""
        return bool(self.options)


@dataclass(frozen=True, slots=True)
class StoreSpec:
    """A whole store; ``source`` says where it came from, for logs and ``--help``."""

    products: tuple[ProductSpec, ...]
    source: str
    location_id: str = DEFAULT_LOCATION_ID

    @property
    def variant_count(self) -> int:
        """Number of variants over all products."""
        return sum(len(p.variants) for p in self.products)
