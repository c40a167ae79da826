"""Which products hold each SKU, as the last full walk saw them: the fast lane's map.

The daemon keeps one per site between cycles, so with thousands of sites its size is most
of the daemon's memory. It holds no SKU text: a sorted array of the SKUs' hashes (Python's
own ``hash``, cached on each string and stable for the life of the process, which is as
long as the index lives) beside an array of the index of the product holding each, and
the tuple of product ids. Two machine words a variant instead of a dict entry, a SKU string
and often a tuple: about 20 KB for a 2,000-variant store instead of about 230 KB. A hash
shared by two SKUs can only add a product to read again, never hide one. A
``product/variant`` key needs no entry: its product id is in the key.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Iterable

from syncd.base.model import StoreVariant


class ProductIndex:
    """SKU and id keys -> the products holding them (see the module docstring)."""

    __slots__ = ("_hashes", "_ids", "_owners", "_products")

    def __init__(self, variants: Iterable[StoreVariant]) -> None:
        position: dict[str, int] = {}
        pairs: set[tuple[int, int]] = set()
        for v in variants:
            at = position.setdefault(v.product_id, len(position))
            if v.sku:
                pairs.add((hash(v.sku), at))
        ordered = sorted(pairs)
        self._hashes = array("q", [h for h, _ in ordered])
        self._owners = array("I", [at for _, at in ordered])
        self._ids = tuple(position)
        self._products = frozenset(self._ids)

    def _sku_owners(self, key: str) -> set[str]:
        """The products that held a SKU hashing like ``key``."""
        h = hash(key)
        lo = bisect_left(self._hashes, h)
        hi = bisect_right(self._hashes, h, lo)
        return {self._ids[self._owners[i]] for i in range(lo, hi)}

    def products_for(self, key: str) -> set[str]:
        """Every product that held ``key`` (a SKU, a product id, or ``product/variant``)."""
        found = self._sku_owners(key)
        if key in self._products:
            found.add(key)
        if "/" in key:
            product = key.split("/", 1)[0]
            if product in self._products:
                found.add(product)
        return found

    def is_product_id(self, key: str) -> bool:
        """True when ``key`` names a product and no other product's SKU."""
        return key in self._products and self._sku_owners(key) <= {key}

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
