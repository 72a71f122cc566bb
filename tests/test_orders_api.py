"""The orders API: a system places an order for a customer, pays it in the sandbox and reads it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from siyu.catalog import services as catalog
from siyu.inventory import services as stock
from siyu.orders.models import Order
from siyu.org import services as org
from siyu.org.services import Perm


@pytest.fixture
def shop(world: Any) -> dict[str, Any]:
    hq = org.hq_scope(world.brand.pk, "api test")
    cat = catalog.create_category(hq, code="RUN", name="跑鞋")
    p = catalog.create_product(
        hq,
        category_id=cat.pk,
        code="R100",
        name="飞跃跑鞋",
        price_fen=39900,
        skus=[catalog.NewSku("R100-41", "白", "41")],
    )
    sku = p.skus.get().pk
    stock.receive(hq, world.flagship.pk, {sku: 2}, key="G1")
    stock.receive(hq, world.sh2.pk, {sku: 1}, key="G2")
    return {"sku": sku, "hq": hq}


def token(world: Any, *perms: str, store: Any = None) -> str:
    _, secret = org.issue_token(world.staff["hq_admin"].scope, name="mp backend", perms=perms, store=store)
    return secret


def call(client: Client, method: str, path: str, secret: str, body: Any = None) -> Any:
    return client.generic(
        method,
        "/api/v1" + path,
        json.dumps(body) if body is not None else "",
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )


def body(world: Any, **kw: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "customer_id": int(world.customers["chen.guide"][0]),
        "store": "SH001",
        "lines": [{"sku_code": "R100-41", "quantity": 1}],
        "delivery": {
            "recipient": "王芳",
            "phone": "13900001234",
            "city": "上海",
            "address": "国定路 1 号",
            "latitude": 31.301,
            "longitude": 121.515,
        },
        "client_key": "mp-1",
    }
    data.update(kw)
    return data


def test_a_system_places_pays_and_reads_an_order(client: Client, world: Any, shop: dict[str, Any]) -> None:
    secret = token(world, Perm.ORDERS_PLACE, Perm.ORDERS_VIEW)
    placed = call(client, "POST", "/orders", secret, body(world))
    assert placed.status_code == 201, placed.content
    order = placed.json()
    assert order["status"] == "created" and order["channel"] == "api" and order["total_fen"] == 39900
    assert order["fulfilments"][0]["store_id"] == world.sh2.pk and order["fulfilments"][0]["distance_m"] < 1000
    again = call(client, "POST", "/orders", secret, body(world))  # the same client key: the same order
    assert again.status_code == 201 and again.json()["number"] == order["number"] and Order.objects.count() == 1
    paid = call(client, "POST", f"/orders/{order['number']}/pay", secret, {"key": "pay-1"})
    assert paid.status_code == 200 and paid.json()["status"] == "allocated"
    got = call(client, "GET", f"/orders/{order['number']}", secret)
    assert got.json()["events"][0]["status"] == "created"
    mine = call(client, "GET", f"/customers/{order['customer_id']}/orders", secret)
    assert [o["number"] for o in mine.json()] == [order["number"]]


def test_not_enough_stock_is_a_422_per_sku_and_holds_nothing(client: Client, world: Any, shop: dict[str, Any]) -> None:
    secret = token(world, Perm.ORDERS_PLACE)
    answer = call(client, "POST", "/orders", secret, body(world, lines=[{"sku_id": shop["sku"], "quantity": 4}]))
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["field"] == "lines" and "R100-41" in answer.json()["errors"][0]["message"]
    assert not Order.objects.exists()
    assert stock.city_stock(world.brand.pk, "上海", [shop["sku"]]) == {shop["sku"]: 3}
    unknown = call(client, "POST", "/orders", secret, body(world, lines=[{"sku_code": "NOPE", "quantity": 1}]))
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "lines.0"
    pickup = call(client, "POST", "/orders", secret, body(world, mode="pickup", delivery=None, pickup_store="ZZ9"))
    assert pickup.status_code == 422 and pickup.json()["errors"][0]["field"] == "pickup_store"


def test_a_store_token_places_from_its_own_store_only(client: Client, world: Any, shop: dict[str, Any]) -> None:
    secret = token(world, Perm.ORDERS_PLACE, store=world.sh2.pk)
    answer = call(client, "POST", "/orders", secret, body(world))
    assert answer.status_code == 422 and answer.json()["errors"][0]["field"] == "store"
    assert call(client, "POST", "/orders", secret, body(world, store="SH002")).status_code == 201


def test_a_rival_brands_customer_or_order_is_not_found(client: Client, world: Any, shop: dict[str, Any]) -> None:
    secret = token(world, Perm.ORDERS_PLACE, Perm.ORDERS_VIEW)
    assert call(client, "GET", "/orders/000", secret).status_code == 404
    assert call(client, "POST", "/orders/000/pay", secret, {"key": "k"}).status_code == 404
    rival = world.customers[world.rival_guide.username][0]
    assert call(client, "GET", f"/customers/{rival}/orders", secret).status_code == 404
    placed = call(client, "POST", "/orders", secret, body(world, customer_id=rival))
    assert placed.status_code == 422 and placed.json()["errors"][0]["field"] == "customer"
