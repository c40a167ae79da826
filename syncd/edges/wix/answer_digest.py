"""An order-free digest of a walk's answers: "did Wix answer exactly as last time?".

A daemon walks most stores of an agency many times a day without anything having changed.
Turning each answer into variants and planning them again is most of what such a cycle
costs; a digest of the answers' bytes lets a walk that is asked "unchanged since this
digest?" stop before that. Each successful answer is hashed with the request that got it
(method, path, body) and the hashes are added, so a concurrent crawl whose answers arrive
in another order still gives the same digest. Only answers equal byte for byte, to the
same requests, give equal digests; any sale, edit or reordering by Wix changes it, and the
walk then reads everything as usual.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any, Protocol, TypeVar

T = TypeVar("T")

_MASK = (1 << 64) - 1


class AnswerDigest:
    """The running digest of one walk's answers (see the module docstring)."""

    __slots__ = ("answers", "value")

    def __init__(self) -> None:
        self.value = 0
        self.answers = 0

    def fold(self, hashed: int) -> None:
        """Fold in one answer and the request that got it, hashed by ``answer_hash``."""
        self.value = (self.value + hashed) & _MASK
        self.answers += 1


def answer_hash(method: str, path: str, body: Mapping[str, Any] | None,
                params: Mapping[str, str] | None, raw: bytes) -> int:
    """64 bits of sha256 over one request and its answer's bytes: equal only for the same
    answer to the same request (a chance collision is one in 2**64)."""
    h = hashlib.sha256()  # the fastest of hashlib's here (SHA extensions), ~1.5 GB/s
    h.update(f"{method} {path}\n".encode())
    h.update(json.dumps([body, params], sort_keys=True, separators=(",", ":")).encode())
    h.update(b"\n")
    h.update(raw)
    return int.from_bytes(h.digest()[:8], "big")


class KnownAnswers(Protocol[T]):
    """What a reader remembers of the answers of its last walk, so that an answer equal byte
    for byte to one it has seen (to the same request) is not decoded again."""

    def known(self, hashed: int, raw: bytes) -> T | None:
        """What stands for the answer whose ``answer_hash`` is ``hashed``, if it was seen;
        ``raw`` is kept for as long as the walk may still need it decoded."""

    def learn(self, hashed: int, decoded: T) -> None:
        """An answer was decoded: remember what the next walk needs of it."""
