"""The layer map in syncd/__init__.py and the import-linter contract in pyproject.toml agree.

The docstring is what people read; the contract is what ``lint-imports`` enforces. Either
can be edited alone, so this test parses both and fails on any difference: a layer missing
from one of them, an extra one, or the two in a different order. It also checks that every
module directly under ``syncd`` (apart from the package's own ``__init__``/``__main__``)
sits in a layer package, so nothing escapes the contract by living at the root.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import syncd

ROOT = Path(__file__).resolve().parent.parent
MAP_LINE = re.compile(r"^    (\w+) {2,}\S")


def _map_layers() -> list[str]:
    """The layer names of the map in syncd's docstring, top first."""
    assert syncd.__doc__ is not None
    return [m.group(1) for line in syncd.__doc__.splitlines() if (m := MAP_LINE.match(line))]


def _contract() -> dict[str, Any]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    layered = [c for c in contracts if c["type"] == "layers" and "containers" not in c]
    assert len(layered) == 1, "expected one top-level layers contract in pyproject.toml"
    contract: dict[str, Any] = layered[0]
    return contract


def test_the_layer_map_names_the_contracts_layers_in_the_same_order() -> None:
    """The docstring's layers, top first, are exactly the contract's layers."""
    contract_layers = [str(layer) for layer in _contract()["layers"]]
    assert contract_layers == [f"syncd.{name}" for name in _map_layers()]


def test_each_layer_is_a_package_and_the_root_holds_only_layers() -> None:
    """A module added in a layer's package is covered without editing the contract."""
    package = ROOT / "syncd"
    layers = set(_map_layers())
    for name in layers:
        assert (package / name / "__init__.py").is_file(), f"layer {name} is not a package"
    loose = {
        path.stem if path.is_file() else path.name
        for path in package.iterdir()
        if (path.suffix == ".py" or (path / "__init__.py").is_file())
    } - {"__init__", "__main__"}
    assert loose == layers, f"outside every layer: {sorted(loose - layers)}"


def test_the_emulator_may_import_only_the_base_layer() -> None:
    """The emulator's contract forbids every layer above ``base``."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    (emulator,) = [c for c in config["tool"]["importlinter"]["contracts"]
                   if c.get("source_modules") == ["syncd_emulator"]]
    above_base = [f"syncd.{name}" for name in _map_layers() if name != "base"]
    assert sorted(emulator["forbidden_modules"]) == sorted(above_base)
