"""Each variant switch plays the other answer of its unconfirmed point (and only when on)."""

from __future__ import annotations

import argparse

import pytest

from syncd.frontends.commands.emulator import config_from_args, register
from syncd_emulator import EmulatorConfig, serve
from syncd_emulator.ratelimit import SlidingWindowLimiter
from syncd_emulator.variants import NAMES, OVERRULES, WixVariants

from .conftest import AUTH, Connect

QUERY = "/stores-reader/v1/products/query"


def on(*names: str) -> WixVariants:
    return WixVariants(**dict.fromkeys(names, True))


def test_all_turns_on_every_switch_and_a_comma_list_only_those():
    overruled = {n for names in OVERRULES.values() for n in names}
    assert WixVariants.parse("all").active == tuple(n for n in NAMES if n not in overruled)
    assert overruled and overruled.isdisjoint(WixVariants.all().active)
    assert WixVariants.parse("sparse-json, short_pages").active == ("sparse_json", "short_pages")
    assert WixVariants.parse("none").active == ()
    with pytest.raises(ValueError, match="unknown Wix variant"):
        WixVariants.parse("sparse,typo")


def test_the_command_takes_wix_variants():
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    args = parser.parse_args(["emulator", "--wix-variants", "all"])
    assert config_from_args(args).variants == WixVariants.all()


async def test_sparse_json_leaves_default_values_out(wix: Connect):
    plain = await wix(catalog="v1", generate_products=50, seed=3)
    sparse = await wix(catalog="v1", generate_products=50, seed=3, variants=on("sparse_json"))
    body = {"query": {"paging": {"limit": 100}}, "includeVariants": True,
            "includeHiddenProducts": True}
    full = (await plain.query_products(**body)).body
    thin = (await sparse.query_products(**body)).body
    zero = [v for p, v in zip(full["products"], thin["products"], strict=True)
            if p["variants"][0]["stock"].get("quantity") == 0]
    assert zero, "the generated store has tracked variants at 0"
    for thin_product in zero:
        assert "quantity" not in thin_product["variants"][0]["stock"]
        assert "stock" in thin_product["variants"][0], "objects stay, even when empty"


async def test_short_pages_cut_pages_mid_stream_but_skip_nothing(wix: Connect):
    w = await wix(catalog="v1", generate_products=600, seed=3, variants=on("short_pages"))
    sizes, last, seen = [], None, []
    while True:
        query = {"paging": {"limit": 100}}
        if last is not None:
            query["filter"] = {"numericId": {"$gt": last}}
        products = (await w.query_products(query=query, includeHiddenProducts=True)
                    ).body["products"]
        if not products:
            break
        sizes.append(len(products))
        seen += [p["id"] for p in products]
        last = int(products[-1]["numericId"])
    assert any(s < 100 for s in sizes[:-1]), sizes
    assert len(seen) == len(set(seen)) == 600


async def test_visible_totals_count_only_visible_products(wix: Connect):
    w = await wix(catalog="v1", generate_products=300, seed=3, variants=on("visible_totals"))
    answer = await w.query_products(query={"paging": {"limit": 10}}, includeHiddenProducts=True)
    hidden = len({r["product_id"] for r in w.emu.state() if r["hidden"]})
    assert hidden and answer.body["totalResults"] == 300 - hidden


async def test_strict_numeric_bound_matches_nothing_for_a_string(wix: Connect):
    w = await wix(catalog="v1", generate_products=20, seed=3,
                  variants=on("strict_numeric_bound"))
    first = int(w.emu.store.products[0].numeric_id)
    as_string = await w.query_products(query={"filter": {"numericId": {"$gt": str(first)}}})
    as_number = await w.query_products(query={"filter": {"numericId": {"$gt": first}}})
    assert as_string.body["products"] == []
    assert len(as_number.body["products"]) > 0


async def test_a_v1_call_on_a_v3_site_gets_another_status(wix: Connect):
    w = await wix(catalog="v3", variants=on("mismatch_status"))
    assert (await w.query_products()).status == 404


async def test_whole_bulk_errors_reject_the_request_and_apply_nothing(wix: Connect):
    w = await wix(catalog="v3", variants=on("whole_bulk_errors"))
    rows = [r for r in w.emu.state() if r["inventory_item_id"]][:3]
    items = [{"inventoryItem": {"id": r["inventory_item_id"], "revision": r["revision"],
                                "quantity": 7}} for r in rows]
    items[1]["inventoryItem"]["revision"] = "999"
    answer = await w.post("/stores/v3/bulk/inventory-items/update", {"inventoryItems": items})
    assert answer.status == 409
    assert [r["revision"] for r in w.emu.state() if r["inventory_item_id"]][:3] == [
        r["revision"] for r in rows]


async def test_unordered_bulk_results_carry_no_index(wix: Connect):
    w = await wix(catalog="v3", variants=on("bulk_results_unordered"))
    rows = [r for r in w.emu.state() if r["inventory_item_id"]][:3]
    items = [{"inventoryItem": {"id": r["inventory_item_id"], "revision": r["revision"],
                                "quantity": 7}} for r in rows]
    results = (await w.post("/stores/v3/bulk/inventory-items/update",
                            {"inventoryItems": items})).body["results"]
    assert [r["itemMetadata"]["id"] for r in results] == [
        r["inventory_item_id"] for r in reversed(rows)]
    assert all("originalIndex" not in r["itemMetadata"] for r in results)


async def test_low_offset_cap_refuses_offsets_from_500(wix: Connect):
    w = await wix(catalog="v1", generate_products=700, seed=3, variants=on("low_offset_cap"))
    assert (await w.query_products(query={"paging": {"limit": 100, "offset": 400}})
            ).status == 200
    assert (await w.query_products(query={"paging": {"limit": 100, "offset": 500}})
            ).status == 400


async def test_no_variant_stock_leaves_stock_out_of_query_products(wix: Connect):
    w = await wix(catalog="v1", variants=on("no_variant_stock"))
    products = (await w.query_products(includeVariants=True)).body["products"]
    assert all("stock" not in v for p in products for v in p["variants"])


async def test_unmanaged_options_put_one_sku_on_the_product(wix: Connect):
    w = await wix(catalog="v1", generate_products=200, seed=3, variants=on("unmanaged_options"))
    products = (await w.query_products(query={"paging": {"limit": 100}}, includeVariants=True,
                                       includeHiddenProducts=True)).body["products"]
    unmanaged = [p for p in products if p["productOptions"] and not p["manageVariants"]]
    assert unmanaged
    for product in unmanaged:
        assert product["sku"] and all(v["variant"]["sku"] == "" for v in product["variants"])


async def test_strict_fields_refuse_a_misspelt_field(wix: Connect):
    w = await wix(catalog="v1", variants=on("strict_fields"))
    typo = await w.post(QUERY, {"query": {}, "includeHiddenProduct": True})
    assert typo.status == 400
    assert "includeHiddenProduct" in typo.body["message"]
    assert (await w.post(QUERY, {"query": {}, "includeHiddenProducts": True})).status == 200


async def test_rate_per_key_shares_one_budget_between_two_sites(wix: Connect):
    import aiohttp

    limiter = SlidingWindowLimiter((4, 60.0))
    configs = [EmulatorConfig(catalog="v1", site_id=site, rate_limit=(4, 60.0),
                              variants=on("rate_per_key")) for site in ("site-a", "site-b")]
    async with serve(configs[0], limiter=limiter) as a, serve(configs[1], limiter=limiter) as b, \
            aiohttp.ClientSession() as session:
        statuses = []
        for emu, site in ((a, "site-a"), (b, "site-b")) * 3:
            async with session.get(emu.url + "/stores/v3/provision/version",
                                   headers={**AUTH, "wix-site-id": site}) as answer:
                statuses.append(answer.status)
    assert statuses == [200, 200, 200, 200, 429, 429]
