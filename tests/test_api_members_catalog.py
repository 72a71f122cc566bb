"""Customers and products through the REST API: scoped, masked unless you are her guide, money in fen."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from siyu.catalog import services as catalog
from siyu.demo import personas as P
from siyu.org import services as org

pytestmark = pytest.mark.django_db


def customers(client: Client, query: str = "") -> Any:
    response = client.get(reverse("api:customer_list") + (f"?{query}" if query else ""))
    assert response.status_code == 200, response.content
    return response.json()


def test_a_guide_sees_her_own_customers_unmasked(world: Any, client: Client) -> None:
    world.login(client, "guide_a")
    page = customers(client)
    assert {c["id"] for c in page["items"]} == set(world.customers["chen.guide"])
    assert not any(c["masked"] for c in page["items"])
    mine = customers(client, f"phone={P.CUSTOMER_PHONE}")["items"]
    assert [(c["phone"], c["name"]) for c in mine] == [(P.CUSTOMER_PHONE, P.CUSTOMER_NAME)]


def test_everyone_else_sees_her_masked(world: Any, client: Client) -> None:
    for persona in ("store_manager", "region_manager", "hq_operator"):
        world.login(client, persona)
        [row] = customers(client, f"phone={P.CUSTOMER_PHONE}")["items"]
        assert row["masked"] and row["phone"] == "138****8000" and row["name"] == "张**"
        detail = client.get(reverse("api:customer_detail", kwargs={"customer_id": row["id"]})).json()
        assert detail == row


def test_customer_filters(world: Any, client: Client) -> None:
    world.login(client, "hq_admin")
    assert customers(client)["count"] == 12
    assert customers(client, f"store={world.flagship.pk}")["count"] == 6
    assert customers(client, f"guide={world.other_guide.pk}")["count"] == 3
    assert customers(client, "lifecycle=new")["count"] == 12
    assert customers(client, "lifecycle=dormant")["count"] == 0
    assert customers(client, "phone=not-a-phone")["count"] == 0
    refused = client.get(reverse("api:customer_list") + "?lifecycle=asleep")
    assert refused.status_code == 422
    assert [e["field"] for e in refused.json()["errors"]] == ["lifecycle"]


def test_a_guide_cannot_open_her_colleagues_customer(world: Any, client: Client) -> None:
    world.login(client, "guide_a")
    colleague = world.customers["liu.guide"][0]
    assert client.get(reverse("api:customer_detail", kwargs={"customer_id": colleague})).status_code == 404
    # ...nor widen her list with filters
    assert customers(client, f"guide={world.staff['guide_b'].pk}")["count"] == 0


def test_customer_money_is_integer_fen(world: Any, client: Client) -> None:
    world.login(client, "hq_admin")
    row = customers(client, "limit=1")["items"][0]
    assert isinstance(row["total_spent_fen"], int) and isinstance(row["orders_count"], int)


# --- Catalog ---------------------------------------------------------------------------------
@pytest.fixture
def products(world: Any) -> dict[str, Any]:
    hq = org.hq_scope(world.brand.pk, "test")
    shoes = catalog.create_category(hq, code="SHOES", name="跑鞋")
    tees = catalog.create_category(hq, code="TEES", name="T恤")
    runner = catalog.create_product(
        hq,
        category_id=shoes.pk,
        code="FY-RUN-01",
        name="飞跃疾风跑鞋",
        price_fen=59900,
        role="traffic",
        skus=[
            catalog.NewSku(code="FY-RUN-01-BLK-41", color="黑", size="41", barcode="6900000000011"),
            catalog.NewSku(code="FY-RUN-01-BLK-42", color="黑", size="42", barcode="6900000000028"),
        ],
    )
    tee = catalog.create_product(
        hq, category_id=tees.pk, code="FY-TEE-01", name="速干T恤", price_fen=12900, active=False
    )
    rq = org.hq_scope(world.rival_brand.pk, "test")
    rival_cat = catalog.create_category(rq, code="SHOES", name="Shoes")
    rival = catalog.create_product(rq, category_id=rival_cat.pk, code="R-RUN", name="Rival runner", price_fen=39900)
    return {"runner": runner, "tee": tee, "rival": rival}


def test_products_list_with_price_in_fen(world: Any, client: Client, products: dict[str, Any]) -> None:
    world.login(client, "guide_a")
    page = client.get(reverse("api:product_list")).json()
    assert page["count"] == 2
    runner = next(p for p in page["items"] if p["code"] == "FY-RUN-01")
    assert runner["price_fen"] == 59900 and isinstance(runner["price_fen"], int)
    assert (runner["category_code"], runner["category_name"], runner["role"]) == ("SHOES", "跑鞋", "traffic")
    assert "skus" not in runner


def test_product_filters(world: Any, client: Client, products: dict[str, Any]) -> None:
    world.login(client, "hq_operator")

    def codes(query: str) -> set[str]:
        response = client.get(reverse("api:product_list") + f"?{query}")
        assert response.status_code == 200, response.content
        return {p["code"] for p in response.json()["items"]}

    assert codes("category=TEES") == {"FY-TEE-01"}
    assert codes("active=true") == {"FY-RUN-01"}
    assert codes("active=false") == {"FY-TEE-01"}
    assert codes("q=跑鞋") == {"FY-RUN-01"}
    assert codes("role=traffic") == {"FY-RUN-01"}
    assert client.get(reverse("api:product_list") + "?role=bestseller").status_code == 422


def test_product_detail_has_its_skus(world: Any, client: Client, products: dict[str, Any]) -> None:
    world.login(client, "store_manager")
    response = client.get(reverse("api:product_detail", kwargs={"product_id": products["runner"].pk}))
    assert response.status_code == 200
    detail = response.json()
    assert [(s["code"], s["size"]) for s in detail["skus"]] == [("FY-RUN-01-BLK-41", "41"), ("FY-RUN-01-BLK-42", "42")]
    assert detail["price_fen"] == 59900
    rival = client.get(reverse("api:product_detail", kwargs={"product_id": products["rival"].pk}))
    assert rival.status_code == 404


def test_product_list_queries_do_not_grow_with_rows(
    world: Any, client: Client, products: dict[str, Any], django_assert_max_num_queries: Any
) -> None:
    world.login(client, "hq_admin")
    with django_assert_max_num_queries(4):
        assert client.get(reverse("api:product_list") + "?limit=1").status_code == 200
    with django_assert_max_num_queries(4):
        assert client.get(reverse("api:product_list")).status_code == 200
    with django_assert_max_num_queries(5):
        assert (
            client.get(reverse("api:product_detail", kwargs={"product_id": products["runner"].pk})).status_code == 200
        )
