"""The customer's side of orders in the store mall: her cart, checkout, the sandbox payment,
tracking, cancel/confirm/return, reorder and her referral link."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.core.signing import get_cookie_signer
from django.test import Client
from django.urls import reverse

from siyu.catalog import services as catalog
from siyu.inventory import services as stock
from siyu.members import views_scan
from siyu.members.models import Customer
from siyu.orders import services as orders
from siyu.orders.models import Order
from siyu.org import services as org
from siyu.platform import clock

T0 = dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.UTC)
ADDRESS = {
    "mode": "delivery",
    "recipient": "王芳",
    "phone": "13900001234",
    "city": "上海",
    "district": "杨浦区",
    "address": "国定路 1 号",
    "latitude": "31.301",
    "longitude": "121.515",
}


@pytest.fixture
def shop(world: Any) -> dict[str, Any]:
    hq = org.hq_scope(world.brand.pk, "mall test")
    cat = catalog.create_category(hq, code="RUN", name="跑鞋")
    runner = catalog.create_product(
        hq,
        category_id=cat.pk,
        code="R100",
        name="飞跃跑鞋",
        price_fen=39900,
        skus=[catalog.NewSku(code=f"R100-{s}", color="白", size=s) for s in ("40", "41")],
    )
    socks = catalog.create_product(
        hq, category_id=cat.pk, code="S1", name="运动袜", price_fen=1500, skus=[catalog.NewSku("S1-M", "黑", "M")]
    )
    a, b = runner.skus.order_by("code").values_list("pk", flat=True)
    sock = socks.skus.get().pk
    stock.receive(hq, world.flagship.pk, {a: 2, sock: 10}, key="G1")
    stock.receive(hq, world.sh2.pk, {a: 1, b: 1}, key="G2")
    catalog.set_store_prices(hq, sku_id=a, store_id=world.sh2.pk, price_fen=35900)
    return {"a": a, "b": b, "sock": sock, "hq": hq, "runner": runner}


def me(world: Any) -> int:
    return int(world.customers["chen.guide"][0])


def sign_in(client: Client, customer_id: int) -> None:
    """The scan flow's signed cookie, as a scan would leave it."""
    name = views_scan.CUSTOMER_COOKIE
    client.cookies[name] = get_cookie_signer(salt=name + views_scan.SALT).sign(str(customer_id))


def url(name: str, *args: Any) -> str:
    return reverse(name, args=["SH001", *args])


# --- cart services ----------------------------------------------------------------------------------
def test_the_cart_prices_lines_at_the_store_and_shows_city_stock(world: Any, shop: dict[str, Any]) -> None:
    bid, cid = world.brand.pk, me(world)
    assert orders.add_to_cart(bid, cid, shop["a"], 1) == 1
    assert orders.add_to_cart(bid, cid, shop["a"], "2") == 3  # adds to the line
    orders.add_to_cart(bid, cid, shop["sock"], 1)
    here = orders.cart_of(bid, cid, store_id=world.flagship.pk, city="上海")
    assert [(ln.sku_id, ln.quantity, ln.unit_price_fen, ln.available) for ln in here.lines] == [
        (shop["a"], 3, 39900, 3),
        (shop["sock"], 1, 1500, 10),
    ]
    assert here.items_fen == 3 * 39900 + 1500 and here.orderable
    at_sh2 = orders.cart_of(bid, cid, store_id=world.sh2.pk, city="上海")
    assert at_sh2.lines[0].unit_price_fen == 35900  # the store's own price
    orders.set_cart_quantity(bid, cid, shop["a"], 4)
    short = orders.cart_of(bid, cid, store_id=world.flagship.pk, city="上海")
    assert short.lines[0].short == 1 and not short.orderable
    orders.set_cart_quantity(bid, cid, shop["a"], "0")
    assert [ln.sku_id for ln in orders.cart_of(bid, cid, store_id=world.flagship.pk, city="上海").lines] == [
        shop["sock"]
    ]
    for bad in (0, 100, "x"):
        with pytest.raises(ValidationError):
            orders.add_to_cart(bid, cid, shop["sock"], bad)
    with pytest.raises(ValidationError):
        orders.add_to_cart(bid, cid, 999_999, 1)  # not a SKU of the brand
    orders.remove_from_cart(bid, cid, shop["sock"])
    assert orders.cart_units(bid, cid) == 0


def test_checkout_places_the_order_and_empties_only_what_was_ordered(world: Any, shop: dict[str, Any]) -> None:
    bid, cid = world.brand.pk, me(world)
    orders.add_to_cart(bid, cid, shop["a"], 4)
    with pytest.raises(orders.OutOfStock):  # 3 in the city: nothing changes
        orders.checkout(bid, cid, store_id=world.flagship.pk, city="上海", delivery=orders.Delivery(**_delivery()))
    assert orders.cart_units(bid, cid) == 4 and not Order.objects.exists()
    orders.set_cart_quantity(bid, cid, shop["a"], 2)
    info = orders.checkout(bid, cid, store_id=world.flagship.pk, city="上海", delivery=orders.Delivery(**_delivery()))
    assert info.items_fen == 2 * 39900 and orders.cart_units(bid, cid) == 0
    with pytest.raises(ValidationError):
        orders.checkout(bid, cid, store_id=world.flagship.pk, city="上海", delivery=orders.Delivery(**_delivery()))


def _delivery() -> dict[str, Any]:
    return {
        "recipient": "王芳",
        "phone": "13900001234",
        "city": "上海",
        "address": "国定路 1 号",
        "latitude": 31.301,
        "longitude": 121.515,
    }


# --- pages --------------------------------------------------------------------------------------------
def test_she_orders_pays_in_the_sandbox_and_tracks_her_parcel(
    client: Client, world: Any, shop: dict[str, Any], scope_of: Any
) -> None:
    sign_in(client, me(world))
    with clock.frozen(T0):
        assert client.post(url("mall_cart_add"), {"sku": shop["a"], "quantity": 1}).status_code == 302
        cart = client.get(url("mall_cart")).content.decode()
        assert "飞跃跑鞋" in cart and "¥399.00" in cart
        form = client.get(url("mall_checkout")).content.decode()
        assert "五角场店" in form and "南京西路旗舰店" in form  # pickup choices of the city
        placed = client.post(url("mall_checkout"), {**ADDRESS, "client_key": "k1"})
        assert placed.status_code == 302
        number = Order.objects.get().number
        assert placed["Location"] == url("mall_pay", number)
        pay_page = client.get(url("mall_pay", number)).content.decode()
        assert "15" in pay_page and 'value="pay"' in pay_page and 'value="fail"' in pay_page
        failed = client.post(url("mall_pay", number), {"outcome": "fail", "key": "x1"})
        assert failed.status_code == 400 and Order.objects.get().status == "created"
        assert client.post(url("mall_pay", number), {"outcome": "pay", "key": "x2"}).status_code == 302
    assert Order.objects.get().status == "allocated"
    order = Order.objects.get()
    parcel = order.fulfilments.get()
    assert parcel.store_id == world.sh2.pk  # the nearest store holding it
    store_guide = scope_of(world.other_guide)  # 孙丽 of 五角场店 packs and ships it
    orders.pack(store_guide, parcel.pk)
    orders.ship(store_guide, parcel.pk, carrier="顺丰", tracking_no="SF1234")
    page = client.get(url("mall_order", number)).content.decode()
    assert "五角场店" in page and "SF1234" in page
    assert re.search(r"\d+(\.\d)? ?(m|km|米|公里)", page)  # the distance of the parcel (en or zh-Hans)
    assert client.post(url("mall_order", number), {"action": "confirm"}).status_code == 302
    assert Order.objects.get().status == "completed"
    assert client.post(url("mall_order", number), {"action": "return", "reason": "尺码不合适"}).status_code == 302
    assert Order.objects.get().status == "return_requested"
    mine = client.get(url("mall_orders")).content.decode()
    assert number in mine


def test_out_of_stock_at_checkout_names_the_item_and_what_is_left(
    client: Client, world: Any, shop: dict[str, Any]
) -> None:
    sign_in(client, me(world))
    client.post(url("mall_cart_add"), {"sku": shop["b"], "quantity": 1})
    stock.adjust(shop["hq"], world.sh2.pk, shop["b"], counted=0, reason="损坏", key="adj")
    answer = client.post(url("mall_checkout"), ADDRESS)
    html = answer.content.decode()
    assert answer.status_code == 400 and "飞跃跑鞋" in html and "41" in html
    assert not Order.objects.exists() and orders.cart_units(world.brand.pk, me(world)) == 1


def test_pickup_cancel_and_reorder(client: Client, world: Any, shop: dict[str, Any]) -> None:
    sign_in(client, me(world))
    client.post(url("mall_cart_add"), {"sku": shop["sock"], "quantity": 2})
    placed = client.post(url("mall_checkout"), {"mode": "pickup", "pickup_store": world.flagship.pk})
    assert placed.status_code == 302
    order = Order.objects.get()
    assert (order.mode, order.pickup_store_id, order.shipping_fen) == ("pickup", world.flagship.pk, 0)
    assert client.post(url("mall_order", order.number), {"action": "cancel"}).status_code == 302
    assert Order.objects.get().status == "cancelled"
    assert stock.city_stock(world.brand.pk, "上海", [shop["sock"]]) == {shop["sock"]: 10}
    assert client.post(url("mall_reorder", order.number)).status_code == 302
    assert orders.cart_units(world.brand.pk, me(world)) == 2


def test_another_customers_order_is_not_found(client: Client, world: Any, shop: dict[str, Any]) -> None:
    theirs = orders.place_order(
        world.brand.pk,
        int(world.customers["sun.guide"][0]),
        store_id=world.flagship.pk,
        lines=[orders.NewLine(shop["sock"], 1)],
        delivery=orders.Delivery(**_delivery()),
    )
    sign_in(client, me(world))
    for name in ("mall_order", "mall_pay"):
        assert client.get(url(name, theirs.number)).status_code == 404
    assert client.post(url("mall_reorder", theirs.number)).status_code == 404
    assert client.post(url("mall_order", theirs.number), {"action": "cancel"}).status_code == 404
    assert Order.objects.get().status == "created"


def test_a_new_visitor_becomes_a_customer_when_she_fills_her_cart(
    client: Client, world: Any, shop: dict[str, Any]
) -> None:
    before = Customer.objects.filter(brand=world.brand).count()
    assert client.post(url("mall_cart_add"), {"sku": shop["sock"], "quantity": 1}).status_code == 302
    assert Customer.objects.filter(brand=world.brand).count() == before + 1
    assert "运动袜" in client.get(url("mall_cart")).content.decode()  # remembered by the scan cookie
    client.post(url("mall_cart_add"), {"sku": shop["sock"], "quantity": 1})
    assert Customer.objects.filter(brand=world.brand).count() == before + 1


def test_an_order_through_a_share_link_records_the_link_and_its_guide(
    client: Client, world: Any, shop: dict[str, Any]
) -> None:
    sharer = Customer.objects.get(pk=int(world.customers["sun.guide"][0]))
    sign_in(client, sharer.pk)
    page = client.get(reverse("mall_share", args=["SH001", "R100"])).content.decode()
    token = re.search(r"\?c=([\w-]+)", page)
    assert token is not None
    friend = Client()
    sign_in(friend, me(world))
    friend.get(reverse("mall_store", args=["SH001"]) + f"?c={token.group(1)}")
    friend.post(url("mall_cart_add"), {"sku": shop["sock"], "quantity": 1})
    assert friend.post(url("mall_checkout"), ADDRESS).status_code == 302
    order = Order.objects.get()
    assert order.code is not None and order.code.token == token.group(1)
    assert order.guide_id == sharer.guide_id == world.other_guide.pk
    # her own link brings nothing
    client.get(reverse("mall_store", args=["SH001"]) + f"?c={token.group(1)}")
    client.post(url("mall_cart_add"), {"sku": shop["sock"], "quantity": 1})
    client.post(url("mall_checkout"), ADDRESS)
    own = Order.objects.filter(customer=sharer).get()
    assert own.code_id is None


def test_pages_ask_an_unknown_visitor_to_come_in_first(client: Client, world: Any, shop: dict[str, Any]) -> None:
    for name in ("mall_orders", "mall_checkout"):
        html = client.get(url(name)).content.decode()
        assert reverse("mall_store", args=["SH001"]) in html
    assert client.get(reverse("mall_cart", args=["NOPE"])).status_code == 404
