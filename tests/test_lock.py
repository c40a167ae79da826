"""The dependency lock (constraints.txt) and the warnings policy.

The README's commands, CI and the container image install through constraints.txt, so the
lock must pin everything pyproject.toml asks for, at versions pyproject.toml allows, and
must have been resolved from today's pyproject.toml: a dependency added or changed without
``scripts/upgrade-deps --relock`` fails here, before it can make installs drift.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import re
import tomllib
import types
import warnings
from pathlib import Path
from typing import Any

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "constraints.txt"
RELOCK = "run scripts/upgrade-deps --relock and commit constraints.txt"


def upgrade_deps() -> Any:
    path = str(ROOT / "scripts" / "upgrade-deps")
    loader = importlib.machinery.SourceFileLoader("upgrade_deps", path)
    spec = importlib.util.spec_from_loader("upgrade_deps", loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def locked_pins() -> list[Requirement]:
    lines = [line.split("#", 1)[0].strip() for line in LOCK.read_text().splitlines()]
    return [Requirement(line) for line in lines if line]


def project_requirements() -> list[tuple[str, Requirement]]:
    """Every requirement of the base install and of each extra, with where it comes from
    (syncd's own extras, as ``syncd[a,b]`` inside another extra, are expanded)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras: dict[str, list[str]] = project["optional-dependencies"]
    found = [("dependencies", Requirement(text)) for text in project["dependencies"]]
    for extra, texts in extras.items():
        for text in texts:
            req = Requirement(text)
            if canonicalize_name(req.name) != "syncd":
                found.append((f"[{extra}]", req))
    return found


def pinned_version(pins: list[Requirement], name: str) -> str | None:
    """The version the lock installs ``name`` at on this machine (markers evaluated)."""
    env = default_environment()
    for pin in pins:
        if canonicalize_name(pin.name) != canonicalize_name(name):
            continue
        if pin.marker is not None and not pin.marker.evaluate(dict(env)):
            continue
        (spec,) = pin.specifier
        assert spec.operator == "==", f"constraints.txt: {pin} is not an exact pin"
        return spec.version
    return None


def test_every_dependency_of_every_extra_is_pinned_at_a_version_pyproject_allows() -> None:
    pins = locked_pins()
    problems = []
    for origin, req in project_requirements():
        version = pinned_version(pins, req.name)
        if version is None:
            problems.append(f"{origin} {req}: not pinned in constraints.txt")
        elif not req.specifier.contains(version, prereleases=True):
            problems.append(f"{origin} {req}: constraints.txt pins {version}")
    assert not problems, f"the lock disagrees with pyproject.toml ({RELOCK}):\n" + "\n".join(
        problems)


def test_the_lock_was_resolved_from_todays_pyproject_dependencies() -> None:
    tool = upgrade_deps()
    recorded = [line for line in LOCK.read_text().splitlines()
                if line.startswith(tool.DIGEST_PREFIX)]
    assert recorded, f"constraints.txt records no pyproject digest: {RELOCK}"
    assert recorded[0][len(tool.DIGEST_PREFIX):] == tool.dependencies_digest(), (
        f"pyproject.toml's dependencies changed since constraints.txt was resolved: {RELOCK}")


def test_a_dependency_added_without_relocking_is_caught(tmp_path: Path) -> None:
    tool = upgrade_deps()
    edited = tmp_path / "pyproject.toml"
    text = (ROOT / "pyproject.toml").read_text()
    edited.write_text(text.replace('"pyyaml>=6.0",', '"pyyaml>=6.0",\n    "left-pad>=1",', 1))
    assert tool.dependencies_digest(edited) != tool.dependencies_digest()


def test_transitive_dependencies_are_pinned_too() -> None:
    names = {canonicalize_name(pin.name) for pin in locked_pins()}
    # aiohttp's own dependencies, which pyproject.toml never names.
    assert {"yarl", "multidict", "frozenlist"} <= names


def test_every_pin_is_exact() -> None:
    for pin in locked_pins():
        assert re.fullmatch(r"==[^,]+", str(pin.specifier)), pin


def test_the_install_commands_go_through_the_lock() -> None:
    readme = (ROOT / "README.md").read_text()
    block = readme.split("<!-- test-command -->", 1)[1].split("<!-- /test-command -->", 1)[0]
    assert "-c constraints.txt" in block
    demo = [line for line in readme.splitlines() if "syncd demo" in line and "pip install" in line]
    assert demo and all("-c constraints.txt" in line for line in demo)
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "-c constraints.txt" in dockerfile


# -- the warnings policy (pyproject.toml, [tool.pytest.ini_options] filterwarnings) ------------


def module_that_warns(name: str, category: type[Warning]) -> types.ModuleType:
    module = types.ModuleType(name)
    exec("import warnings\n"
         "def call(category):\n"
         "    warnings.warn('old API', category)\n", module.__dict__)
    module.call(category)  # defined by exec
    return module


def test_a_deprecation_raised_in_a_test_is_an_error() -> None:
    with pytest.raises(DeprecationWarning):
        warnings.warn("old API", DeprecationWarning, stacklevel=1)


def test_a_deprecation_raised_by_syncd_code_is_an_error() -> None:
    with pytest.raises(DeprecationWarning):
        module_that_warns("syncd.somewhere", DeprecationWarning)
    with pytest.raises(DeprecationWarning):
        module_that_warns("backends.test_something", DeprecationWarning)


def test_a_third_party_deprecation_is_shown_not_fatal() -> None:
    with warnings.catch_warnings(record=True) as caught:
        module_that_warns("somelibrary.internals", DeprecationWarning)
    assert [str(w.message) for w in caught] == ["old API"]


def test_other_third_party_warnings_stay_errors() -> None:
    with pytest.raises(RuntimeWarning):
        module_that_warns("somelibrary.internals", RuntimeWarning)
