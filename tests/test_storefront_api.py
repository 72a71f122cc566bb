"""The store mall's API: the mini-program reads a store's page and its products without
credentials; HQ pushes a page template to stores (or previews the push)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from siyu.catalog import storefront
from siyu.org import services as org
from siyu.platform.models import AuditEntry
from tests.storefront_factory import Mall, _empty_cache, make_mall  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture
def mall(world: Any) -> Mall:
    return make_mall(world)


def test_anyone_reads_a_store_page_with_its_distance(world: Any, mall: Mall) -> None:
    with CaptureQueriesContext(connection) as queries:
        answer = Client().get("/api/v1/mall/stores/SH001?lat=31.3010&lng=121.5120")
    assert answer.status_code == 200, answer.content
    assert len(queries) <= 12
    page = answer.json()
    assert page["store"]["code"] == "SH001" and page["store"]["city"] == "上海"
    assert page["store"]["distance_m"] == pytest.approx(9_450, abs=300)
    assert page["store"]["map_url"].startswith("https://uri.amap.com/marker?")
    assert page["headline"] == "旗舰店周末跑团" and page["template"] == "Standard"
    assert [g["name"] for g in page["guides"]] == ["陈静", "刘洋"]
    assert [(f["product"]["code"], f["own"]) for f in page["featured"]] == [("FY-RUN-01", True), ("FY-TEE-01", False)]
    assert page["featured"][0]["product"]["min_price_fen"] == 59900
    assert [(b["title"], b["product_code"]) for b in page["banners"]] == [("春季新品", "FY-RUN-01")]
    assert Client().get("/api/v1/mall/stores/SH001").json()["store"]["distance_m"] is None


def test_anyone_pages_through_a_stores_products_priced_there(world: Any, mall: Mall) -> None:
    from siyu.catalog import services as catalog

    catalog.set_store_prices(mall.hq, price_fen=10900, sku_id=mall.skus["FY-TEE-01-BLK-M"], store_id=world.gz1.pk)
    answer = Client().get("/api/v1/mall/stores/GZ001/products?limit=1&offset=0")
    assert answer.status_code == 200
    body = answer.json()
    assert body["count"] == 2 and len(body["items"]) == 1
    tees = Client().get("/api/v1/mall/stores/GZ001/products?category=TEES").json()["items"]
    assert [(t["code"], t["min_price_fen"], t["max_price_fen"]) for t in tees] == [("FY-TEE-01", 10900, 12900)]
    assert Client().get("/api/v1/mall/stores/GZ001/products?q=疾风").json()["count"] == 1


def test_a_closed_or_unknown_store_is_404_and_bad_input_422(world: Any, mall: Mall) -> None:
    org.set_store_status(mall.hq, world.sh2.pk, "closed")
    assert Client().get("/api/v1/mall/stores/SH002").status_code == 404
    assert Client().get("/api/v1/mall/stores/NOPE/products").status_code == 404
    bad = Client().get("/api/v1/mall/stores/SH001?lat=95&lng=121")
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "lat"


def _push(client: Client, body: dict[str, Any], **headers: Any) -> Any:
    return client.post("/api/v1/store-pages/push", json.dumps(body), content_type="application/json", **headers)


def test_hq_previews_then_pushes_a_template_through_the_api(world: Any, mall: Mall) -> None:
    outlet = storefront.create_template(mall.hq, name="Outlet")
    client = world.login(Client(), "hq_operator")
    preview = _push(client, {"template_id": outlet.pk, "region_ids": [world.south.pk], "dry_run": True})
    assert preview.status_code == 200
    assert preview.json()["pushed"] is False
    assert [c["store_code"] for c in preview.json()["changed"]] == ["GZ001"]
    assert not AuditEntry.objects.filter(action="store_page.push", after__template=outlet.pk).exists()
    done = _push(client, {"template_id": outlet.pk, "cities": ["广州", "上海"]})
    body = done.json()
    assert body["pushed"] is True
    assert [(c["store_code"], c["current_template"]) for c in body["changed"]] == [
        ("GZ001", ""),
        ("SH001", "Standard"),
        ("SH002", "Standard"),
    ]
    assert AuditEntry.objects.filter(action="store_page.push", after__template=outlet.pk).count() == 3


def test_a_push_without_stores_or_of_another_brands_template_changes_nothing(world: Any, mall: Mall) -> None:
    client = world.login(Client(), "hq_admin")
    empty = _push(client, {"template_id": mall.standard.pk})
    assert empty.status_code == 422 and empty.json()["errors"][0]["field"] == "stores"
    rival = storefront.create_template(org.hq_scope(world.rival_brand.pk, "rival"), name="Rival")
    foreign = _push(client, {"template_id": rival.pk, "every": True})
    assert foreign.status_code == 422 and foreign.json()["errors"][0]["field"] == "template"
    unknown = _push(client, {"template_id": mall.standard.pk, "every": True, "colour": "red"})
    assert unknown.status_code == 422
    zhou = world.login(Client(), "region_manager")  # a region manager edits pages but pushes no template
    assert _push(zhou, {"template_id": mall.standard.pk, "every": True}).status_code == 403
