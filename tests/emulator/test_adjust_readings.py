"""Increment/Decrement under each reading Wix leaves open, and the counts that prove no
unit was applied twice; plus the fault that applies a call and then loses its answer."""

from __future__ import annotations

import aiohttp
import pytest

from syncd.base.model import NIL_GUID

from .conftest import Connect

INCREMENT = "/stores/v2/inventoryItems/increment"
DECREMENT = "/stores/v2/inventoryItems/decrement"


def _entry(row: dict, key: str, amount: int) -> dict:
    return {"productId": row["product_id"], "variantId": row["variant_id"], key: amount}


class TestBadEntry:
    async def test_skip_entry_applies_the_good_entries_and_answers_as_if_all_went_well(
        self, wix: Connect
    ):
        """``skip_entry``: a decrement below zero is dropped silently, the rest applied."""
        v1 = await wix(catalog="v1", adjust_bad_entry="skip_entry")
        mug, apron = v1.row(sku="MUG-CLASSIC"), v1.row(sku="APRON-CANVAS")  # 40 and 3
        answer = await v1.post(DECREMENT, {"decrementData": [
            _entry(mug, "decrementBy", 1), _entry(apron, "decrementBy", 4)]})
        assert (answer.status, answer.body) == (200, {})
        assert v1.row(sku="MUG-CLASSIC")["quantity"] == 39
        assert v1.row(sku="APRON-CANVAS")["quantity"] == 3
        assert v1.emu.stats()["deltas"]["entries"] == 1

    async def test_fail_call_applies_nothing(self, wix: Connect):
        """``fail_call`` (the default): one bad entry refuses the whole call."""
        v1 = await wix(catalog="v1")
        mug, stickers = v1.row(sku="MUG-CLASSIC"), v1.row(sku="STICKER-PACK")
        answer = await v1.post(INCREMENT, {"incrementData": [
            _entry(mug, "incrementBy", 1), _entry(stickers, "incrementBy", 1)]})
        assert answer.status == 400
        assert v1.row(sku="MUG-CLASSIC")["quantity"] == 40
        assert v1.emu.stats()["deltas"]["entries"] == 0


class TestBelowZero:
    @pytest.mark.parametrize(("reading", "status", "left"), [
        ("refuse", 400, 3), ("clamp", 200, 0), ("allow", 200, -1)])
    async def test_a_decrement_below_zero_follows_the_reading(
        self, wix: Connect, reading, status, left
    ):
        v1 = await wix(catalog="v1", adjust_below_zero=reading)
        apron = v1.row(sku="APRON-CANVAS")  # 3 in stock
        answer = await v1.post(DECREMENT, {"decrementData": [
            _entry(apron, "decrementBy", 4)]})
        assert answer.status == status
        assert v1.row(sku="APRON-CANVAS")["quantity"] == left


class TestUntracked:
    async def test_apply_changes_the_hidden_quantity_but_not_availability(self, wix: Connect):
        v1 = await wix(catalog="v1", adjust_untracked="apply")
        stickers = v1.row(sku="STICKER-PACK")
        answer = await v1.post(INCREMENT, {"incrementData": [
            _entry(stickers, "incrementBy", 2)]})
        assert answer.status == 200
        product = v1.emu.store.by_id[stickers["product_id"]]
        assert product.variants[0].quantity == 2 and product.track is False
        assert v1.row(sku="STICKER-PACK")["in_stock"] == stickers["in_stock"]

    async def test_readings_are_switchable_at_runtime_and_checked(self, wix: Connect):
        v1 = await wix(catalog="v1")
        v1.emu.set_faults(adjust_untracked="apply", adjust_bad_entry="skip_entry")
        assert v1.emu.emulator.settings.adjust_untracked == "apply"
        with pytest.raises(ValueError, match="adjust_below_zero"):
            v1.emu.set_faults(adjust_below_zero="sometimes")


async def test_applied_deltas_are_counted_per_variant(wix: Connect):
    """Entries, units added and units removed, per (product, variant)."""
    v1 = await wix(catalog="v1")
    mug = v1.row(sku="MUG-CLASSIC")
    await v1.post(INCREMENT, {"incrementData": [_entry(mug, "incrementBy", 5)]})
    await v1.post(DECREMENT, {"decrementData": [_entry(mug, "decrementBy", 2)]})
    deltas = v1.emu.stats()["deltas"]
    assert deltas["by_variant"] == {f"{mug['product_id']}/{NIL_GUID}": [2, 5, 2]}
    assert (deltas["entries"], deltas["units_added"], deltas["units_removed"]) == (2, 5, 2)


async def test_drop_after_apply_changes_the_store_but_loses_the_answer(wix: Connect):
    """The new fault: the handler runs (the increment lands), then the connection closes."""
    v1 = await wix(catalog="v1", drop_after_rate=1.0)
    mug = v1.row(sku="MUG-CLASSIC")
    with pytest.raises(aiohttp.ClientError):
        await v1.post(INCREMENT, {"incrementData": [_entry(mug, "incrementBy", 5)]})
    assert v1.row(sku="MUG-CLASSIC")["quantity"] == 45
    assert v1.emu.stats()["faults"] == {"drop_after": 1}
