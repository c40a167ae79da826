"""Where stores come from: the generator, the store file format and the demo store."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from pathlib import Path

import pytest

from syncd.base.errors import ConfigError
from syncd.base.model import NIL_GUID
from syncd_emulator import Store, generate_store, load_store_file
from syncd_emulator.context import demo_store_path
from syncd_emulator.views_v1 import product_dict, product_json, variant_dict, variant_json

from .conftest import Connect

REPO = Path(__file__).resolve().parents[2]


class TestGenerator:
    def test_same_seed_gives_the_same_store(self):
        """Generation is deterministic: ids, SKUs and quantities included."""
        assert generate_store(300, seed=11) == generate_store(300, seed=11)

    def test_different_seeds_give_different_stores(self):
        """The seed matters."""
        first, second = generate_store(50, seed=1), generate_store(50, seed=2)
        assert [p.id for p in first.products] != [p.id for p in second.products]

    def test_generated_stores_look_like_real_shops(self):
        """Hidden, untracked, option-less and large products, empty and duplicate SKUs."""
        spec = generate_store(3000, seed=4)
        products = spec.products
        hidden = sum(not p.visible for p in products) / len(products)
        untracked = sum(not p.track for p in products) / len(products)
        assert 0.03 < hidden < 0.07
        assert 0.07 < untracked < 0.13
        assert any(not p.options for p in products)
        sizes = sorted(len(p.variants) for p in products)
        assert sizes[len(sizes) // 2] <= 12
        assert 100 <= sizes[-1] <= 1000
        skus = Counter(v.sku for p in products for v in p.variants)
        assert skus[""] > 0
        assert any(n > 1 for sku, n in skus.items() if sku)

    def test_ids_are_guids_and_numeric_ids_ascend(self):
        """Product and variant ids are GUID strings; numeric ids strictly ascend."""
        spec = generate_store(200, seed=9)
        for product in spec.products:
            uuid.UUID(product.id)
            for variant in product.variants:
                uuid.UUID(variant.id)
        numeric = [p.numeric_id for p in spec.products]
        assert numeric == sorted(set(numeric))

    def test_v1_stores_give_option_less_products_the_nil_guid(self):
        """The same spec yields nil-GUID variants on V1 and real GUIDs on V3."""
        spec = generate_store(100, seed=3)
        v1, v3 = Store(spec, catalog="v1"), Store(spec, catalog="v3")
        plain = next(p for p in spec.products if not p.options)
        assert v1.by_id[plain.id].variants[0].id == NIL_GUID
        assert v3.by_id[plain.id].variants[0].id == plain.variants[0].id != NIL_GUID
        assert len(v3.items) == spec.variant_count


class TestStoreFile:
    def test_demo_store_has_the_documented_quirks(self):
        """Dozens of products, one hidden, one untracked, one duplicate SKU, mugs, T-shirts."""
        spec = load_store_file(demo_store_path())
        assert 20 <= len(spec.products) <= 60
        assert [p.name for p in spec.products if not p.visible] == ["Prototype Hoodie"]
        assert [p.name for p in spec.products if not p.track] == ["Sticker Pack"]
        skus = Counter(v.sku for p in spec.products for v in p.variants)
        assert [s for s, n in skus.items() if n > 1] == ["TSHIRT-VINTAGE-L"]
        assert "TSHIRT-RED-M" in skus and "MUG-CLASSIC" in skus

    def test_config_copy_is_the_packaged_demo_store(self):
        """config/demo-store.yaml and the package data are one file."""
        assert (REPO / "config" / "demo-store.yaml").read_text() == demo_store_path().read_text()

    def test_options_without_variants_expand_to_every_combination(self, tmp_path: Path):
        """Omitted variants: every combination, empty SKU, quantity 0."""
        path = tmp_path / "s.yaml"
        path.write_text("products:\n  - name: Shirt\n    options: {Size: [S, M], Colour: [Red]}\n")
        (product,) = load_store_file(path).products
        assert [v.choices for v in product.variants] == [
            (("Size", "S"), ("Colour", "Red")), (("Size", "M"), ("Colour", "Red"))]
        assert {v.sku for v in product.variants} == {""}

    def test_json_store_files_are_read_too(self, tmp_path: Path):
        """.json files are parsed as JSON."""
        path = tmp_path / "s.json"
        path.write_text(json.dumps({"products": [{"name": "Mug", "sku": "M-1", "quantity": 3}]}))
        (product,) = load_store_file(path).products
        assert (product.sku, product.variants[0].quantity) == ("M-1", 3)

    @pytest.mark.parametrize(("text", "message"), [
        ("products:\n  - name: Mug\n    quantty: 3\n", "unknown key(s) quantty"),
        ("products:\n  - name: Mug\n    quantity: 100000\n", "products[0].quantity"),
        ("products:\n  - sku: X\n", "products[0].name: required"),
        ("products:\n  - name: T\n    options: {Size: [S]}\n    sku: T-S\n",
         "keeps 'sku' on its variants"),
        ("products:\n  - name: T\n    options: {Size: [S]}\n    variants:\n"
         "      - {choices: {Size: XL}}\n", "'XL' is not one of its choices"),
        ("products: [", "not valid YAML"),
        ("items: []", "'products' list"),
    ])
    def test_mistakes_are_config_errors_naming_file_and_key(self, tmp_path: Path, text, message):
        """Typos and out-of-range values never silently change a store."""
        path = tmp_path / "bad.yaml"
        path.write_text(text)
        with pytest.raises(ConfigError, match=r"bad\.yaml") as caught:
            load_store_file(path)
        assert message in str(caught.value)


async def test_duplicate_and_empty_skus_are_served_on_both_catalogs(wix: Connect,
                                                                    tmp_path: Path):
    """Wix enforces no SKU uniqueness; neither does the emulator, on V1 or V3."""
    path = tmp_path / "s.yaml"
    path.write_text(
        "products:\n"
        "  - {name: A, sku: SAME, quantity: 1}\n"
        "  - {name: B, sku: SAME, quantity: 2}\n"
        "  - {name: C, quantity: 3}\n"
    )
    for catalog in ("v1", "v3"):
        w = await wix(catalog=catalog, store_path=str(path))
        assert sorted(r["sku"] for r in w.emu.state()) == ["", "SAME", "SAME"]
    v1_answer = await (await wix(catalog="v1", store_path=str(path))).query_products(
        query={}, includeVariants=True)
    assert sorted(p["sku"] for p in v1_answer.body["products"]) == ["", "SAME", "SAME"]


class TestCachedJson:
    def test_hand_written_variant_json_equals_the_dict_form(self):
        """variant_json is only a faster spelling of variant_dict, for every kind of variant."""
        spec = generate_store(300, seed=8)
        store = Store(spec, catalog="v1")
        for product in store.products:
            for variant in product.variants:
                assert json.loads(variant_json(variant)) == variant_dict(variant)

    def test_cached_json_follows_writes(self):
        """A write clears the cached JSON of the product and the variant it touched."""
        store = Store(load_store_file(demo_store_path()), catalog="v1")
        shirt = next(p for p in store.products if p.name == "Classic Logo T-shirt")
        before = json.loads(product_json(shirt, include_variants=True))
        store.set_variant_stock(shirt.variants[0], quantity=77, in_stock=None)
        store.set_tracking(shirt, False)
        after = json.loads(product_json(shirt, include_variants=True))
        assert before["variants"][0]["stock"]["quantity"] == 12
        assert after["variants"][0]["stock"] == {"trackQuantity": False, "inStock": True}
        assert after["stock"]["trackInventory"] is False
        assert after == {**product_dict(shirt), "variants": [variant_dict(v)
                                                             for v in shirt.variants]}
