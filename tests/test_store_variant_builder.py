"""``build_store_variant``: the walkers' fast way to make a ``StoreVariant``."""

from __future__ import annotations

import dataclasses

import pytest

from syncd.base.model import StoreVariant, build_store_variant


def test_builds_the_value_the_class_builds_field_for_field():
    values = ("p", "v", "item", "SKU-1", True, 4, True, False, "Socks", "7", "loc", True, False)
    built = build_store_variant(*values)
    assert type(built) is StoreVariant
    assert built == StoreVariant(*values)
    assert dataclasses.astuple(built) == values
    assert hash(built) == hash(StoreVariant(*values))


def test_built_values_stay_frozen():
    built = build_store_variant("p", "v", "", "S", False, None, False, True, "", None, None,
                                False, None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.quantity = 3  # type: ignore[misc]


def test_takes_every_field_and_only_positionally():
    with pytest.raises(TypeError):
        build_store_variant("p", "v", "", "S", False, None, False, True)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        build_store_variant(product_id="p")  # type: ignore[call-arg]
