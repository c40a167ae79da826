"""Several sources per site, SKU matching rules and V3 stock locations, from the source
files to the plan and, end to end, to an emulated store."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from support.sync import API_KEY
from syncd.base.model import Catalog, StoreSnapshot, StoreVariant
from syncd.core.diff import plan_changes
from syncd.core.policy import Policy
from syncd.cycle.sync import SiteSync
from syncd.edges.config import OnInvalidRow, Settings, SourceFormat, SourceSettings
from syncd.edges.config.source import MatchRules, MergeRule
from syncd.edges.sources import InvalidRowsError, load_desired
from syncd.edges.sources.matching import match_source, store_view
from syncd.edges.sources.merge import merge_sources
from syncd.frontends.render import explain_change


def _load(path: Path, text: str):
    path.write_text(text)
    return load_desired(SourceSettings(path=path, format=SourceFormat.CSV))


def _variant(sku: str, *, quantity: int = 0, location: str | None = None,
             product: str = "p") -> StoreVariant:
    return StoreVariant(product_id=product, variant_id=sku, inventory_item_id=f"i-{sku}-{location}",
                        sku=sku, tracked=True, quantity=quantity, in_stock=quantity > 0,
                        hidden=False, location_id=location)


@pytest.mark.parametrize(("rule", "expected"), [
    (MergeRule.FIRST, {"A": 5, "B": 2, "C": 9}),
    (MergeRule.SUM, {"A": 8, "B": 2, "C": 9}),
    (MergeRule.MIN, {"A": 3, "B": 2, "C": 9}),
    (MergeRule.MAX, {"A": 5, "B": 2, "C": 9}),
])
def test_sources_merge_by_the_site_rule_and_rows_keep_their_file_and_line(
        tmp_path, rule, expected):
    a = _load(tmp_path / "a.csv", "sku,quantity\nA,5\nB,2\n")
    b = _load(tmp_path / "b.csv", "sku,quantity\nC,9\nA,3\n")
    merged = merge_sources([a, b], rule, OnInvalidRow.FAIL)
    assert {r.key: r.quantity for r in merged.rows} == expected
    rows = {r.key: r for r in merged.rows}
    assert (rows["C"].source, rows["C"].line) == (str(tmp_path / "b.csv"), 2)
    assert (rows["A"].source, rows["A"].line) == (str(tmp_path / "a.csv"), 2)
    assert f"{rule.value} of {tmp_path / 'a.csv'}:2 quantity 5, {tmp_path / 'b.csv'}:3 " \
           "quantity 3" == rows["A"].note


def test_a_quantity_and_an_availability_cannot_be_summed(tmp_path):
    a = _load(tmp_path / "a.csv", "sku,quantity\nA,5\n")
    b = _load(tmp_path / "b.csv", "sku,in_stock\nA,true\n")
    with pytest.raises(InvalidRowsError, match="cannot be combined by merge: sum"):
        merge_sources([a, b], MergeRule.SUM, OnInvalidRow.FAIL)
    assert merge_sources([a, b], MergeRule.FIRST, OnInvalidRow.FAIL).rows[0].quantity == 5


def test_case_insensitive_matching_with_stripped_prefixes_reaches_the_store_sku(tmp_path):
    src = _load(tmp_path / "a.csv", "sku,quantity\nsup-abc-01,4\nSUP-XYZ,2\n")
    rules = MatchRules(case_insensitive=True, strip_prefix=("SUP-",),
                       store_strip_suffix=("-eu",))
    matched = match_source(src, rules, OnInvalidRow.FAIL)
    store = StoreSnapshot(Catalog.V3, (_variant("ABC-01-EU"), _variant("Xyz", quantity=2)))
    plan = plan_changes(matched.rows, store_view(store, rules, located=False), Policy())
    assert [(c.variant.variant_id, c.quantity) for c in plan.changes] == [("ABC-01-EU", 4)]
    assert "sku 'sup-abc-01' matched as 'abc-01'" in explain_change(plan.changes[0])


def test_store_skus_that_collide_under_matching_are_ambiguous(tmp_path):
    src = _load(tmp_path / "a.csv", "sku,quantity\nabc,4\n")
    rules = MatchRules(case_insensitive=True)
    store = StoreSnapshot(Catalog.V3, (_variant("ABC", product="p1"),
                                       _variant("abc", product="p2")))
    plan = plan_changes(match_source(src, rules, OnInvalidRow.FAIL).rows,
                        store_view(store, rules, located=False), Policy())
    assert plan.changes == ()
    assert [a.sku for a in plan.ambiguous] == ["abc"]


def test_source_skus_that_collide_with_different_values_are_refused(tmp_path):
    src = _load(tmp_path / "a.csv", "sku,quantity\nABC,4\nabc,4\nAbc,5\nD,1\n")
    rules = MatchRules(case_insensitive=True)
    with pytest.raises(InvalidRowsError) as caught:
        match_source(src, rules, OnInvalidRow.FAIL)
    assert [(e.line, e.field) for e in caught.value.errors] == [(4, "sku")]
    kept = match_source(src, rules, OnInvalidRow.SKIP)
    assert {r.key for r in kept.rows} == {"d"}


def test_rows_name_locations_and_each_reaches_its_own_item(tmp_path):
    src = _load(tmp_path / "a.csv", "sku,location,quantity\nA,loc-1,4\nA,loc-2,7\n")
    assert src.located
    store = StoreSnapshot(Catalog.V3, (_variant("A", location="loc-1"),
                                       _variant("A", location="loc-2", quantity=7)))
    plan = plan_changes(src.rows, store_view(store, MatchRules(), located=True), Policy())
    assert [(c.variant.location_id, c.quantity) for c in plan.changes] == [("loc-1", 4)]


def test_a_row_without_a_location_among_located_rows_is_refused(tmp_path):
    with pytest.raises(InvalidRowsError) as caught:
        _load(tmp_path / "a.csv", "sku,location,quantity\nA,loc-1,4\nB,,7\n")
    assert [(e.line, e.field) for e in caught.value.errors] == [(3, "location")]


def _config(tmp_path: Path, emu, site: dict) -> Settings:
    path = tmp_path / "syncd.yaml"
    path.write_text(yaml.safe_dump({
        "sites": [{"name": "shop", "site_id": emu.config.site_id, "api_key_env": "KEY",
                   "base_url": emu.url, "rate_limit": {"requests": 100000, "per_seconds": 1},
                   **site}],
        "policy": {"max_changed_fraction": 1.0},
        "state_dir": str(tmp_path / "state")}))
    return Settings.from_file(path, env={"KEY": API_KEY})


async def test_one_walk_writes_every_location_of_a_v3_store(emulator, tmp_path):
    emu = await emulator(catalog="v3", generate_products=12, seed=3, rate_limit=None,
                         api_key=API_KEY)
    variants = [v for p in emu.store.products for v in p.variants
                if v.items and v.items[0].track and v.sku]
    home = variants[0].items[0].location_id
    for i, variant in enumerate(variants[:3]):
        emu.store.create_item(variant, location_id="warehouse-2", item_id=f"w2-{i}",
                              quantity=1, in_stock=None)
    lines = [f"{v.sku},{home},{100 + i}\n{v.sku},warehouse-2,{200 + i}\n"
             for i, v in enumerate(variants[:3])]
    (tmp_path / "stock.csv").write_text("sku,location,quantity\n" + "".join(lines))
    settings = _config(tmp_path, emu, {"catalog": "v3", "source": {"path": "stock.csv"}})
    async with SiteSync(settings.sites[0], state_dir=settings.state_dir) as sync:
        result = await sync.sync()
    assert result.applied is not None and result.applied.failed == 0
    got = {(r["sku"], r["location_id"]): r["quantity"] for r in emu.state()}
    for i, v in enumerate(variants[:3]):
        assert got[(v.sku, home)] == 100 + i
        assert got[(v.sku, "warehouse-2")] == 200 + i
    assert result.planned.snapshot.api_calls <= 2  # one paged read of all locations


async def test_two_sources_summed_reach_the_store(emulator, tmp_path):
    emu = await emulator(catalog="v1", generate_products=12, seed=3, rate_limit=None,
                         api_key=API_KEY)
    sku = next(str(r["sku"]) for r in emu.state() if r["tracked"] and r["sku"])
    (tmp_path / "a.csv").write_text(f"sku,quantity\n{sku},30\n")
    (tmp_path / "b.jsonl").write_text(f'{{"sku": "{sku.lower()}", "quantity": 12}}\n')
    settings = _config(tmp_path, emu, {
        "source": [{"path": "a.csv"}, {"path": "b.jsonl"}], "merge": "sum",
        "match": {"case_insensitive": True}})
    async with SiteSync(settings.sites[0], state_dir=settings.state_dir) as sync:
        result = await sync.sync()
    assert result.applied is not None and result.applied.written == 1
    assert [r["quantity"] for r in emu.state() if r["sku"] == sku] == [42]


def test_locations_on_a_v1_store_are_refused(tmp_path):
    from syncd.base.errors import SourceError

    src = _load(tmp_path / "a.csv", "sku,location,quantity\nA,loc-1,4\n")
    store = StoreSnapshot(Catalog.V1, (_variant("A"),))
    with pytest.raises(SourceError, match="Catalog V1, which has none"):
        store_view(store, MatchRules(), located=src.located)
