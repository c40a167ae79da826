"""The Grafana dashboard and its provisioning: every query names a metric syncd exports.

The exported names are read from the registry of ``syncd.cycle.metrics.Metrics`` (after one
observation of each kind, so every labelled series exists), never from a list kept here.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import SimpleNamespace

import yaml
from prometheus_client.parser import text_string_to_metric_families

from syncd.cycle.metrics import Metrics

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
DASHBOARD = DEPLOY / "grafana" / "dashboards" / "syncd.json"
METRIC = re.compile(r"\bsyncd_[a-z_]+\b")


def exported_names() -> set[str]:
    """Every sample name syncd's /metrics can show, from the registry itself."""
    metrics = Metrics()
    metrics.observe_request("s", "/x", 200, 0.1)
    metrics.observe_retry("s")
    metrics.observe_rate_limited("s")
    metrics.observe_limiter_wait("s", 0.5)
    metrics.observe_cycle(SimpleNamespace(site="s", kind="full", result="ok", planned=2,
                                          written=1, failed=1, duration_s=1.0,
                                          out_of_sync=0), now_s=1.0)
    text = metrics.exposition().decode()
    return {sample.name for family in text_string_to_metric_families(text)
            for sample in family.samples}


def panels() -> list[dict]:
    return json.loads(DASHBOARD.read_text())["panels"]


def test_every_panel_query_names_only_metrics_syncd_exports():
    exported = exported_names()
    assert "syncd_cycles_total" in exported  # the reading works at all
    for panel in panels():
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            named = set(METRIC.findall(target["expr"]))
            assert named, f"{panel['title']}: query names no syncd metric"
            assert named <= exported, f"{panel['title']}: {named - exported} not exported"


def test_the_check_rejects_a_misspelt_metric():
    assert not {"syncd_cycle_total"} <= exported_names()


def test_dashboard_covers_health_budget_writes_429s_durations_and_last_success():
    used = {m for p in panels() for t in p["targets"] for m in METRIC.findall(t["expr"])}
    assert {"syncd_last_success_timestamp_seconds", "syncd_api_requests_total",
            "syncd_writes_total", "syncd_api_rate_limited_total",
            "syncd_cycle_duration_seconds_bucket", "syncd_cycles_total"} <= used


def test_panels_have_unique_ids_and_use_the_datasource_variable():
    ids = [p["id"] for p in panels()]
    assert len(ids) == len(set(ids))
    assert all(p["datasource"]["uid"] == "${datasource}" for p in panels())
    variables = {v["name"] for v in json.loads(DASHBOARD.read_text())["templating"]["list"]}
    assert {"datasource", "site"} <= variables


def test_compose_provisions_prometheus_scraping_syncd_and_grafana_loading_the_dashboard():
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())["services"]
    prometheus = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    [job] = prometheus["scrape_configs"]
    assert job["static_configs"][0]["targets"] == ["syncd:9108"]
    assert "./prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro" in \
        compose["prometheus"]["volumes"]
    grafana = compose["grafana"]["volumes"]
    provider = yaml.safe_load(
        (DEPLOY / "grafana" / "provisioning" / "dashboards" / "syncd.yml").read_text())
    path = provider["providers"][0]["options"]["path"]
    assert f"./grafana/dashboards:{path}:ro" in grafana
    datasource = yaml.safe_load(
        (DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yml").read_text())
    assert datasource["datasources"][0]["url"] == "http://prometheus:9090"
