"""The catalog through the REST API: HQ and brand-wide systems create and change products with their
SKUs, set store prices and upload pictures; every caller of the brand reads and searches; errors
name the field and change nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from siyu.catalog import services as catalog
from siyu.catalog.models import Product, ProductImage, Sku, StorePrice
from siyu.org import services as org
from tests.catalog_factory import Range, make_range, png

pytestmark = pytest.mark.django_db


@pytest.fixture
def rng(world: Any, settings: Any, tmp_path: Path) -> Range:
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.LANGUAGE_CODE = "en"
    return make_range(world)


def token(world: Any, *perms: str, store: Any = None) -> dict[str, str]:
    _t, secret = org.issue_token(org.hq_scope(world.brand.pk), name="ERP", perms=list(perms), store=store)
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


def post(client: Client, name: str, body: dict[str, Any], headers: dict[str, str], **kwargs: Any) -> Any:
    return client.post(reverse(name, kwargs=kwargs), body, content_type="application/json", **headers)


def test_an_erp_creates_a_product_with_its_skus(world: Any, rng: Range, client: Client) -> None:
    erp = token(world, "catalog.manage")
    body = {
        "category": "SHOES",
        "code": "FY-TRAIL-01",
        "name": "越野跑鞋",
        "role": "member",
        "price_fen": 79900,
        "description": "抓地大底",
        "skus": [
            {"code": "FY-TRAIL-01-GRN-41", "color": "绿", "size": "41", "barcode": "6902000000011"},
            {"code": "FY-TRAIL-01-GRN-42", "color": "绿", "size": "42"},
        ],
    }
    response = post(client, "api:product_create", body, erp)
    assert response.status_code == 201, response.content
    out = response.json()
    assert (out["code"], out["price_fen"], out["role"], out["description"]) == (
        "FY-TRAIL-01",
        79900,
        "member",
        "抓地大底",
    )
    assert [s["code"] for s in out["skus"]] == ["FY-TRAIL-01-GRN-41", "FY-TRAIL-01-GRN-42"] and out["images"] == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"category": "NOPE"}, "category"),
        ({"price_fen": 0}, "price_fen"),
        ({"price_fen": 9.99}, "price_fen"),
        ({"role": "vip"}, "role"),
        ({"skus": [{"code": "FY-RUN-01-BLK-41", "color": "黑", "size": "41"}]}, "code"),
        ({"skus": [{"code": "A", "color": "黑", "size": "41"}, {"code": "A", "color": "白", "size": "41"}]}, "skus"),
        ({"colour": "typo"}, "colour"),
    ],
)
def test_a_bad_product_names_the_field_and_creates_nothing(
    world: Any, rng: Range, client: Client, change: dict[str, Any], field: str
) -> None:
    world.login(client, "hq_operator")
    body = {"category": "SHOES", "code": "FY-X", "name": "X", "price_fen": 100, **change}
    response = post(client, "api:product_create", body, {})
    assert response.status_code == 422, response.content
    assert field in {e["field"].split(".")[-1] for e in response.json()["errors"]} | {
        e["field"].split(".")[0] for e in response.json()["errors"]
    }, response.json()
    assert not Product.objects.filter(code="FY-X").exists() and not Sku.objects.filter(code="A").exists()


def test_an_update_changes_facts_and_adds_or_changes_skus_by_code(world: Any, rng: Range, client: Client) -> None:
    world.login(client, "hq_admin")
    url = reverse("api:product_update", kwargs={"product_id": rng.tee.pk})
    body = {
        "price_fen": 11900,
        "active": False,
        "skus": [
            {"code": "FY-TEE-01-BLK-M", "color": "黑", "size": "M", "barcode": "6903000000010"},
            {"code": "FY-TEE-01-WHT-M", "color": "白", "size": "M"},
        ],
    }
    response = client.patch(url, body, content_type="application/json")
    assert response.status_code == 200, response.content
    assert response.json()["price_fen"] == 11900 and not response.json()["active"]
    assert Sku.objects.get(code="FY-TEE-01-BLK-M").barcode == "6903000000010"
    assert rng.tee.skus.count() == 5
    refused = client.patch(url, {"name": None}, content_type="application/json")
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "name"
    gone = client.patch(
        reverse("api:product_update", kwargs={"product_id": rng.rival.pk}), {}, content_type="application/json"
    )
    assert gone.status_code == 404


def test_search_prices_the_cards_at_a_store(world: Any, rng: Range, client: Client) -> None:
    world.login(client, "guide_a")
    black_41 = rng.runner.skus.get(code="FY-RUN-01-BLK-41")
    catalog.set_store_prices(rng.hq, sku_id=black_41.pk, store_id=world.flagship.pk, price_fen=45900)
    url = reverse("api:product_search")
    found = client.get(url, {"q": "疾风", "store": world.flagship.pk}).json()
    assert found["count"] == 1
    [card] = found["items"]
    assert (card["code"], card["min_price_fen"], card["max_price_fen"]) == ("FY-RUN-01", 45900, 59900)
    assert client.get(url, {"store": world.rival_store.pk}).status_code == 422
    assert client.get(url, {"q": "帆布"}).json()["count"] == 0  # off sale


def test_store_prices_are_set_and_cleared_through_the_api(world: Any, rng: Range, client: Client) -> None:
    erp = token(world, "catalog.manage")
    url = "api:store_price_set"
    body = {"product_id": rng.runner.pk, "region_id": world.east.pk, "price_fen": 52900}
    assert post(client, url, body, erp).json() == {"changed": 3 * 4}
    assert StorePrice.objects.filter(price_fen=52900).count() == 12
    bad = post(client, url, {"product_id": rng.runner.pk, "city": "北京", "price_fen": 1}, erp)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "city"
    both = post(client, url, {"sku_id": 1, "product_id": rng.runner.pk, "store_id": world.flagship.pk}, erp)
    assert both.status_code == 422 and both.json()["errors"][0]["field"] == "sku_id"
    cleared = post(client, url, {"product_id": rng.runner.pk, "city": "上海"}, erp)
    assert cleared.json() == {"changed": 8} and StorePrice.objects.count() == 4


def test_a_picture_is_uploaded_as_multipart(world: Any, rng: Range, client: Client) -> None:
    erp = token(world, "catalog.manage")
    url = reverse("api:image_upload", kwargs={"product_id": rng.runner.pk})
    ok = client.post(url, {"file": SimpleUploadedFile("a.webp", png(), "image/webp"), "alt": "正面"}, **erp)
    assert ok.status_code == 201, ok.content
    assert ok.json()["url"].endswith(".png") and ok.json()["position"] == 0 and ok.json()["alt"] == "正面"
    bad = client.post(url, {"file": SimpleUploadedFile("a.png", b"GIF89a....", "image/png")}, **erp)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "file"
    assert ProductImage.objects.count() == 1


def test_who_may_write(world: Any, rng: Range, client: Client) -> None:
    body = {"category": "SHOES", "code": "FY-Y", "name": "Y", "price_fen": 100}
    reader = token(world, "catalog.view")
    assert post(client, "api:product_create", body, reader).status_code == 403
    store_token = token(world, "catalog.manage", store=world.flagship)  # a store's system is not HQ
    assert post(client, "api:product_create", body, store_token).status_code == 403
    world.login(client, "region_manager")
    assert post(client, "api:product_create", body, {}).status_code == 403
    assert not Product.objects.filter(code="FY-Y").exists()
    detail = client.get(reverse("api:product_detail", kwargs={"product_id": rng.runner.pk})).json()
    assert [s["code"] for s in detail["skus"]][:2] == ["FY-RUN-01-BLK-41", "FY-RUN-01-BLK-42"]
