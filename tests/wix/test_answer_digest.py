"""The walk's answer digest: equal only for the same answers to the same requests."""

from __future__ import annotations

from syncd.edges.wix.answer_digest import AnswerDigest, answer_hash

PAGE_1 = (b'{"products":[{"id":"a","stock":{"quantity":3}}]}', {"query": {"offset": 0}})
PAGE_2 = (b'{"products":[{"id":"b","stock":{"quantity":4}}]}', {"query": {"offset": 100}})


def digest(*answers: tuple[bytes, dict[str, object]], path: str = "/q") -> int:
    d = AnswerDigest()
    for raw, body in answers:
        d.fold(answer_hash("POST", path, body, None, raw))
    return d.value


def test_answers_arriving_in_another_order_give_the_same_digest():
    assert digest(PAGE_1, PAGE_2) == digest(PAGE_2, PAGE_1)


def test_one_byte_of_an_answer_changes_the_digest():
    sold = (PAGE_2[0].replace(b'"quantity":4', b'"quantity":3'), PAGE_2[1])
    assert digest(PAGE_1, PAGE_2) != digest(PAGE_1, sold)


def test_the_same_answer_to_another_request_changes_the_digest():
    assert digest(PAGE_1) != digest((PAGE_1[0], PAGE_2[1]))
    assert digest(PAGE_1) != digest(PAGE_1, path="/other")


def test_an_answer_more_changes_the_digest():
    assert digest(PAGE_1) != digest(PAGE_1, PAGE_1)
