"""The Query Products pages of a V1 store's last walk, so that a page Wix answers the same,
byte for byte, is not decoded again.

Most walks of a daemon find the store as the last walk left it. Such a walk still has to ask
for every page (nothing else proves that nothing changed), but decoding a page of 100
products with their variants is the largest cost of its CPU, and it is wasted when the
cycle ends up planning nothing. So each page decoded is remembered by its ``answer_hash``
(the request and the answer's bytes) with just what the crawl needs to go on: the products'
``numericId``s and the page's ``totalResults``. A walk that may turn out unchanged
(``walk(replay=True)``) gets, for a page answered as before, ``KnownProduct``s holding
only those numbers; if the walk's answers then differ anywhere after all, each such product
is decoded from the bytes of this walk's own answer (``product``), which are kept until the
walk ends. Nothing here trusts the last walk's products: only its answers' bytes.

A page with a product whose stock the page lacks (or without a ``numericId``) is not
remembered: such a walk reads more than the pages and is never "unchanged".

What is kept between walks is a few kilobytes a store (an 8-byte number a product), and the
pages of the last walk only.
"""

from __future__ import annotations

from array import array

from syncd.edges.wix.answers import V1Product, V1ProductsPage, decode_answer
from syncd.edges.wix.crawl_v1 import Listing
from syncd.edges.wix.parse_v1 import variants_need_inventory


class KnownProduct(V1Product, gc=False):
    """A product of a page answered as at the last walk: its ``numericId`` and where this
    walk's answer holds it (see ``KnownPages.product``); every other field is unset."""

    page: int = -1
    index: int = -1


_Entry = tuple["array[int]", int | None]


class KnownPages:
    """One V1 store's remembered pages (see the module docstring). Each walk reads them
    through its own ``PageWalk``, so walks that overlap never mix their answers."""

    __slots__ = ("_endpoint", "_last")

    def __init__(self, endpoint: str) -> None:
        self._endpoint = endpoint
        self._last: dict[int, _Entry] = {}
        """The pages of the last complete walk."""

    def walk(self, *, replay: bool) -> PageWalk:
        """For one walk; with ``replay``, pages answered as before are not decoded."""
        return PageWalk(self, replay=replay)

    def forget(self) -> None:
        """Remember nothing (the store grew past what is worth remembering)."""
        self._last = {}


class PageWalk:
    """One walk's side of ``KnownPages``: the ``KnownAnswers`` its crawl is given."""

    __slots__ = ("_decoded", "_owner", "_raw", "_replay", "_this")

    def __init__(self, owner: KnownPages, *, replay: bool) -> None:
        self._owner = owner
        self._replay = replay
        self._this: dict[int, _Entry] = {}
        """The pages of this walk."""
        self._raw: list[bytes] = []
        """This walk's answers given as ``KnownProduct``s, by ``KnownProduct.page``."""
        self._decoded: dict[int, list[V1Product]] = {}

    def end(self, *, complete: bool) -> None:
        """The walk ended: its pages are the ones remembered if it read the whole store."""
        if complete:
            self._owner._last = self._this
        self._raw, self._decoded = [], {}

    def known(self, hashed: int, raw: bytes) -> V1ProductsPage | None:
        if not self._replay:
            return None
        entry = self._this.get(hashed) or self._owner._last.get(hashed)
        if entry is None:
            return None
        self._this[hashed] = entry
        page = len(self._raw)
        self._raw.append(raw)
        ids, total = entry
        return V1ProductsPage([KnownProduct(numericId=number, page=page, index=index)
                               for index, number in enumerate(ids)], total)

    def learn(self, hashed: int, decoded: Listing[V1Product]) -> None:
        ids = array("q")
        for product in decoded.records:
            if product.numericId is None or variants_need_inventory(product):
                return
            ids.append(product.numericId)
        self._this[hashed] = (ids, decoded.totalResults)

    def product(self, known: KnownProduct) -> V1Product:
        """The whole product ``known`` stands for, decoded from this walk's answer."""
        products = self._decoded.get(known.page)
        if products is None:
            page = decode_answer(self._raw[known.page], V1ProductsPage,
                                 endpoint=self._owner._endpoint, status=200)
            products = self._decoded[known.page] = page.records
        return products[known.index]
