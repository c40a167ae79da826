"""``StoreVariant``: a walk builds one per variant, so it is a frozen ``msgspec.Struct``."""

from __future__ import annotations

import gc

import pytest
from msgspec import structs

from syncd.base.model import StoreVariant

VALUES = ("p", "v", "item", "SKU-1", True, 4, True, False, "Socks", "7", "loc", True, False)


def test_a_variant_built_from_every_field_in_order_equals_one_built_by_name():
    by_position = StoreVariant(*VALUES)
    by_name = StoreVariant(
        product_id="p", variant_id="v", inventory_item_id="item", sku="SKU-1", tracked=True,
        quantity=4, in_stock=True, hidden=False, product_name="Socks", revision="7",
        location_id="loc", shared_sku=True, managed_variant=False)
    assert by_position == by_name
    assert structs.astuple(by_position) == VALUES
    assert hash(by_position) == hash(by_name)
    assert len({by_position, by_name}) == 1


def test_variants_stay_frozen():
    variant = StoreVariant("p", "v", "", "S", False, None, False, True)
    with pytest.raises(AttributeError):
        variant.quantity = 3  # type: ignore[misc]


def test_fields_after_hidden_have_their_defaults():
    variant = StoreVariant("p", "v", "", "S", False, None, False, True)
    assert (variant.product_name, variant.revision, variant.location_id, variant.shared_sku,
            variant.managed_variant) == ("", None, None, False, None)


def test_a_copy_with_a_field_changed_leaves_the_original_alone():
    variant = StoreVariant(*VALUES)
    changed = structs.replace(variant, quantity=9)
    assert (changed.quantity, variant.quantity) == (9, 4)
    assert structs.replace(changed, quantity=4) == variant


def test_variants_are_not_tracked_by_the_garbage_collector():
    assert not gc.is_tracked(StoreVariant(*VALUES))
