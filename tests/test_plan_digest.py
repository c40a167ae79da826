"""A plan's digest names exactly what an approval approves: the site, the source, and every
change's before and after; not the order in which the store or the source listed them."""

from __future__ import annotations

import pytest

from syncd.base.model import StoreVariant
from syncd.core.plan import ChangeReason, StockChange
from syncd.core.plan_digest import plan_digest, short_digest

SOURCE = "a" * 64


def change(i: int, before: int = 5, after: int = 9) -> StockChange:
    variant = StoreVariant(product_id=f"P{i}", variant_id=f"V{i}", inventory_item_id=f"I{i}",
                           sku=f"SKU-{i}", tracked=True, quantity=before, in_stock=True,
                           hidden=False)
    return StockChange(variant=variant, quantity=after, in_stock=None, track=True,
                       reason=ChangeReason.QUANTITY, row=None)


PLAN = [change(1), change(2), change(3)]
DIGEST = plan_digest("outlet", SOURCE, PLAN)


class TestPlanDigest:
    def test_the_same_changes_in_another_order_have_the_same_digest(self):
        """The walk's order is not part of what was approved."""
        assert plan_digest("outlet", SOURCE, reversed(PLAN)) == DIGEST

    @pytest.mark.parametrize(("site", "source", "changes"), [
        ("shop", SOURCE, PLAN),
        ("outlet", "b" * 64, PLAN),
        ("outlet", SOURCE, [change(1), change(2), change(3, after=10)]),
        ("outlet", SOURCE, [change(1), change(2), change(3, before=6)]),
        ("outlet", SOURCE, [change(1), change(2)]),
        ("outlet", SOURCE, [*PLAN, change(4)]),
    ], ids=["other-site", "other-source", "other-after", "other-before", "one-fewer",
            "one-more"])
    def test_any_other_plan_has_another_digest(self, site, source, changes):
        """Another site, source, value or set of changes is another plan."""
        assert plan_digest(site, source, changes) != DIGEST

    def test_the_digest_is_a_sha256_whose_short_form_is_its_start(self):
        assert len(DIGEST) == 64 and int(DIGEST, 16) >= 0
        assert DIGEST.startswith(short_digest(DIGEST)) and len(short_digest(DIGEST)) == 12


def _digest_as_first_defined(site: str, source: str, changes: list[StockChange]) -> str:
    """The recipe approvals were made with; a digest must not change across versions."""
    import hashlib
    import json

    from syncd.core.plan_digest import _change_key
    rows = sorted((_change_key(c) for c in changes), key=lambda r: json.dumps(r))
    canonical = json.dumps({"site": site, "source": source, "changes": rows},
                           sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


def test_a_plan_digest_keeps_its_value_across_versions():
    # Text that sorts differently once separators or escapes change: commas, quotes,
    # spaces, non-ASCII, prefixes of one another; and missing values.
    awkward = ["a", "a,", "a, ", 'a"', "a\\", "é", "a b", "", "😀", "a]", "A"]
    changes = []
    for i, text in enumerate(awkward):
        variant = StoreVariant(product_id=f"P{text}", variant_id=text or "V",
                               inventory_item_id="I", sku=text, tracked=i % 2 == 0,
                               quantity=None if i % 3 == 0 else i * 7, in_stock=None if i % 4
                               else True, hidden=False, location_id=text if i % 5 == 0 else None)
        changes.append(StockChange(variant=variant, quantity=i if i % 2 else None,
                                   in_stock=None if i % 3 else False, track=i % 2 == 1,
                                   reason=ChangeReason.QUANTITY, row=None))
    for site in ("outlet", "ünïcode \"shop\""):
        assert plan_digest(site, SOURCE, changes) == _digest_as_first_defined(site, SOURCE, changes)
        assert plan_digest(site, SOURCE, []) == _digest_as_first_defined(site, SOURCE, [])


def test_plan_digests_of_random_plans_keep_their_value():
    import random
    rng = random.Random(7)
    alphabet = ["a", ",", " ", '"', ":", "]", "[", "\\", "é", "0", "1", "n"]

    def text() -> str:
        return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 3)))

    for _ in range(200):
        changes = []
        for _ in range(rng.randint(0, 12)):
            variant = StoreVariant(product_id=text(), variant_id=text(), inventory_item_id="I",
                                   sku=text(), tracked=rng.random() < 0.5,
                                   quantity=rng.choice([None, rng.randint(-9, 99)]),
                                   in_stock=rng.choice([None, True, False]), hidden=False,
                                   location_id=rng.choice([None, text()]))
            changes.append(StockChange(variant=variant,
                                       quantity=rng.choice([None, rng.randint(-9, 99)]),
                                       in_stock=rng.choice([None, True, False]),
                                       track=rng.random() < 0.5,
                                       reason=rng.choice(list(ChangeReason)), row=None))
        assert plan_digest("s", SOURCE, changes) == _digest_as_first_defined("s", SOURCE, changes)
