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
