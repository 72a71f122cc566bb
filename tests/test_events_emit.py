"""Server-side events (ADR 0011): what members and orders do reaches the lake once their transaction
commits, under ids derived from the fact, so a retry never stores it twice."""

from __future__ import annotations

import datetime as dt
from typing import Any

import duckdb
import pytest

from siyu.catalog import services as catalog
from siyu.events import lake
from siyu.events import services as events
from siyu.inventory import services as stock
from siyu.members.codes import create_code, record_touch, scan
from siyu.members.identity import IdentityIn
from siyu.orders import services as orders
from siyu.org import services as org
from siyu.platform import clock

T0 = dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.UTC)
COLUMNS = ("event_id", "type", "customer_id", "store_id", "guide_id", "amount_fen", "properties")


def _events(brand_id: int) -> dict[str, dict[str, Any]]:
    with duckdb.connect() as con:
        rows = lake.relation(con, brand_id).project(", ".join(COLUMNS)).fetchall()
    return {r[0]: dict(zip(COLUMNS, r, strict=True)) for r in rows}


def test_a_scan_and_the_binding_it_makes_are_events_after_the_commit(
    world: Any, scope_of: Any, django_capture_on_commit_callbacks: Any
) -> None:
    code = create_code(scope_of(world.staff["hq_admin"]), kind="guide", guide=world.staff["guide_a"].pk)
    with django_capture_on_commit_callbacks(execute=False) as pending, clock.frozen(T0):
        r = scan(code, [IdentityIn(kind="openid", key="visitor-1", app_id="wx1")])
    assert _events(world.brand.pk) == {}  # nothing before the commit
    with clock.frozen(T0):
        for callback in pending:
            callback()
    found = _events(world.brand.pk)
    assert r.touch is not None and r.bind is not None
    touch = found[f"touch:{r.touch.pk}"]
    assert (touch["type"], touch["customer_id"], touch["guide_id"]) == (
        "scan",
        r.customer.pk,
        world.staff["guide_a"].pk,
    )
    (binding,) = [e for e in found.values() if e["type"] == "custom:bind"]
    assert binding["event_id"].startswith("binding:")
    assert (binding["customer_id"], binding["store_id"]) == (r.customer.pk, world.flagship.pk)
    assert '"source":"guide_code"' in binding["properties"]


def test_a_wecom_add_reported_by_a_system_is_an_add_friend_event(
    world: Any, scope_of: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from siyu.members.models import Customer

    customer = Customer.objects.get(pk=world.customers["chen.guide"][0])
    with django_capture_on_commit_callbacks(execute=True), clock.frozen(T0):
        touch = record_touch(
            scope_of(world.staff["hq_admin"]),
            customer,
            kind="wecom_add",
            guide_id=world.staff["guide_a"].pk,
            properties={"external_userid": "wm-1", "nested": {"dropped": True}},
        )
        record_touch(scope_of(world.staff["hq_admin"]), customer, kind="import")  # no event of its own
    found = _events(world.brand.pk)
    assert list(found) == [f"touch:{touch.pk}"]
    assert found[f"touch:{touch.pk}"]["type"] == "add_friend"
    assert "nested" not in found[f"touch:{touch.pk}"]["properties"]


@pytest.fixture
def shop(world: Any) -> dict[str, Any]:
    hq = org.hq_scope(world.brand.pk, "emit test")
    cat = catalog.create_category(hq, code="RUN", name="跑鞋")
    product = catalog.create_product(
        hq, category_id=cat.pk, code="R100", name="飞跃跑鞋", price_fen=39900,
        skus=[catalog.NewSku(code="R100-40", color="白", size="40")],
    )  # fmt: skip
    sku = product.skus.get().pk
    stock.receive(hq, world.flagship.pk, {sku: 5}, key="G1")
    return {"sku": sku, "hq": hq}


def test_a_paid_order_and_its_refund_are_order_and_refund_events_stored_once(
    world: Any, shop: dict[str, Any], scope_of: Any, django_capture_on_commit_callbacks: Any
) -> None:
    cid = int(world.customers["chen.guide"][0])
    delivery = orders.Delivery(
        recipient="王芳", phone="13900001234", city="上海", address="国定路 1 号", latitude=31.301, longitude=121.515
    )
    with django_capture_on_commit_callbacks(execute=True), clock.frozen(T0):
        info = orders.place_order(
            world.brand.pk, cid, store_id=world.flagship.pk, lines=[orders.NewLine(shop["sku"], 1)], delivery=delivery
        )
        assert _events(world.brand.pk) == {}  # placing is not buying
        orders.pay(world.brand.pk, info.number, key="p1")
        orders.pay(world.brand.pk, info.number, key="p1")  # the same payment again: no second event
    order_id = orders.order_info(world.brand.pk, info.number)
    found = _events(world.brand.pk)
    paid = [e for e in found.values() if e["type"] == "order"]
    assert len(paid) == 1 and paid[0]["amount_fen"] == 39900 and paid[0]["customer_id"] == cid
    assert paid[0]["event_id"].startswith("order:") and paid[0]["event_id"].endswith(":paid")
    assert order_id is not None and f'"number":"{info.number}"' in paid[0]["properties"]

    with django_capture_on_commit_callbacks(execute=True), clock.frozen(T0 + dt.timedelta(hours=1)):
        orders.cancel_by_staff(scope_of(world.staff["hq_operator"]), info.number, reason="客户电话取消")
    refunds = [e for e in _events(world.brand.pk).values() if e["type"] == "refund"]
    assert len(refunds) == 1 and refunds[0]["amount_fen"] == 39900
    assert refunds[0]["event_id"] == paid[0]["event_id"].replace(":paid", ":refund")

    # a retry of the emitter (the job ran twice) is a duplicate, never a second event
    again = events.emit(
        world.brand.pk,
        [events.EventIn(paid[0]["event_id"], "order", T0, cid, amount_fen=39900)],
    )
    assert (again.accepted, again.duplicates) == (0, 1)
    assert sum(e["type"] == "order" for e in _events(world.brand.pk).values()) == 1
