"""``syncd lint`` and ``syncd explain`` against emulated stores: the demo store, and a
generated store with every problem lint knows planted in it.

The expected counts are computed from the store's spec (what the emulator was built from),
not from anything syncd read, so a lint that miscounts cannot agree with them by accident.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import json
import os
import sys
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from support.sync import API_KEY, write_config
from syncd.base.model import Catalog, DesiredStock, StoreSnapshot, StoreVariant
from syncd.core.lint import Problem, lint_store
from syncd.frontends.cli import main
from syncd.frontends.commands.common import ExitCode
from syncd_emulator import EmulatorConfig, RunningEmulator, StoreSpec, generate_store, serve
from syncd_emulator.spec import ProductSpec, VariantSpec

REPO = Path(__file__).resolve().parents[1]
OTHER_LOCATION = "0f0f0f0f-0000-4000-8000-0000000000aa"
PLANTED = 3
"""How many of each problem the planter adds (on top of what the generator made)."""


async def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    capsys.readouterr()
    code = await asyncio.to_thread(main, list(argv))
    return code, capsys.readouterr().out


@contextlib.asynccontextmanager
async def _store(catalog: str, spec: StoreSpec | None = None) -> AsyncIterator[RunningEmulator]:
    config = EmulatorConfig(catalog=catalog, api_key=API_KEY, rate_limit=None)
    async with serve(config, spec=spec) as emu:
        yield emu


def _site(out: str) -> dict[str, Any]:
    """The one site's entry of a command's JSON object."""
    [doc] = json.loads(out)["sites"]
    return doc


def _findings(out: str) -> dict[str, dict[str, Any]]:
    return {f["problem"]: f for f in _site(out)["findings"]}


# -- the demo store -----------------------------------------------------------------------

@pytest.fixture
def key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WIX_API_KEY", API_KEY)
    monkeypatch.setenv("SYNCD_LOG_FORMAT", "json")


@pytest.mark.parametrize("catalog", ["v1", "v3"])
async def test_lint_finds_the_demo_stores_duplicate_sku_and_hidden_product(
        catalog, tmp_path, capsys, key):
    async with _store(catalog) as emu:
        config = write_config(tmp_path, url=emu.url, source=REPO / "config/stock.example.csv")
        code, out = await _cli(capsys, "lint", "-c", str(config), "--output", "json")
    found = _findings(out)
    assert code == ExitCode.OK  # a sync of this store runs: it reports the duplicate
    assert found["duplicate_sku"]["count"] == 1
    assert found["duplicate_sku"]["severity"] == "warning"
    assert found["sync_refused"] == {**found["sync_refused"], "count": 0, "checked": True}
    assert found["duplicate_sku"]["examples"] == ["TSHIRT-VINTAGE-L: 2 variants"]
    assert found["hidden_product"]["count"] == 1
    assert "Prototype Hoodie" in found["hidden_product"]["examples"][0]
    assert found["empty_sku"]["count"] == 0
    assert found["untracked_with_quantity"]["count"] == 0
    if catalog == "v1":
        assert found["options_not_managed"]["count"] == 0
        assert not found["no_inventory_item"]["checked"]
    else:
        assert found["no_inventory_item"]["checked"]
        assert found["no_inventory_item"]["count"] == 0
        assert found["multi_location_unconfigured"]["count"] == 0


async def test_lint_warnings_alone_pass_unless_fail_on_warning(tmp_path, capsys, key):
    spec = replace(generate_store(0, seed=1), products=(
        _product("Shown", "A-1"), replace(_product("Hidden", "B-1"), visible=False)))
    async with _store("v1", spec) as emu:
        config = write_config(tmp_path, url=emu.url, source=_csv(tmp_path, {"A-1": 5}))
        code, out = await _cli(capsys, "lint", "-c", str(config))
        assert code == ExitCode.OK, out
        assert "WARNING  hidden products: 1" in out
        code, _ = await _cli(capsys, "lint", "-c", str(config), "--fail-on", "warning")
        assert code == ExitCode.PROBLEMS


async def test_explain_says_why_a_duplicate_sku_is_not_written(tmp_path, capsys, key):
    async with _store("v1") as emu:
        config = write_config(tmp_path, url=emu.url, source=REPO / "config/stock.example.csv")
        code, out = await _cli(capsys, "explain", "TSHIRT-VINTAGE-L", "-c", str(config),
                               "--output", "json")
    assert code == ExitCode.OK
    doc = _site(out)
    assert len(doc["variants"]) == 2
    assert all("2 store variants carry SKU TSHIRT-VINTAGE-L" in v["why"]
               for v in doc["variants"])
    assert [r["line"] for r in doc["rows"]] == [16]
    assert not doc["will_write"]


async def test_explain_shows_source_line_rules_and_the_last_journaled_write(
        tmp_path, capsys, key):
    async with _store("v1") as emu:
        config = write_config(tmp_path, url=emu.url, source=REPO / "config/stock.example.csv",
                              policy={"buffer": 2, "cap": 15})
        code, out = await _cli(capsys, "explain", "TSHIRT-RED-M", "-c", str(config))
        assert code == ExitCode.PENDING, out
        # source 18, buffer 2 -> 16, cap 15 -> 15; the store holds 20
        assert "will be written: quantity 20 -> quantity 15" in out
        assert "stock.example.csv:3" in out
        assert "2 held back by the buffer, capped at 15" in out
        assert "buffer: 2 unit(s)" in out and "cap: quantities above 15" in out
        assert "last writes in the journal: 0" in out
        # sync installs signal handlers, so it runs as its own process
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "syncd", "sync", "--force", "-c", str(config),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        assert await asyncio.wait_for(proc.wait(), timeout=60) == ExitCode.OK
        code, out = await _cli(capsys, "explain", "TSHIRT-RED-M", "-c", str(config))
    assert code == ExitCode.OK, out
    assert "will not be written: it already holds what" in out
    assert "last writes in the journal: 1" in out
    assert "applied: 20 -> 15" in out


async def test_explain_of_an_unknown_sku_names_the_unmatched_row(tmp_path, capsys, key):
    async with _store("v1") as emu:
        source = _csv(tmp_path, {"NOT-IN-STORE": 4})
        config = write_config(tmp_path, url=emu.url, source=source)
        code, out = await _cli(capsys, "explain", "NOT-IN-STORE", "-c", str(config))
    assert code == ExitCode.OK
    assert "no store variant carries SKU NOT-IN-STORE" in out
    assert f"{source}:2" in out


# -- a generated store with every problem planted -----------------------------------------

def _product(name: str, sku: str, *, track: bool = True) -> ProductSpec:
    from syncd_emulator.spec import derived_id
    pid = derived_id("product", name)
    vid = derived_id("variant", pid)
    return ProductSpec(id=pid, numeric_id=1_598_904_314_932_014 + len(name) * 7919 + ord(name[0]),
                       name=name, sku=sku, visible=True, track=track, price=1.0, options=(),
                       variants=(VariantSpec(vid, (), sku, 5, True, 1.0, derived_id("i", vid)),),
                       inventory_item_id=derived_id("inv", pid))


def _csv(tmp: Path, rows: dict[str, int]) -> Path:
    path = tmp / "stock.csv"
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["sku", "quantity"])
        w.writerows(rows.items())
    return path


def _plant(spec: StoreSpec) -> StoreSpec:
    """``PLANTED`` more of each problem: duplicate and empty SKUs, untracked and hidden
    products, products with options whose variants are not managed, variants without an
    inventory item. (Several locations are planted through the API, see below.)"""
    products = list(spec.products)
    with_options = [i for i, p in enumerate(products) if p.options and p.visible and p.track]
    plain = [i for i, p in enumerate(products) if not p.options and p.visible and p.track]
    dup, empty, untracked, hidden, unmanaged, no_item = (
        with_options[0:PLANTED], with_options[PLANTED:2 * PLANTED], plain[0:PLANTED],
        plain[PLANTED:2 * PLANTED], with_options[2 * PLANTED:3 * PLANTED],
        with_options[3 * PLANTED:4 * PLANTED])
    for i in dup:  # the product's second variant takes its first one's SKU
        p = products[i]
        vs = list(p.variants)
        vs[1] = replace(vs[1], sku=vs[0].sku)
        products[i] = replace(p, variants=tuple(vs))
    for i in empty:
        p = products[i]
        products[i] = replace(p, variants=(replace(p.variants[0], sku=""), *p.variants[1:]))
    for i in untracked:
        products[i] = replace(products[i], track=False)
    for i in hidden:
        products[i] = replace(products[i], visible=False)
    for i in unmanaged:
        products[i] = replace(products[i], manage_variants=False)
    for i in no_item:
        p = products[i]
        products[i] = replace(p, variants=(replace(p.variants[-1], item_id=None),
                                           *p.variants[:-1]))
    return replace(spec, products=tuple(products))


def _expected(spec: StoreSpec, source: dict[str, int], *, catalog: str,
              multi_location: int) -> dict[str, int]:
    """Ground truth from the spec, by the rules of each catalog."""
    def unmanaged(p: ProductSpec) -> bool:
        return catalog == "v1" and p.has_options and p.manage_variants is False

    def sku(p: ProductSpec, v: VariantSpec) -> str:
        # A V1 product whose variants Wix does not manage shows one SKU on every variant:
        # its own, else its first variant's (the emulator's reading of such a product).
        if not unmanaged(p):
            return v.sku
        return p.sku or next((x.sku for x in p.variants if x.sku), "")

    every = [(p, v, sku(p, v)) for p in spec.products for v in p.variants]
    walked = [(p, v, s) for p, v, s in every if catalog == "v1" or v.item_id is not None]
    counts = Counter(s for _, _, s in every if s)
    walked_counts = Counter(s for _, _, s in walked if s)
    # one product's shared SKU is written to all its variants together: not a duplicate
    shared = {s for p, _, s in every if unmanaged(p)
              and sum(1 for q, _, t in every if t == s and q.id != p.id) == 0}
    return {
        "duplicate_sku": sum(1 for s, n in counts.items() if n > 1 and s not in shared),
        "empty_sku": sum(1 for _, _, s in every if not s),
        "untracked_with_quantity": len({p.id for p, _, s in walked if not p.track
                                        and s in source and walked_counts[s] == 1}),
        "hidden_product": len({p.id for p in spec.products if not p.visible
                               or any(not v.visible for v in p.variants)}),
        "options_not_managed": (0 if catalog == "v3" else
                                sum(1 for p in spec.products
                                    if p.options and p.manage_variants is False)),
        "no_inventory_item": (0 if catalog == "v1" else
                              sum(1 for _, v, _ in every if v.item_id is None)),
        "multi_location_unconfigured": multi_location,
    }


async def _add_items_elsewhere(emu: RunningEmulator, spec: StoreSpec) -> int:
    """Give a few variants a second item at another location, through Bulk Create."""
    targets = [(p.id, v.id) for p in spec.products if p.track and p.visible
               for v in p.variants if v.item_id is not None][-PLANTED:]
    body = {"inventoryItems": [{"productId": pid, "variantId": vid,
                                "locationId": OTHER_LOCATION, "quantity": 1}
                               for pid, vid in targets]}
    async with aiohttp.ClientSession() as session, session.post(
            f"{emu.url}/stores/v3/bulk/inventory-items/create", json=body,
            headers={"Authorization": API_KEY, "wix-site-id": "demo-site"}) as resp:
        assert resp.status == 200, await resp.text()
        result = await resp.json()
    assert all(r["itemMetadata"]["success"] for r in result["results"]), result
    return len(targets)


@pytest.mark.parametrize("catalog", ["v1", "v3"])
async def test_lint_counts_every_problem_planted_in_a_generated_store(
        catalog, tmp_path, capsys, key):
    spec = _plant(generate_store(80, seed=11))
    untracked_skus = {v.sku for p in spec.products if not p.track and not p.options
                      for v in p.variants if v.sku}
    tracked_skus = [v.sku for p in spec.products if p.track for v in p.variants if v.sku][:20]
    counts = Counter(v.sku for p in spec.products for v in p.variants if v.sku)
    duplicate = next(v.sku for p in spec.products if p.options and p.manage_variants is None
                     for v in p.variants if counts[v.sku] == 2 and p.track)
    untracked = sorted(s for s in untracked_skus if counts[s] == 1)[0]
    source = {s: 5 for s in [*sorted(untracked_skus), *tracked_skus, duplicate]}
    async with _store(catalog, spec) as emu:
        multi = await _add_items_elsewhere(emu, spec) if catalog == "v3" else 0
        config = write_config(tmp_path, url=emu.url, source=_csv(tmp_path, source))
        code, out = await _cli(capsys, "lint", "-c", str(config), "--output", "json")
        explained = {}
        for sku in (duplicate, untracked):
            _, text = await _cli(capsys, "explain", sku, "-c", str(config), "--output", "json")
            explained[sku] = _site(text)
    found = _findings(out)
    expected = _expected(spec, source, catalog=catalog, multi_location=multi)
    # explain on the same store: the planted duplicate is never written by SKU, and the
    # untracked product's quantity only decides availability
    dup = explained[duplicate]
    assert len(dup["variants"]) == counts[duplicate] >= 2 and not dup["will_write"]
    assert all(f"{counts[duplicate]} store variants carry SKU" in v["why"]
               for v in dup["variants"])
    [untracked_variant] = explained[untracked]["variants"]
    assert not untracked_variant["tracked"]
    assert explained[untracked]["rows"][0]["quantity"] == 5
    assert {k: found[k]["count"] for k in expected} == expected
    assert code == ExitCode.PROBLEMS
    # every planted kind is there (the generator's own odd data only adds to it)
    relevant = {"duplicate_sku", "empty_sku", "untracked_with_quantity", "hidden_product",
                "options_not_managed" if catalog == "v1" else "no_inventory_item"}
    if catalog == "v3":
        relevant.add("multi_location_unconfigured")
    assert all(expected[k] >= PLANTED for k in relevant), expected
    assert all(len(found[k]["examples"]) == min(5, expected[k]) for k in relevant)


async def test_lint_matches_source_skus_by_the_sites_match_rules(tmp_path, capsys, key):
    import yaml

    spec = replace(generate_store(0, seed=2), products=(
        _product("Apron", "A-1"), _product("Scarf", "SC-1", track=False)))
    async with _store("v1", spec) as emu:
        config = write_config(tmp_path, url=emu.url,
                              source=_csv(tmp_path, {"a-1": 3, "sc-1": 4}))
        doc = yaml.safe_load(config.read_text())
        doc["sites"][0]["match"] = {"case_insensitive": True}
        config.write_text(yaml.safe_dump(doc))
        code, out = await _cli(capsys, "lint", "-c", str(config), "--output", "json")
    found = _findings(out)
    assert found["untracked_with_quantity"]["count"] == 1, out
    assert "Scarf" in found["untracked_with_quantity"]["examples"][0]
    assert code == ExitCode.OK, "an untracked product given a quantity is a warning"


# -- the pure checks ----------------------------------------------------------------------

def _item(product: str, variant: str, sku: str, location: str) -> StoreVariant:
    return StoreVariant(product, variant, f"{product}{variant}{location}", sku, True, 1, True,
                        False, product_name=product, location_id=location)


def test_several_locations_are_a_problem_only_without_a_configured_location():
    snapshot = StoreSnapshot(Catalog.V3, (
        _item("p1", "v1", "A", "L1"), _item("p1", "v1", "A", "L2"), _item("p2", "v1", "B", "L1")))
    unconfigured = {f.problem: f for f in lint_store(snapshot).findings}
    assert unconfigured[Problem.MULTI_LOCATION].count == 1
    # one SKU at two locations is one variant, not a duplicate SKU
    assert unconfigured[Problem.DUPLICATE_SKU].count == 0
    configured = {f.problem: f for f in lint_store(snapshot, location_id="L1").findings}
    assert configured[Problem.MULTI_LOCATION].count == 0
    assert "L1 is configured" in configured[Problem.MULTI_LOCATION].note


def test_checks_a_catalog_cannot_make_say_so_instead_of_reporting_zero():
    v1 = {f.problem: f for f in lint_store(StoreSnapshot(Catalog.V1, ())).findings}
    assert not v1[Problem.NO_INVENTORY_ITEM].checked
    assert not v1[Problem.MULTI_LOCATION].checked
    v3 = {f.problem: f for f in lint_store(StoreSnapshot(Catalog.V3, ())).findings}
    assert not v3[Problem.OPTIONS_NOT_MANAGED].checked
    assert not v3[Problem.NO_INVENTORY_ITEM].checked  # Query Variants was not read


def test_a_row_routed_to_a_location_still_finds_its_untracked_product():
    untracked = StoreVariant("p1", "v1", "i1", "SC-1", False, None, True, False,
                             product_name="Scarf", location_id=OTHER_LOCATION)
    snapshot = StoreSnapshot(Catalog.V3, (untracked,))
    row = DesiredStock(f"SC-1 @ {OTHER_LOCATION}", None, None, 4, None, "stock.csv", 2)
    report = lint_store(snapshot, [row], location_id=OTHER_LOCATION)
    [finding] = [f for f in report.findings if f.problem is Problem.UNTRACKED_WITH_QUANTITY]
    assert finding.count == 1 and "Scarf" in finding.examples[0]


async def _syncd(config: Path, *argv: str) -> tuple[int, str]:
    """``python -m syncd ARGV -c CONFIG`` in a subprocess of this checkout's code."""
    env = {**os.environ, "WIX_API_KEY": API_KEY, "SYNCD_LOG_FORMAT": "json",
           "PYTHONPATH": str(REPO)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "syncd", *argv, "-c", str(config), env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=90)
    assert proc.returncode is not None
    return proc.returncode, out.decode()


async def test_lint_fails_exactly_where_a_sync_of_the_same_store_refuses(tmp_path):
    """The demo store's duplicate SKU is a warning and lint passes, since a sync of it
    runs; a source that zeroes the store trips a guard, and lint fails with that guard's
    words, as the sync it predicts is refused."""
    async with _store("v1") as emu:
        config = write_config(tmp_path, url=emu.url, source=REPO / "config/stock.example.csv")
        code, out = await _syncd(config, "lint", "--output", "json")
        assert code == ExitCode.OK, out
        assert _findings(out)["duplicate_sku"]["severity"] == "warning"
        code, text = await _syncd(config, "lint")
        assert code == ExitCode.OK and "WARNING  SKUs carried by several variants: 1" in text
        assert "ERROR" not in text
        code, out = await _syncd(config, "sync", "--dry-run")
        assert code == ExitCode.PENDING, out  # the sync lint vouched for runs

        skus = sorted({str(r["sku"]) for r in emu.state() if r["sku"]})
        (tmp_path / "zero").mkdir()
        zeroing = write_config(tmp_path / "zero", url=emu.url,
                               source=_csv(tmp_path, {sku: 0 for sku in skus}))
        code, out = await _syncd(zeroing, "lint", "--output", "json")
        refused = _findings(out)["sync_refused"]
        assert code == ExitCode.PROBLEMS
        assert refused["severity"] == "error" and refused["count"] >= 1
        assert any(e.startswith("max_zeroed: ") for e in refused["examples"])
        code, out = await _syncd(zeroing, "sync")
        assert code == ExitCode.REFUSED, out
