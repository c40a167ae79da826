"""Behaviour shared by every Wix route: prefixes, auth, rate limit, catalog gate, SDK form."""

from __future__ import annotations

import asyncio
import json

import pytest

from .conftest import AUTH, Connect, Wix

MUG_SKU = "MUG-CLASSIC"


def _mug(w: Wix) -> dict:
    return w.row(sku=MUG_SKU)


class TestPrefixes:
    @pytest.mark.parametrize("prefix", ["/stores", "/stores-reader"])
    async def test_v1_and_v2_reads_answer_under_both_prefixes(self, v1: Wix, prefix: str):
        """Every V1/V2 read is served under /stores/ and /stores-reader/ alike."""
        mug = _mug(v1)
        pid, inv = mug["product_id"], mug["inventory_item_id"]
        answers = [
            await v1.get(f"{prefix}/v1/products/{pid}"),
            await v1.post(f"{prefix}/v1/products/query", {"query": {"paging": {"limit": 5}}}),
            await v1.post(f"{prefix}/v1/products/{pid}/variants/query", {}),
            await v1.post(f"{prefix}/v1/variants/query", {"query": {"paging": {"limit": 5}}}),
            await v1.get(f"{prefix}/v1/variants/{pid}-{mug['variant_id']}"),
            await v1.post(f"{prefix}/v2/inventoryItems/{inv}/getVariants", {"inventoryId": inv}),
            await v1.post(f"{prefix}/v2/inventoryItems/query", {"query": {}}),
            await v1.post(f"{prefix}/v1/products/query-platformized", {"query": {}}),
        ]
        assert [a.status for a in answers] == [200] * len(answers)
        assert answers[0].body["product"]["id"] == pid
        assert answers[5].body["inventoryItem"]["productId"] == pid

    async def test_unknown_route_is_a_wix_style_404(self, v1: Wix):
        """A path Wix does not have answers 404 with a Wix error body."""
        answer = await v1.get("/stores/v1/no-such-thing")
        assert answer.status == 404
        assert answer.body["details"]["applicationError"]["code"] == "NOT_FOUND"


class TestAuth:
    ENDPOINTS = [
        ("GET", "/stores/v3/provision/version"),
        ("POST", "/stores-reader/v1/products/query"),
        ("POST", "/stores/v2/inventoryItems/increment"),
    ]

    @pytest.mark.parametrize(("method", "path"), ENDPOINTS)
    @pytest.mark.parametrize("key", [None, "wrong-key", "Bearer demo-key"])
    async def test_missing_or_unknown_api_key_is_401(self, v1: Wix, method, path, key):
        """Authorization must be exactly the API key."""
        headers = {"wix-site-id": "demo-site"} | ({"Authorization": key} if key else {})
        answer = await v1.call(method, path, {} if method == "POST" else None, headers=headers)
        assert answer.status == 401
        assert answer.body["details"]["applicationError"]["code"] == "UNAUTHENTICATED"
        assert answer.body["message"]

    @pytest.mark.parametrize(("method", "path"), ENDPOINTS)
    @pytest.mark.parametrize("site", [None, "other-site"])
    async def test_missing_or_wrong_site_id_is_403(self, v1: Wix, method, path, site):
        """wix-site-id must name the emulated site."""
        headers = {"Authorization": "demo-key"} | ({"wix-site-id": site} if site else {})
        answer = await v1.call(method, path, {} if method == "POST" else None, headers=headers)
        assert answer.status == 403
        assert answer.body["details"]["applicationError"]["code"] == "PERMISSION_DENIED"

    async def test_site_and_account_headers_together_are_refused(self, v1: Wix):
        """Wix takes either wix-site-id or wix-account-id, never both."""
        answer = await v1.get("/stores/v3/provision/version",
                              headers=AUTH | {"wix-account-id": "acc"})
        assert answer.status == 403

    async def test_introspection_needs_no_auth(self, v1: Wix):
        """/__emulator/ routes are outside the Wix API."""
        answer = await v1.get("/__emulator/stats", headers={})
        assert answer.status == 200


class TestRateLimit:
    async def test_request_201_inside_the_window_gets_429_with_wix_body(self, wix: Connect):
        """200 requests per 60 s are accepted; the 201st is refused, without Retry-After."""
        w = await wix(rate_limit=(200, 60.0))
        statuses = [(await w.get("/stores/v3/provision/version")).status for _ in range(200)]
        assert statuses == [200] * 200
        refused = await w.get("/stores/v3/provision/version")
        assert refused.status == 429
        assert refused.body["details"]["applicationError"]["code"] == "RESOURCE_EXHAUSTED"
        assert "rate limit" in refused.body["message"]
        assert "Retry-After" not in refused.headers

    async def test_retry_after_is_sent_when_configured(self, wix: Connect):
        """--retry-after N adds Retry-After: N to every 429."""
        w = await wix(rate_limit=(2, 60.0), retry_after_s=7)
        for _ in range(2):
            assert (await w.get("/stores/v3/provision/version")).status == 200
        refused = await w.get("/stores/v3/provision/version")
        assert refused.status == 429
        assert refused.headers["Retry-After"] == "7"

    async def test_refused_requests_count_in_stats(self, wix: Connect):
        """A 429 is still a request: per endpoint, in the total and as rate_limited."""
        w = await wix(rate_limit=(3, 60.0))
        for _ in range(5):
            await w.get("/stores/v3/provision/version")
        stats = w.emu.stats()
        assert stats["requests"]["GET /stores/v3/provision/version"] == 5
        assert stats["requests_total"] == 5
        assert stats["rate_limited"] == 2

    async def test_window_slides_and_accepts_again_after_it_passes(self, wix: Connect):
        """Once the oldest accepted request leaves the window, the next one is accepted."""
        w = await wix(rate_limit=(2, 0.3))
        assert [(await w.get("/stores/v3/provision/version")).status for _ in range(3)] == [
            200, 200, 429]
        await asyncio.sleep(0.35)
        assert (await w.get("/stores/v3/provision/version")).status == 200

    async def test_rate_limit_can_be_switched_off_at_runtime(self, wix: Connect):
        """POST /__emulator/faults {"rate_limit": "off"} lifts the limit."""
        w = await wix(rate_limit=(1, 60.0))
        await w.get("/stores/v3/provision/version")
        assert (await w.get("/stores/v3/provision/version")).status == 429
        answer = await w.post("/__emulator/faults", {"rate_limit": "off"})
        assert answer.body["rate_limit"] == "off"
        assert (await w.get("/stores/v3/provision/version")).status == 200

    async def test_reset_gives_a_fresh_budget(self, wix: Connect):
        """POST /__emulator/reset empties the rate window."""
        w = await wix(rate_limit=(1, 60.0))
        await w.get("/stores/v3/provision/version")
        assert (await w.get("/stores/v3/provision/version")).status == 429
        await w.post("/__emulator/reset")
        assert (await w.get("/stores/v3/provision/version")).status == 200


class TestCatalogGate:
    @pytest.mark.parametrize(("catalog", "answer"), [
        ("v1", "V1_CATALOG"), ("v3", "V3_CATALOG"), ("none", "STORES_NOT_INSTALLED")])
    async def test_catalog_version_reports_the_sites_catalog(self, wix: Connect, catalog, answer):
        """GET /stores/v3/provision/version answers on every site."""
        w = await wix(catalog=catalog)
        version = await w.get("/stores/v3/provision/version")
        assert version.status == 200
        assert version.body == {"catalogVersion": answer}

    async def test_v3_calls_on_a_v1_site_are_428(self, v1: Wix):
        """Wix answers /stores/v3/ calls on a V1 site with 428."""
        answer = await v1.post("/stores/v3/inventory-items/query", {"query": {}})
        assert answer.status == 428
        assert "Catalog V1" in answer.body["message"]

    async def test_v1_calls_on_a_v3_site_are_428_with_a_clear_message(self, v3: Wix):
        """V1/V2 endpoints on a V3 site are refused with a message naming the catalog."""
        for answer in (
            await v3.post("/stores-reader/v1/products/query", {"query": {}}),
            await v3.post("/stores/v2/inventoryItems/increment", {}),
        ):
            assert answer.status == 428
            assert "Catalog V3" in answer.body["message"]

    async def test_site_without_stores_answers_v1_calls_with_401(self, wix: Connect):
        """STORES_NOT_INSTALLED: V1 calls get 401 (the V1 error table's reading)."""
        w = await wix(catalog="none")
        answer = await w.post("/stores-reader/v1/products/query", {"query": {}})
        assert answer.status == 401


class TestSdkGetForm:
    async def test_v3_query_answers_get_with_base64_request(self, v3: Wix):
        """The SDK's GET ?.r=<base64 JSON> form gives the same page as the POST."""
        request = {"query": {"filter": {"product.variantSku": {"$startsWith": "TSHIRT-RED"}},
                             "cursorPaging": {"limit": 10}}}
        posted = await v3.post("/stores/v3/inventory-items/query", request)
        fetched = await v3.sdk_get("/stores/v3/inventory-items/query", request)
        assert fetched.status == 200
        assert fetched.body == posted.body
        assert len(fetched.body["inventoryItems"]) == 4

    async def test_v3_query_answers_get_with_dotted_keys(self, v3: Wix):
        """Flat requests arrive as dotted keys such as query.cursorPaging.limit=3."""
        answer = await v3.get("/stores/v3/inventory-items/query",
                              params={"query.cursorPaging.limit": "3"})
        assert answer.status == 200
        assert len(answer.body["inventoryItems"]) == 3
        assert answer.body["pagingMetadata"]["cursors"]["next"]

    async def test_query_platformized_answers_the_sdk_get_form(self, v1: Wix):
        """V1 queryProducts(): object filter, sort array, metadata with count/offset/total."""
        request = {"query": {"filter": {"name": {"$startsWith": "Classic"}},
                             "sort": [{"fieldName": "name", "order": "DESC"}],
                             "paging": {"limit": 1}}}
        answer = await v1.sdk_get("/stores-reader/v1/products/query-platformized", request)
        assert answer.status == 200
        assert [p["name"] for p in answer.body["products"]] == ["Classic Mug"]
        assert answer.body["metadata"]["count"] == 1
        assert answer.body["metadata"]["offset"] == 0
        assert answer.body["metadata"]["total"] == 2

    async def test_query_platformized_pages_by_cursor(self, v1: Wix):
        """With cursorPaging, the platformized query hands out next cursors to the end."""
        names = []
        request: dict = {"query": {"cursorPaging": {"limit": 10}}}
        while True:
            answer = await v1.post("/stores-reader/v1/products/query-platformized", request)
            names += [p["name"] for p in answer.body["products"]]
            cursor = answer.body["metadata"]["cursors"]["next"]
            if not cursor:
                break
            request = {"query": {"cursorPaging": {"limit": 10, "cursor": cursor}}}
        visible = {r["product_name"] for r in v1.emu.state() if not r["hidden"]}
        assert sorted(names) == sorted(visible)

    async def test_bad_base64_in_r_is_400(self, v3: Wix):
        """A .r parameter that is not base64 JSON is a validation error."""
        answer = await v3.get("/stores/v3/inventory-items/query", params={".r": "%%%"})
        assert answer.status == 400
        assert answer.body["details"]["validationError"]["fieldViolations"][0]["field"] == ".r"


async def test_server_errors_have_empty_bodies(wix: Connect):
    """5xx answers carry no body, as Wix's system errors."""
    w = await wix(fail_rate=1.0)
    answer = await w.get("/stores/v3/provision/version")
    assert answer.status in (500, 503)
    assert answer.raw == b""


async def test_stats_count_requests_per_endpoint_template(v1: Wix):
    """Stats key requests by method and route template, not by concrete path."""
    for row in v1.rows(sku="MUG-CLASSIC") + v1.rows(sku="TOTE-CANVAS"):
        await v1.get(f"/stores/v1/products/{row['product_id']}")
    stats = v1.emu.stats()
    assert stats["requests"] == {"GET /stores/v1/products/{id}": 2}
    assert json.loads(json.dumps(stats)) == stats
