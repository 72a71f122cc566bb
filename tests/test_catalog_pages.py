"""The HQ catalog pages: HQ finds, creates and edits products, SKUs, pictures, store prices and
categories through forms whose mistakes land on the field and change nothing; the region and store
managers read the catalog and cannot change it; exports are the import's columns."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from siyu.catalog import services as catalog
from siyu.catalog.models import Category, Product, ProductImage, Sku, StorePrice
from tests.catalog_factory import Range, make_range, png

pytestmark = pytest.mark.django_db


@pytest.fixture
def rng(world: Any, settings: Any, tmp_path: Path) -> Range:
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.LANGUAGE_CODE = "en"  # messages are checked in English; the default language is zh-hans
    return make_range(world)


def body(response: Any) -> str:
    return response.content.decode()


# --- the list ----------------------------------------------------------------------------------
def test_hq_searches_the_list_by_name_code_sku_and_barcode(world: Any, rng: Range, client: Client) -> None:
    world.login(client, "hq_operator")
    url = reverse("hq:product_list")
    for q, shown, hidden in [
        ("疾风", "FY-RUN-01", "FY-TEE-01"),
        ("fy-tee", "FY-TEE-01", "FY-RUN-01"),
        ("FY-TEE-01-BLK-XL", "FY-TEE-01", "FY-RUN-01"),
        ("6900000000042", "FY-RUN-01", "FY-TEE-01"),
    ]:
        page = body(client.get(url, {"q": q}))
        assert shown in page and hidden not in page, q
    assert "R-RUN" not in body(client.get(url))  # never the rival's


def test_the_list_filters_by_category_role_and_on_sale(world: Any, rng: Range, client: Client) -> None:
    world.login(client, "hq_admin")
    url = reverse("hq:product_list")
    page = body(client.get(url, {"category": rng.shoes.pk}))
    assert "FY-RUN-01" in page and "FY-OLD-01" in page and "FY-TEE-01" not in page
    page = body(client.get(url, {"role": "traffic"}))
    assert "FY-RUN-01" in page and "FY-TEE-01" not in page
    page = body(client.get(url, {"on_sale": "no"}))
    assert "FY-OLD-01" in page and "FY-RUN-01" not in page


def test_the_list_pages_and_its_queries_do_not_grow_with_the_page(world: Any, rng: Range, client: Client) -> None:
    for i in range(55):
        catalog.create_product(rng.hq, category_id=rng.tees.pk, code=f"FY-BULK-{i:03d}", name=f"批量{i}", price_fen=100)
    world.login(client, "hq_admin")
    first = client.get(reverse("hq:product_list"))
    assert "FY-BULK-000" in body(first) and "?page=2" in body(first)
    with CaptureQueriesContext(connection) as queries:
        client.get(reverse("hq:product_list"), {"page": 2})
    with CaptureQueriesContext(connection) as more:
        client.get(reverse("hq:product_list"))
    assert len(more) == len(queries) < 20


def test_managers_read_the_catalog_without_forms(world: Any, rng: Range, client: Client) -> None:
    for persona in ("region_manager", "store_manager"):
        world.login(client, persona)
        page = body(client.get(reverse("hq:product_detail", args=[rng.runner.pk])))
        assert "FY-RUN-01-BLK-41" in page
        assert 'id="sku-create"' not in page and 'id="price-set"' not in page
        assert client.post(reverse("hq:sku_create", args=[rng.runner.pk]), {"code": "X"}).status_code == 403
        assert client.post(reverse("hq:category_list"), {"code": "X", "name": "X"}).status_code == 403
    assert not Sku.objects.filter(code="X").exists() and not Category.objects.filter(code="X").exists()


# --- products and SKUs -------------------------------------------------------------------------
def test_hq_creates_a_product_with_its_price_in_yuan(world: Any, rng: Range, client: Client) -> None:
    world.login(client, "hq_operator")
    data = {"category": rng.shoes.pk, "code": "FY-NEW-01", "name": "新款跑鞋", "role": "member", "price": "¥1,299.5"}
    response = client.post(reverse("hq:product_create"), {**data, "active": "on", "description": "会员专享"})
    product = Product.objects.get(code="FY-NEW-01")
    assert response.status_code == 302 and response["Location"] == reverse("hq:product_detail", args=[product.pk])
    assert (product.price_fen, product.role, product.active, product.description) == (
        129950,
        "member",
        True,
        "会员专享",
    )


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"price": "12.345"}, "price", "Write a price in yuan"),
        ({"price": "0"}, "price", "between ¥0.01"),
        ({"code": "FY-RUN-01"}, "code", "already used"),
        ({"category": ""}, "category", "required"),
    ],
)
def test_a_bad_product_form_says_what_is_wrong_and_creates_nothing(
    world: Any, rng: Range, client: Client, change: dict[str, str], field: str, message: str
) -> None:
    world.login(client, "hq_operator")
    data = {"category": rng.shoes.pk, "code": "FY-NEW-02", "name": "新款", "role": "regular", "price": "99", **change}
    response = client.post(reverse("hq:product_create"), data)
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert message.lower() in " ".join(errors[field]).lower(), errors
    assert Product.objects.filter(brand=world.brand).count() == 3


def test_hq_edits_a_product_and_its_skus(world: Any, rng: Range, client: Client) -> None:
    world.login(client, "hq_admin")
    edit = reverse("hq:product_edit", args=[rng.tee.pk])
    form = client.get(edit).context["form"]
    assert form.initial["price"] == "129.00"
    data = {"category": rng.tees.pk, "code": "FY-TEE-01", "name": "速干T恤 二代", "role": "fission", "price": "139"}
    assert client.post(edit, data).status_code == 302
    rng.tee.refresh_from_db()
    assert (rng.tee.name, rng.tee.role, rng.tee.price_fen, rng.tee.active) == ("速干T恤 二代", "fission", 13900, False)

    add = reverse("hq:sku_create", args=[rng.tee.pk])
    assert client.post(add, {"code": "FY-TEE-01-WHT-M", "color": "白", "size": "M"}).status_code == 302
    refused = client.post(add, {"code": "FY-RUN-01-BLK-41", "color": "白", "size": "L"})
    assert refused.status_code == 400 and "already used" in " ".join(refused.context["sku_form"].errors["code"])
    refused = client.post(add, {"code": "FY-TEE-01-WHT-L", "color": "白", "size": "L", "barcode": "69-00"})
    assert refused.status_code == 400 and refused.context["sku_form"].errors["barcode"]
    sku = Sku.objects.get(code="FY-TEE-01-WHT-M")
    data = {"code": sku.code, "color": "米白", "size": "M", "barcode": "6900000000099"}
    assert client.post(reverse("hq:sku_edit", args=[sku.pk]), data).status_code == 302
    sku.refresh_from_db()
    assert (sku.color, sku.barcode) == ("米白", "6900000000099")
    assert not Sku.objects.filter(code="FY-TEE-01-WHT-L").exists()


# --- pictures ----------------------------------------------------------------------------------
def test_hq_uploads_orders_and_deletes_pictures(world: Any, rng: Range, client: Client) -> None:
    world.login(client, "hq_operator")
    upload = reverse("hq:image_add", args=[rng.runner.pk])
    for n in (100, 120):
        picture = SimpleUploadedFile("photo.jpg", png(n, n), content_type="image/jpeg")  # the bytes decide: PNG
        assert client.post(upload, {"image": picture, "alt": f"图{n}"}).status_code == 302
    first, second = rng.runner.images.all()
    assert first.image.name.endswith(".png")
    fake = SimpleUploadedFile("x.png", b"<html>not a picture</html>", content_type="image/png")
    refused = client.post(upload, {"image": fake})
    assert refused.status_code == 400 and "PNG, JPEG or WebP" in " ".join(refused.context["image_form"].errors["image"])
    assert rng.runner.images.count() == 2

    client.post(reverse("hq:image_move", args=[second.pk]), {"direction": "up"})
    assert list(rng.runner.images.values_list("pk", flat=True)) == [second.pk, first.pk]
    page = body(client.get(reverse("hq:product_detail", args=[rng.runner.pk])))
    assert page.index(second.image.url) < page.index(first.image.url)
    client.post(reverse("hq:image_delete", args=[second.pk]))
    assert list(ProductImage.objects.values_list("pk", flat=True)) == [first.pk]


# --- store prices ------------------------------------------------------------------------------
def test_hq_sets_a_price_for_a_citys_stores_and_clears_one_store(world: Any, rng: Range, client: Client) -> None:
    world.login(client, "hq_operator")
    set_url = reverse("hq:price_set", args=[rng.runner.pk])
    assert client.post(set_url, {"city": "上海", "price": "549"}).status_code == 302
    prices = StorePrice.objects.filter(sku__product=rng.runner)
    assert prices.count() == 2 * 4 and {p.price_fen for p in prices} == {54900}
    assert {p.store_id for p in prices} == {world.flagship.pk, world.sh2.pk}
    black_41 = rng.runner.skus.get(code="FY-RUN-01-BLK-41")
    client.post(set_url, {"sku": black_41.pk, "region": world.south.pk, "price": "499"})
    assert StorePrice.objects.get(store=world.gz1, sku=black_41).price_fen == 49900

    clear = reverse("hq:price_clear", args=[rng.runner.pk])
    assert client.post(clear, {"clear-store": world.sh2.pk}).status_code == 302
    assert not StorePrice.objects.filter(store=world.sh2).exists()
    page = body(client.get(reverse("hq:product_detail", args=[rng.runner.pk])))
    assert "¥549.00" in page and "¥499.00" in page


def test_a_store_price_needs_one_place_and_a_price(world: Any, rng: Range, client: Client) -> None:
    world.login(client, "hq_operator")
    set_url = reverse("hq:price_set", args=[rng.runner.pk])
    both = client.post(set_url, {"store": world.flagship.pk, "city": "上海", "price": "1"})
    assert both.status_code == 400 and both.context["price_form"].errors["store"]
    none = client.post(set_url, {"price": "1"})
    assert none.status_code == 400 and none.context["price_form"].errors["store"]
    bad = client.post(set_url, {"store": world.flagship.pk, "price": "1.001"})
    assert bad.status_code == 400 and bad.context["price_form"].errors["price"]
    assert not StorePrice.objects.exists()


# --- categories --------------------------------------------------------------------------------
def test_hq_adds_and_renames_categories(world: Any, rng: Range, client: Client) -> None:
    world.login(client, "hq_operator")
    url = reverse("hq:category_list")
    assert client.post(url, {"code": "BAGS", "name": "背包"}).status_code == 302
    dup = client.post(url, {"code": "BAGS", "name": "包"})
    assert dup.status_code == 400 and dup.context["form"].errors["code"]
    bags = Category.objects.get(brand=world.brand, code="BAGS")
    assert client.post(reverse("hq:category_edit", args=[bags.pk]), {"code": "BAGS", "name": "箱包"}).status_code == 302
    page = body(client.get(url))
    assert "箱包" in page and "Shoes" not in page  # the rival's category is not listed


# --- exports -----------------------------------------------------------------------------------
def test_the_export_is_the_filtered_list_one_row_per_sku(world: Any, rng: Range, client: Client) -> None:
    world.login(client, "region_manager")  # a reader may export what she reads
    response = client.get(reverse("hq:product_export_csv"), {"category": rng.tees.pk})
    lines = b"".join(response.streaming_content).decode("utf-8-sig").splitlines()  # type: ignore[attr-defined]
    assert lines[0] == "style_code,name,category,role,price,sku_code,color,size,barcode,on_sale"
    assert sorted(lines[1:]) == [
        f"FY-TEE-01,速干T恤,TEES,regular,129.00,FY-TEE-01-BLK-{s},黑,{s},,yes" for s in sorted(["L", "M", "S", "XL"])
    ]

    xlsx = client.get(reverse("hq:product_export_xlsx"), {"q": "疾风"})
    assert xlsx["Content-Type"].startswith("application/vnd.openxmlformats")
    sheet = openpyxl.load_workbook(io.BytesIO(b"".join(xlsx.streaming_content))).active  # type: ignore[attr-defined]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == "style_code" and len(rows) == 1 + 4
    assert {r[5] for r in rows[1:]} == {s.code for s in rng.runner.skus.all()}
