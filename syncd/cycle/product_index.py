"""Which products hold each SKU, as the last full walk saw them: the fast lane's map.

The daemon keeps one per site between cycles, so with thousands of sites its size is a
large part of the daemon's memory. It holds no SKU text and no string a product: one
sorted array with a number a variant (the low 32 bits of the SKU's ``hash``, which is
Python's own, cached on each string and stable for the life of the process, which is as
long as the index lives, above the position of the product holding it), the product ids
joined into one string with an array of where each ends, and a sorted array of the ids'
hashes for "is this a product id". About 30 KB for a 300-product, 2,000-variant store,
where a dict of SKU strings took about 230 KB. A hash shared by two SKUs can only add a
product to read again, never hide one. A ``product/variant`` key needs no entry: its
product id is in the key.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Iterable, Iterator

from syncd.base.model import StoreVariant

_LOW = 0xFFFFFFFF


class ProductIndex:
    """SKU and id keys -> the products holding them (see the module docstring)."""

    __slots__ = ("_id_ends", "_id_hashes", "_id_text", "_keys")

    def __init__(self, variants: Iterable[StoreVariant]) -> None:
        position: dict[str, int] = {}
        keys: set[int] = set()
        add = keys.add
        last: str | None = None
        at = 0
        for v in variants:  # built at every full walk: once per variant of the store
            product_id = v.product_id
            if product_id is not last:  # a walk gives a product's variants one id object
                at = position.setdefault(product_id, len(position))
                last = product_id
            sku = v.sku
            if sku:
                add((hash(sku) & _LOW) << 32 | at)
        self._keys = array("Q", sorted(keys))
        ids = list(position)
        self._id_text = "".join(ids)
        ends, end = array("I"), 0
        for product_id in ids:
            end += len(product_id)
            ends.append(end)
        self._id_ends = ends
        self._id_hashes = array("Q", sorted((hash(i) & _LOW) << 32 | at
                                            for i, at in position.items()))

    def _id(self, at: int) -> str:
        ends = self._id_ends
        return self._id_text[ends[at - 1] if at else 0:ends[at]]

    def _sku_owners(self, key: str) -> set[str]:
        """The products that held a SKU hashing like ``key``."""
        return {self._id(at) for at in _positions(self._keys, key)}

    def _is_id(self, key: str) -> bool:
        return any(self._id(at) == key for at in _positions(self._id_hashes, key))

    def products_for(self, key: str) -> set[str]:
        """Every product that held ``key`` (a SKU, a product id, or ``product/variant``)."""
        found = self._sku_owners(key)
        if self._is_id(key):
            found.add(key)
        if "/" in key:
            product = key.split("/", 1)[0]
            if self._is_id(product):
                found.add(product)
        return found

    def is_product_id(self, key: str) -> bool:
        """True when ``key`` names a product and no other product's SKU."""
        return self._is_id(key) and self._sku_owners(key) <= {key}

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


def _positions(keys: array[int], key: str) -> Iterator[int]:
    """The low halves of the numbers in sorted ``keys`` whose high half is ``key``'s hash."""
    high = hash(key) & _LOW
    i = bisect_left(keys, high << 32)
    while i < len(keys) and keys[i] >> 32 == high:
        yield keys[i] & _LOW
        i += 1
