"""The feed size cap, the memory a feed's parse takes and the shipped manifests fit together:
a feed at the cap can be parsed within the pod's memory limit, and its copies fit the
volume that holds them."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from syncd.edges.config.feed import (
    FEED_MEMORY_BUDGET,
    FEED_MEMORY_PER_BYTE,
    default_max_bytes,
    is_remote,
)

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
MANIFESTS = ["kubernetes.yaml", "kubernetes/agency.yaml"]
_UNITS = {"": 1, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "k": 10**3, "M": 10**6, "G": 10**9}


def quantity(text: str) -> int:
    """Bytes of a Kubernetes quantity (``384Mi``, ``2Gi``...)."""
    number, unit = re.fullmatch(r"(\d+)([A-Za-z]*)", str(text)).groups()  # type: ignore[union-attr]
    return int(number) * _UNITS[unit]


def _documents(name: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((DEPLOY / name).read_text()) if d]


def _config(docs: list[dict[str, Any]]) -> dict[str, Any]:
    return next(yaml.safe_load(d["data"]["syncd.yaml"]) for d in docs
                if d["kind"] == "ConfigMap" and "syncd.yaml" in d.get("data", {}))


def _feeds(docs: list[dict[str, Any]], config: dict[str, Any]) -> int:
    """Remote sources in the configuration, its sites and its sites ConfigMap."""
    def count(entry: Any) -> int:
        sources = entry.get("source", []) if isinstance(entry, dict) else []
        sources = sources if isinstance(sources, list) else [sources]
        return sum(1 for s in sources if is_remote(str(s.get("path", ""))))
    sites = list(config.get("sites", []))
    if "sites_dir" in config:
        sites += [yaml.safe_load(text) for d in docs if d["kind"] == "ConfigMap"
                  for key, text in d.get("data", {}).items() if key.endswith(".yaml")
                  and key != "syncd.yaml"]
    return count(config) + sum(count(site) for site in sites)


def _volume_size(docs: list[dict[str, Any]], volume: dict[str, Any]) -> int | None:
    """Bytes a volume may hold; None when unbounded."""
    if "emptyDir" in volume:
        limit = (volume["emptyDir"] or {}).get("sizeLimit")
        return quantity(limit) if limit else None
    claim = volume["persistentVolumeClaim"]["claimName"]
    pvc = next(d for d in docs if d["kind"] == "PersistentVolumeClaim"
               and d["metadata"]["name"] == claim)
    return quantity(pvc["spec"]["resources"]["requests"]["storage"])


def _in_memory(volume: dict[str, Any]) -> bool:
    return (volume.get("emptyDir") or {}).get("medium") == "Memory"


def problems(name: str, caps: dict[str, int]) -> list[str]:
    """Why feeds capped at ``caps`` (bytes by format) do not fit manifest ``name``; empty
    when they do."""
    docs = _documents(name)
    config = _config(docs)
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    container = next(c for c in pod["containers"] if c["name"] == "syncd")
    limit = quantity(container["resources"]["limits"]["memory"])
    base = quantity(container["resources"]["requests"]["memory"])
    found = []

    directory = f"{str(config['state_dir']).rstrip('/')}/feeds"
    mounts = [m for m in container["volumeMounts"]
              if directory == m["mountPath"] or directory.startswith(m["mountPath"] + "/")]
    assert mounts, f"{name}: {directory} is on the container's read-only root file system"
    mount = max(mounts, key=lambda m: len(m["mountPath"]))
    feed_volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
    size = _volume_size(docs, feed_volume)
    # Every copy, and beside each the part file of a fetch in progress.
    needed_disk = 2 * max(caps.values()) * max(1, _feeds(docs, config))
    if size is not None and size < needed_disk:
        found.append(f"{name}: the volume under {directory} holds {size} bytes; feeds at "
                     f"their caps need {needed_disk}")

    # The memory request is what the daemon needs without feeds. A feed at its cap adds its
    # parse next to the last reading; a memory volume (tmpfs) counts as memory when full.
    feed_memory = max(cap * FEED_MEMORY_PER_BYTE[f] for f, cap in caps.items())
    volumes = [_volume_size(docs, v) for v in pod["volumes"] if _in_memory(v)]
    in_memory = sum(limit if v is None else v for v in volumes)
    if base + feed_memory + in_memory >= limit:
        found.append(f"{name}: memory limit {limit} bytes < {base} (request) + {feed_memory} "
                     f"(a feed at its cap) + {in_memory} (memory volumes)")
    return found


DEFAULT_CAPS = {f: default_max_bytes(f) for f in FEED_MEMORY_PER_BYTE}


def test_every_format_parses_within_the_budget_at_its_default_cap():
    for source_format, cap in DEFAULT_CAPS.items():
        assert cap * FEED_MEMORY_PER_BYTE[source_format] <= FEED_MEMORY_BUDGET, source_format
    assert DEFAULT_CAPS["csv"] == 16 * 2**20


@pytest.mark.parametrize("name", MANIFESTS)
def test_a_feed_at_the_default_cap_fits_the_manifest(name: str):
    assert problems(name, DEFAULT_CAPS) == []


@pytest.mark.parametrize("name", MANIFESTS)
def test_the_check_fails_for_a_cap_the_manifest_cannot_hold(name: str):
    assert problems(name, {"csv": 512 * 2**20})


def test_a_feed_gets_the_default_cap_of_its_format_unless_it_sets_one(tmp_path: Path):
    from syncd.edges.config import Settings

    config = tmp_path / "syncd.yaml"
    caps = {}
    for path, feed in (("https://erp.example/stock.csv", "{}"),
                       ("https://erp.example/stock.yaml", "{}"),
                       ("https://erp.example/export", "{}"),
                       ("https://erp.example/stock.yaml", "{max_bytes: 1000}")):
        extra = "format: yaml, " if path.endswith("export") else ""
        config.write_text("sites: [{name: shop, site_id: s, api_key_env: KEY}]\n"
                          f"source: {{path: '{path}', {extra}feed: {feed}}}\n")
        source = Settings.from_file(config, env={"KEY": "k"}).sites[0].source
        assert source.feed is not None
        caps[f"{path} {extra}{feed}"] = source.feed.max_bytes
    assert list(caps.values()) == [16 * 2**20, 4 * 2**20, 4 * 2**20, 1000]
