"""Every error that names a place names a line: aliased YAML rows at the alias, bad bytes at
their line and column, and every configuration error of a file in one run."""

from __future__ import annotations

from pathlib import Path

import pytest

from syncd.base.errors import ConfigError, SourceError
from syncd.edges.config import Settings, SourceFormat, SourceSettings
from syncd.edges.sources import InvalidRowsError, load_desired


def test_an_aliased_yaml_row_is_reported_at_the_line_that_uses_it(tmp_path: Path):
    path = tmp_path / "stock.yaml"
    path.write_text("- &bad {sku: A, quantity: many}\n"
                    "- {sku: B, quantity: 2}\n"
                    "- {sku: C, quantity: 3}\n"
                    "- *bad\n")
    with pytest.raises(InvalidRowsError) as caught:
        load_desired(SourceSettings(path=path, format=SourceFormat.YAML))
    lines = sorted(e.line for e in caught.value.errors)
    assert 4 in lines, f"the alias on line 4 is not named: {caught.value}"


@pytest.mark.parametrize("fmt,name", [(SourceFormat.CSV, "stock.csv"),
                                      (SourceFormat.YAML, "stock.yaml")])
def test_bad_bytes_are_reported_at_their_line_and_column(tmp_path: Path, fmt, name):
    path = tmp_path / name
    body = "sku,quantity\nA,1\nB,2\n" if fmt is SourceFormat.CSV else "A: 1\nB: 2\n"
    path.write_bytes(body.encode() + b"CAF" + b"\xe9" + b",3\n" * 3000)
    with pytest.raises(SourceError) as caught:
        load_desired(SourceSettings(path=path, format=fmt))
    line = body.count("\n") + 1
    assert f"{path}:{line}: column 4: " in str(caught.value)
    assert "byte 0xe9" in str(caught.value)


def test_every_configuration_error_is_reported_in_one_run(tmp_path: Path):
    (tmp_path / "stock.csv").write_text("sku,quantity\nA,1\n")
    config = tmp_path / "syncd.yaml"
    config.write_text(
        "sites:\n"
        "  - {name: a, site_id: s1, api_key: k1, rate_limit: {requests: -1}}\n"
        "  - {name: b, api_key: k2}\n"
        "source: {path: stock.csv}\n"
        "schedule: {interval_seconds: soon}\n"
        "policy: {max_zeroed: lots}\n")
    with pytest.raises(ConfigError) as caught:
        Settings.from_file(config, env={})
    text = str(caught.value)
    for where in ("syncd.yaml:2", "syncd.yaml:3", "syncd.yaml:5", "syncd.yaml:6"):
        assert where in text, f"{where} missing from:\n{text}"
