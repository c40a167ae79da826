"""Which products hold each SKU, as the last full walk saw them: the fast lane's map.

The daemon keeps one per site between cycles, so with a thousand sites its size is most of
the daemon's memory. It holds only SKU -> product (a plain string for the usual single
product, a frozenset only for a SKU shared by several) and the set of product ids: a
``product/variant`` key needs no entry, its product id is in the key.
"""

from __future__ import annotations

from collections.abc import Iterable

from syncd.base.model import StoreVariant


class ProductIndex:
    """SKU and id keys -> the products holding them (see the module docstring)."""

    __slots__ = ("_by_sku", "_products")

    def __init__(self, variants: Iterable[StoreVariant]) -> None:
        by_sku: dict[str, str | frozenset[str]] = {}
        products: set[str] = set()
        for v in variants:
            products.add(v.product_id)
            if not v.sku:
                continue
            have = by_sku.get(v.sku)
            if have is None:
                by_sku[v.sku] = v.product_id
            elif isinstance(have, str):
                if have != v.product_id:
                    by_sku[v.sku] = frozenset((have, v.product_id))
            else:
                by_sku[v.sku] = have | {v.product_id}
        self._by_sku = by_sku
        self._products = frozenset(products)

    def products_for(self, key: str) -> set[str]:
        """Every product that held ``key`` (a SKU, a product id, or ``product/variant``)."""
        found: set[str] = set()
        hit = self._by_sku.get(key)
        if isinstance(hit, str):
            found.add(hit)
        elif hit:
            found |= hit
        if key in self._products:
            found.add(key)
        if "/" in key:
            product = key.split("/", 1)[0]
            if product in self._products:
                found.add(product)
        return found

    def is_product_id(self, key: str) -> bool:
        """True when ``key`` names a product and no other product's SKU."""
        hit = self._by_sku.get(key)
        return key in self._products and (hit is None or hit == key)

    def products_to_read(self, keys: Iterable[str]) -> list[str]:
        """Products to re-read for ``keys``, sorted: every product that held a key at the
        last full walk (so a SKU shared by two products is still seen as ambiguous), and
        the product of a ``product/variant`` key the walk did not see."""
        products: set[str] = set()
        for key in keys:
            products |= self.products_for(key)
            if "/" in key:
                products.add(key.split("/", 1)[0])
        return sorted(products)
