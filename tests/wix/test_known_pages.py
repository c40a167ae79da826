"""A V1 walk that may find the store unchanged does not decode the pages Wix answers as at
the last walk; when some answer differs after all, every product is read from this walk's
own answers, as a walk that remembered nothing reads them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from aioresponses import aioresponses

from syncd.edges.config import WalkSettings
from syncd.edges.wix import answers, known_pages
from syncd.edges.wix.answers import V1ProductsPage, convert_answer
from syncd.edges.wix.known_pages import KnownPages
from syncd.edges.wix.walk_v1 import V1Reader

from .test_walk_units import QUERY, FakeQueryProducts, make_product


@pytest.fixture
def decoded(monkeypatch) -> Iterator[list[str]]:
    """The answer types decoded from bytes, one entry a page (whoever decodes it)."""
    seen: list[str] = []
    real = answers.decode_answer

    def counting(raw, answer, **kwargs):
        seen.append(answer.__name__)
        return real(raw, answer, **kwargs)

    monkeypatch.setattr("syncd.edges.wix.client.decode_answer", counting)
    monkeypatch.setattr(known_pages, "decode_answer", counting)
    yield seen


def _fake(products: int = 250) -> FakeQueryProducts:
    return FakeQueryProducts([make_product(n) for n in range(1, products + 1)])


async def test_a_walk_answered_as_the_last_one_decodes_none_of_its_pages(client, decoded):
    reader = V1Reader(client, WalkSettings())
    fake = _fake()
    with aioresponses() as mock:
        mock.post(QUERY, callback=fake, repeat=True)
        first = await reader.walk()
        pages_first = len(decoded)
        again = await reader.walk(unchanged=first.answers)
    assert pages_first == first.api_calls == 3
    assert again.unchanged and again.api_calls == first.api_calls
    assert decoded[pages_first:] == [], "a page answered as before was decoded again"


async def test_a_sale_on_one_page_reads_every_product_from_this_walks_answers(
        client, decoded):
    reader = V1Reader(client, WalkSettings())
    fake = _fake()
    with aioresponses() as mock:
        mock.post(QUERY, callback=fake, repeat=True)
        first = await reader.walk()
        sold = fake.products[140]["variants"][0]["stock"]
        sold["quantity"] -= 1  # one sale, on the middle page only
        pages_before = len(decoded)
        after = await reader.walk(unchanged=first.answers)
        fresh = await V1Reader(client, WalkSettings()).walk()
    assert not after.unchanged and after.answers != first.answers
    assert after.variants == fresh.variants  # the same products, in the same order
    assert [v.quantity for v in after.variants if v.product_id == "p141"] == [sold["quantity"]]
    # The changed page once as it arrived; the two known ones once each when needed.
    assert len(decoded) - pages_before - fresh.api_calls == 3


async def test_a_walk_not_asked_whether_unchanged_decodes_every_page(client, decoded):
    reader = V1Reader(client, WalkSettings())
    fake = _fake()
    with aioresponses() as mock:
        mock.post(QUERY, callback=fake, repeat=True)
        await reader.walk()
        again = await reader.walk()
    assert not again.unchanged and len(again.variants) == 250
    assert len(decoded) == 6


def test_a_page_with_a_product_lacking_stock_is_not_remembered():
    pages = KnownPages("v1.products.query")
    whole = convert_answer({"products": [make_product(1), make_product(2)]}, V1ProductsPage,
                           endpoint="test")
    lacking = convert_answer({"products": [make_product(3), make_product(4, stock=False)]},
                             V1ProductsPage, endpoint="test")
    first = pages.walk(replay=False)
    first.learn(1, whole)
    first.learn(2, lacking)
    first.end(complete=True)
    again = pages.walk(replay=True)
    assert [p.numericId for p in again.known(1, b"{}").records] == [1003, 1006]
    assert again.known(2, b"{}") is None


def test_the_pages_of_a_walk_that_did_not_finish_are_not_remembered():
    pages = KnownPages("v1.products.query")
    page = convert_answer({"products": [make_product(1)]}, V1ProductsPage, endpoint="test")
    first = pages.walk(replay=False)
    first.learn(1, page)
    first.end(complete=True)
    failed = pages.walk(replay=True)
    failed.learn(2, page)
    failed.end(complete=False)
    again = pages.walk(replay=True)
    assert again.known(1, b"{}") is not None and again.known(2, b"{}") is None


def test_overlapping_walks_each_read_their_own_answers():
    pages = KnownPages("v1.products.query")
    body = b'{"products": [{"id": "p1", "numericId": "7"}]}'
    page = convert_answer({"products": [{"id": "p1", "numericId": "7", "variants": [
        {"id": "v", "stock": {"quantity": 1}}]}]}, V1ProductsPage, endpoint="test")
    first = pages.walk(replay=False)
    first.learn(1, page)
    first.end(complete=True)
    one, other = pages.walk(replay=True), pages.walk(replay=True)
    [known_one] = one.known(1, body).records
    other.known(1, b'{"products": [{"id": "p2", "numericId": "7"}]}')
    assert one.product(known_one).id == "p1"
