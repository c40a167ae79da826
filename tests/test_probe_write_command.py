"""``syncd probe --write-test`` as a user runs it (a subprocess): the read questions and the
write test in one report, stored for the next sync, the product put back and said so."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from test_probe_write import PRODUCTS, SITE_ID, pick_product, product_rows

from support.sync import API_KEY, run_syncd, write_config
from syncd.cycle.probe_write import WRITE_TEST_CALLS
from syncd.edges.wix.probe_ask import PROBE_BUDGET
from syncd_emulator.variants import WixVariants


async def test_a_write_test_from_the_command_reports_read_lag_and_puts_the_product_back(
        emulator: Any, tmp_path: Path) -> None:
    emu = await emulator(catalog="v1", generate_products=PRODUCTS, seed=7, site_id=SITE_ID,
                         api_key=API_KEY, rate_limit=None,
                         variants=WixVariants.parse("read_lag"), read_lag_s=1.0)
    before = emu.state()
    product = pick_product(before)
    source = tmp_path / "stock.csv"
    other = next(r for r in before if r["product_id"] != product and r["sku"]
                 and r["tracked"] and r["quantity"] is not None)
    source.write_text(f"sku,quantity\n{other['sku']},{int(other['quantity']) + 3}\n",
                      encoding="utf-8")
    config = write_config(tmp_path, url=emu.url, source=source, site_id=SITE_ID,
                          timeout_s=2.0)
    calls_before = int(emu.stats()["requests_total"])
    code, out, err = await run_syncd("probe", "--config", str(config), "--site", "shop",
                                     "--write-test", product, "--output", "json")
    assert code == 0, err
    [site] = json.loads(out)["sites"]
    assert site["write_test"]["restored"] is True and site["write_test"]["product_id"] == product
    readings = {f["point"]: f["reading"] for f in site["probe"]["findings"]}
    assert readings["read_lag"] == "lag" and readings["json_defaults"] == "present"
    assert product_rows(emu.state(), product) == product_rows(before, product)
    assert emu.state() == before
    assert int(emu.stats()["requests_total"]) - calls_before <= PROBE_BUDGET + WRITE_TEST_CALLS
    # The stored report holds the write test's findings: the next sync verifies its delta
    # after the measured read lag.
    code, out, err = await run_syncd("sync", "--config", str(config), "--force",
                                     "--output", "json")
    assert code == 0, out + err
    used = [u["point"] for u in json.loads(out)["sites"][0]["plan"]["findings"]["used"]]
    assert "read_lag" in used, used


async def test_a_read_only_probe_keeps_the_write_tests_findings_until_the_next_write_test(
        emulator: Any, tmp_path: Path) -> None:
    emu = await emulator(catalog="v1", generate_products=PRODUCTS, seed=7, site_id=SITE_ID,
                         api_key=API_KEY, rate_limit=None,
                         variants=WixVariants.parse("read_lag"), read_lag_s=1.0)
    product = pick_product(emu.state())
    source = tmp_path / "stock.csv"
    source.write_text("sku,quantity\n", encoding="utf-8")
    config = write_config(tmp_path, url=emu.url, source=source, site_id=SITE_ID,
                          timeout_s=2.0)

    async def probe(*more: str) -> dict[str, Any]:
        code, out, err = await run_syncd("probe", "--config", str(config), "--site", "shop",
                                         "--output", "json", *more)
        assert code == 0, err
        report: dict[str, Any] = json.loads(out)["sites"][0]["probe"]
        return report

    def found(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
        return {f["point"]: f for f in report["findings"]}

    tested = await probe("--write-test", product)
    assert found(tested)["read_lag"]["reading"] == "lag"
    read_only = await probe()
    assert read_only["taken_at"] > tested["taken_at"]
    for point in ("read_lag", "write_answer_lost", "empty_answer_applied"):
        assert found(read_only)[point]["reading"] == found(tested)[point]["reading"], point
        assert found(read_only)[point]["at"] == tested["taken_at"], point
    assert found(read_only)["json_defaults"]["at"] == read_only["taken_at"]
    code, out, _err = await run_syncd("probe", "--config", str(config), "--site", "shop")
    assert code == 0
    lag_line = next(line for line in out.splitlines() if line.strip().startswith("read_lag"))
    assert " lag " in lag_line and f"[of {tested['taken_at'][:10]}" in lag_line, lag_line
    again = await probe("--write-test", product)
    assert found(again)["read_lag"]["at"] == again["taken_at"] > tested["taken_at"]


async def test_a_write_test_needs_exactly_one_site(tmp_path: Path) -> None:
    config = tmp_path / "syncd.yaml"
    config.write_text("sites: []\n", encoding="utf-8")
    code, _out, err = await run_syncd("probe", "--config", str(config), "--write-test", "p1")
    assert code == 78 and "exactly one --site" in err
