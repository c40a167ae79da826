"""The emulator's two readings of change timestamps: stock changes move them, or do not."""

from __future__ import annotations

import random

import pytest

from syncd.frontends.cli import build_parser
from syncd.frontends.commands.emulator import config_from_args
from syncd_emulator import EmulatorConfig
from syncd_emulator.context import Emulator
from syncd_emulator.spec import BASE_TIMESTAMP


def _emulator(catalog: str, stock_timestamps: str) -> Emulator:
    return Emulator(EmulatorConfig(catalog=catalog, generate_products=20, seed=3,
                                   stock_timestamps=stock_timestamps))


@pytest.mark.parametrize("catalog", ["v1", "v3"])
def test_stock_changes_move_the_timestamps_by_default(catalog):
    store = _emulator(catalog, "move").store
    assert store.sell_one(random.Random(1))
    if catalog == "v3":
        assert any(item.updated != BASE_TIMESTAMP for item in store.items)
    assert any(product.updated != BASE_TIMESTAMP for product in store.products)


@pytest.mark.parametrize("catalog", ["v1", "v3"])
def test_stock_changes_leave_the_timestamps_alone_when_told_to(catalog):
    store = _emulator(catalog, "ignore").store
    rng = random.Random(1)
    for _ in range(5):
        assert store.sell_one(rng)
    if catalog == "v3":
        item = store.items[0]
        revision = item.revision
        store.write_item(item, quantity=7, in_stock=None)
        assert item.revision == revision + 1  # revisions are documented and still move
        assert {i.updated for i in store.items} == {BASE_TIMESTAMP}
    else:
        variant = store.products[0].variants[0]
        store.set_variant_stock(variant, quantity=9, in_stock=None)
        store.set_tracking(store.products[1], True)
    assert {p.updated for p in store.products} == {BASE_TIMESTAMP}


def test_the_command_takes_the_timestamp_behaviour():
    args = build_parser().parse_args(["emulator", "--stock-timestamps", "ignore"])
    assert config_from_args(args).stock_timestamps == "ignore"
    assert config_from_args(build_parser().parse_args(["emulator"])).stock_timestamps == "move"
    with pytest.raises(ValueError, match="stock_timestamps"):
        EmulatorConfig(stock_timestamps="sometimes")
