"""Metrics exposition, readiness judgement and the HTTP endpoint."""

from __future__ import annotations

import asyncio
import functools
import time

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from syncd.base.errors import ConfigError, ListenError
from syncd.base.logs import SECRETS
from syncd.cycle.metrics import Metrics, endpoint_label
from syncd.edges.config import ListenAddress
from syncd.frontends.daemon.cycle import CycleKind, CycleOutcome, CycleResult
from syncd.frontends.daemon.health import SiteStatus, judge_readiness, judge_site
from syncd.frontends.daemon.health_endpoint import HealthView, HttpServer, build_app


def samples(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of the exposition, parsed back by prometheus' own parser."""
    text = metrics.exposition().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def outcome(result=CycleResult.OK, *, kind=CycleKind.FULL, planned=3, written=3, failed=0,
            site="shop") -> CycleOutcome:
    return CycleOutcome(site=site, kind=kind, result=result, planned=planned, written=written,
                        failed=failed, duration_s=1.5, error=None if result == "ok" else "boom")


class TestMetrics:
    def test_every_documented_metric_is_exposed_and_parses(self):
        metrics = Metrics()
        metrics.observe_cycle(outcome(), now_s=1_700_000_000.0)
        metrics.observe_request("shop", "/stores/v1/products/query", 200, 0.12)
        metrics.observe_retry("shop", "/stores/v1/products/query")
        metrics.observe_rate_limited("shop")
        metrics.observe_limiter_wait("shop", 0.75)
        s = samples(metrics)
        site = (("site", "shop"),)
        cycle_labels = (("kind", "full"), ("result", "ok"), ("site", "shop"))
        assert s[("syncd_cycles_total", cycle_labels)] == 1
        assert s[("syncd_api_requests_total", (("endpoint", "/stores/v1/products/query"),
                                               ("site", "shop"), ("status", "200")))] == 1
        assert s[("syncd_api_rate_limited_total", site)] == 1
        assert s[("syncd_api_retries_total", site)] == 1
        assert s[("syncd_writes_total", (("outcome", "written"), ("site", "shop")))] == 3
        assert s[("syncd_planned_changes", site)] == 3
        assert s[("syncd_variants_out_of_sync", site)] == 0
        assert s[("syncd_last_success_timestamp_seconds", site)] == 1_700_000_000.0
        assert s[("syncd_cycle_duration_seconds_count", (("kind", "full"), ("site", "shop")))] == 1
        assert s[("syncd_rate_limiter_wait_seconds_total", site)] == 0.75

    def test_failed_writes_and_out_of_sync_are_counted(self):
        metrics = Metrics()
        metrics.observe_cycle(outcome(CycleResult.FAILED, planned=5, written=2, failed=3))
        s = samples(metrics)
        assert s[("syncd_writes_total", (("outcome", "failed"), ("site", "shop")))] == 3
        assert s[("syncd_variants_out_of_sync", (("site", "shop"),))] == 3
        assert ("syncd_last_success_timestamp_seconds", (("site", "shop"),)) not in s

    def test_a_fast_cycle_does_not_claim_to_know_the_whole_store(self):
        metrics = Metrics()
        metrics.observe_cycle(outcome(planned=7, written=0, result=CycleResult.REFUSED))
        metrics.observe_cycle(outcome(kind=CycleKind.FAST, planned=1, written=1))
        s = samples(metrics)
        assert s[("syncd_variants_out_of_sync", (("site", "shop"),))] == 7

    def test_a_site_removed_by_a_reload_leaves_no_gauge_behind(self):
        metrics = Metrics()
        for site in ("shop", "kept"):
            metrics.observe_cycle(outcome(site=site), now_s=1_700_000_000.0)
            metrics.observe_start_delay(site, 2.0)
            metrics.observe_incremental_fallback(site, "canary_missed")
            metrics.observe_progress(site, planned=4, done=1, waiting=2)
        metrics.observe_rate_limited("shop")

        metrics.forget_site("shop")

        left = samples(metrics)
        shop = {name for name, labels in left if ("site", "shop") in labels}
        gauges = {"syncd_planned_changes", "syncd_variants_out_of_sync",
                  "syncd_last_success_timestamp_seconds", "syncd_cycle_start_delay_seconds",
                  "syncd_incremental_fallback", "syncd_cycle_writes",
                  "syncd_rate_limiter_waiting_requests"}
        assert shop & gauges == set()
        assert {"syncd_cycles_total", "syncd_api_rate_limited_total"} <= shop, \
            "counters keep their history"
        assert ("syncd_incremental_fallback",
                (("reason", "canary_missed"), ("site", "kept"))) in left
        assert ("syncd_cycle_writes", (("site", "kept"), ("state", "planned"))) in left

    def test_two_instances_do_not_share_a_registry(self):
        a, b = Metrics(), Metrics()
        a.observe_rate_limited("shop")
        assert ("syncd_api_rate_limited_total", (("site", "shop"),)) not in samples(b)

    def test_api_key_never_appears_in_labels(self):
        key = "IST.secret-api-key-0123456789"
        SECRETS.add(key)
        metrics = Metrics()
        metrics.observe_request("shop", f"/stores/v1/products?key={key}", 401, 0.1)
        metrics.observe_request(f"shop-{key}", f"/x/{key}", f"bad {key}", 0.1)
        text = metrics.exposition().decode()
        assert key not in text

    @pytest.mark.parametrize(
        ("endpoint", "label"),
        [
            ("/stores/v1/products/query", "/stores/v1/products/query"),
            ("/stores/v1/products/0614129c-8777-6f42-fd87-0000e1f3b3a7",
             "/stores/v1/products/{id}"),
            ("/stores/v2/inventoryItems/1234567/variants?limit=100",
             "/stores/v2/inventoryItems/{id}/variants"),
            ("inventory.update", "inventory.update"),
        ],
    )
    def test_endpoint_labels_drop_ids_and_queries(self, endpoint, label):
        assert endpoint_label(endpoint) == label

    def test_site_observer_binds_the_site_label(self):
        metrics = Metrics()
        observer = metrics.for_site("eu")
        observer.observe_request("/q", 429, 0.01)
        observer.observe_rate_limited()
        observer.observe_retry("/q")
        observer.observe_limiter_wait(2.0)
        s = samples(metrics)
        assert s[("syncd_api_rate_limited_total", (("site", "eu"),))] == 1
        assert s[("syncd_rate_limiter_wait_seconds_total", (("site", "eu"),))] == 2.0


class TestReadiness:
    def test_not_ready_before_any_cycle(self):
        verdict = judge_site(SiteStatus("shop"), max_age_s=60, now_s=1000)
        assert not verdict.ready
        assert verdict.reason == "no cycle has finished yet"

    def test_not_ready_until_a_cycle_succeeded_and_says_why(self):
        status = SiteStatus("shop")
        status.record(outcome(CycleResult.FAILED), ended_at_s=990)
        verdict = judge_site(status, max_age_s=60, now_s=1000)
        assert not verdict.ready
        assert "no cycle has succeeded yet" in verdict.reason and "boom" in verdict.reason

    @pytest.mark.parametrize(("age_s", "ready"), [(0, True), (59, True), (60, True), (61, False)])
    def test_ready_while_the_last_success_is_recent_enough(self, age_s, ready):
        status = SiteStatus("shop")
        status.record(outcome(), ended_at_s=1000)
        assert judge_site(status, max_age_s=60, now_s=1000 + age_s).ready is ready

    def test_one_unready_site_of_two_leaves_the_daemon_ready_by_default(self):
        good, stale = SiteStatus("a"), SiteStatus("b")
        good.record(outcome(site="a"), ended_at_s=1000)
        stale.record(outcome(site="b"), ended_at_s=100)
        verdict = judge_readiness([good, stale], max_age_s=60, now_s=1000)
        assert verdict.ready
        body = verdict.as_json()
        assert body["sites"]["a"]["ready"] is True
        assert "more than 60s" in body["sites"]["b"]["reason"]
        assert (body["sites_unready"], body["sites_total"], body["unready_share"]) == (1, 2, 1.0)

    def test_the_daemon_is_unready_once_the_configured_share_of_sites_is(self):
        statuses = [SiteStatus(name) for name in "abcd"]
        for status in statuses[:3]:
            status.record(outcome(site=status.site), ended_at_s=1000)
        judge = functools.partial(judge_readiness, statuses, max_age_s=60, now_s=1000)
        assert judge(unready_share=0.5).ready  # 1 of 4
        assert not judge(unready_share=0.25).ready
        statuses[2].record(outcome(site="c"), ended_at_s=100)  # stale now: 2 of 4
        assert not judge(unready_share=0.5).ready
        assert judge().ready  # the default: only when all are

    def test_when_every_site_is_unready_the_daemon_is(self):
        stale = SiteStatus("a")
        stale.record(outcome(site="a"), ended_at_s=100)
        assert not judge_readiness([stale], max_age_s=60, now_s=1000).ready
        assert not judge_readiness([SiteStatus("a"), SiteStatus("b")], max_age_s=60,
                                   now_s=1000).ready

    def test_a_disabled_site_is_named_and_counted_unready(self):
        good = SiteStatus("a")
        good.record(outcome(site="a"), ended_at_s=1000)
        verdict = judge_readiness([good], max_age_s=60, now_s=1000,
                                  config_errors={"b": "sites.d/b.yaml:3: site_id: required"})
        body = verdict.as_json()
        assert verdict.ready and (body["sites_unready"], body["sites_total"]) == (1, 2)
        assert body["sites"]["b"]["ready"] is False
        assert "sites.d/b.yaml:3: site_id" in body["sites"]["b"]["reason"]

    def test_no_sites_is_not_ready(self):
        assert not judge_readiness([], max_age_s=60, now_s=0).ready


@pytest.mark.parametrize(
    ("value", "expected"),
    [("127.0.0.1:9108", ListenAddress("127.0.0.1", 9108)),
     ("0.0.0.0:80", ListenAddress("0.0.0.0", 80)),
     ("[::1]:9108", ListenAddress("::1", 9108)),
     ("localhost:0", ListenAddress("localhost", 0))],
)
def test_listen_addresses_parse(value, expected):
    assert ListenAddress.parse(value) == expected


@pytest.mark.parametrize("value", ["9108", "127.0.0.1", ":9108", "host:port", "h:70000"])
def test_malformed_listen_address_is_a_config_error(value):
    with pytest.raises(ConfigError, match="HOST:PORT"):
        ListenAddress.parse(value)


class TestHttpEndpoint:
    async def serve(self, statuses, metrics, *, max_age_s=60.0):
        view = HealthView(statuses=lambda: statuses, ready_max_age_s=max_age_s,
                          started_at_s=0.0)
        server = HttpServer(build_app(view, metrics=metrics), ListenAddress("127.0.0.1", 0))
        address = await server.start()
        return server, f"http://127.0.0.1:{address.port}", view

    async def test_healthz_metrics_and_readyz_answer(self):
        status = SiteStatus("shop")
        metrics = Metrics()
        server, base, view = await self.serve([status], metrics)
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http:
                async with http.get(f"{base}/healthz") as r:
                    assert r.status == 200
                    assert (await r.json())["status"] == "alive"
                async with http.get(f"{base}/readyz") as r:
                    assert r.status == 503
                    body = await r.json()
                    assert body["sites"]["shop"]["reason"] == "no cycle has finished yet"
                done = outcome()
                status.record(done, ended_at_s=time.time())
                metrics.observe_cycle(done)
                async with http.get(f"{base}/readyz") as r:
                    assert r.status == 200
                    assert (await r.json())["ready"] is True
                # Stale: the same success, judged against a tiny maximum age.
                view.ready_max_age_s = 0.0
                status.last_success_at_s = time.time() - 5
                async with http.get(f"{base}/readyz") as r:
                    assert r.status == 503
                async with http.get(f"{base}/metrics") as r:
                    assert r.status == 200
                    assert r.headers["Content-Type"].startswith("text/plain")
                    names = {f.name for f in text_string_to_metric_families(await r.text())}
                    assert {"syncd_cycles", "syncd_last_success_timestamp_seconds"} <= names
        finally:
            await server.stop()

    async def test_a_scrape_counts_the_event_loops_tasks(self):
        metrics = Metrics()
        server, base, _ = await self.serve([], metrics)
        release = asyncio.Event()
        idle = [asyncio.create_task(release.wait()) for _ in range(7)]

        async def scrape() -> float:
            async with http.get(f"{base}/metrics") as r:
                families = {f.name: f for f in text_string_to_metric_families(await r.text())}
            return families["syncd_asyncio_tasks"].samples[0].value

        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http:
                with_idle = await scrape()
                release.set()
                await asyncio.gather(*idle)
                without = await scrape()
            # The seven waiting tasks, the test's own and the handler's at least.
            assert with_idle >= 9
            assert with_idle - without == 7
        finally:
            release.set()
            await server.stop()

    async def test_a_taken_port_is_a_clear_config_error(self):
        metrics = Metrics()
        first, _base, _ = await self.serve([], metrics)
        try:
            assert first.address is not None
            view = HealthView(statuses=list, ready_max_age_s=1, started_at_s=0)
            second = HttpServer(build_app(view, metrics=metrics), first.address)
            with pytest.raises(ListenError, match="cannot listen"):
                await second.start()
        finally:
            await first.stop()


@pytest.mark.parametrize(("value", "expected"), [(None, 1.0), ("0.25", 0.25), ("1", 1.0)])
def test_http_unready_share_is_read_from_the_file(tmp_path, value, expected):
    assert _settings_with_share(tmp_path, value).http.unready_share == expected


@pytest.mark.parametrize("value", ["0", "1.5", "half"])
def test_an_unready_share_outside_0_to_1_is_refused_with_its_line(tmp_path, value):
    with pytest.raises(ConfigError, match=r"syncd\.yaml:\d+: http\.unready_share: must be"):
        _settings_with_share(tmp_path, value)


def _settings_with_share(tmp_path, value):
    from syncd.edges.config import Settings

    (tmp_path / "key").write_text("k")
    share = f"\n  unready_share: {value}" if value is not None else ""
    (tmp_path / "syncd.yaml").write_text(
        "sites:\n  - {name: eu, site_id: eu, api_key_file: key}\n"
        f"source: {{path: stock.csv}}\nhttp:\n  listen: 127.0.0.1:0{share}\n")
    return Settings.from_file(tmp_path / "syncd.yaml", env={})
