"""The stores' order screens (guide workbench) and the HQ order console: a store works its parcels
from the queue to the customer, sees the recipient it ships to, and HQ lists, exports, reads and
cancels orders within each viewer's reach."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from siyu.inventory import services as stock
from siyu.orders import services as orders
from siyu.orders.models import Notification
from siyu.org import services as org
from tests.stock_factory import running_shoe

NEAR_FLAGSHIP = orders.Delivery(
    recipient="王芳", phone="13900001234", city="上海", address="南京西路 1 号", latitude=31.2299, longitude=121.4596
)


@pytest.fixture
def shop(world: Any) -> dict[str, Any]:
    hq, skus = running_shoe(world)
    a, b = skus["R100-40"], skus["R100-41"]
    stock.receive(hq, world.flagship.pk, {a: 5, b: 5}, key="G1")
    stock.receive(hq, world.gz1.pk, {a: 5}, key="G2")
    return {"a": a, "b": b, "hq": hq}


def paid_order(world: Any, sku: int, *, pickup: bool = False, customer: int | None = None) -> orders.OrderInfo:
    cid = customer or int(world.customers["chen.guide"][0])
    kw: dict[str, Any] = (
        {"mode": "pickup", "pickup_store_id": world.flagship.pk} if pickup else {"delivery": NEAR_FLAGSHIP}
    )
    info = orders.place_order(world.brand.pk, cid, store_id=world.flagship.pk, lines=[orders.NewLine(sku, 1)], **kw)
    return orders.pay(world.brand.pk, info.number, key=f"pay-{info.number}")


def act(client: Client, fid: int, action: str, **data: str) -> Any:
    return client.post(reverse("guide:parcel_action", args=[fid]), {"action": action, **data})


def test_a_guide_packs_and_ships_a_parcel_from_her_stores_queue(world: Any, shop: dict[str, Any]) -> None:
    info = paid_order(world, shop["a"])
    fid = info.fulfilments[0].id
    client = world.login(Client(), "guide_a")
    queue = client.get(reverse("guide:store_orders"))
    assert queue.status_code == 200 and info.number in queue.content.decode()
    assert "1 new" in queue.content.decode() or "1 条新" in queue.content.decode()
    page = client.get(reverse("guide:parcel_detail", args=[fid])).content.decode()
    assert "R100-40" in page and "13900001234" in page and "南京西路 1 号" in page  # she ships to her: unmasked
    assert Notification.objects.filter(store_id=world.flagship.pk, read_at__isnull=True).count() == 0  # read now
    assert act(client, fid, "pack").status_code == 302
    assert orders.queue_counts(org.hq_scope(world.brand.pk), world.flagship.pk)["packed"] == 1
    act(client, fid, "ship", carrier="", tracking_no="")  # refused: nothing moves
    assert orders.order_info(world.brand.pk, info.number).fulfilments[0].status == "packed"  # type: ignore[union-attr]
    act(client, fid, "ship", carrier="顺丰", tracking_no="SF123")
    shipped = orders.order_info(world.brand.pk, info.number)
    assert shipped is not None and shipped.status == "shipped" and shipped.fulfilments[0].tracking_no == "SF123"
    act(client, fid, "delivered")
    done = orders.order_info(world.brand.pk, info.number)
    assert done is not None and done.status == "completed"


def test_a_pickup_is_handed_over_only_against_the_customers_code(world: Any, shop: dict[str, Any]) -> None:
    info = paid_order(world, shop["a"], pickup=True)
    fid = info.fulfilments[0].id
    client = world.login(Client(), "guide_a")
    act(client, fid, "pack")
    act(client, fid, "pickup")
    code = orders.order_info(world.brand.pk, info.number).fulfilments[0].pickup_code  # type: ignore[union-attr]
    wrong = "000000" if code != "000000" else "111111"
    act(client, fid, "hand_over", pickup_code=wrong)
    assert orders.order_info(world.brand.pk, info.number).status == "ready"  # type: ignore[union-attr]
    act(client, fid, "hand_over", pickup_code=code)
    assert orders.order_info(world.brand.pk, info.number).status == "completed"  # type: ignore[union-attr]


def test_another_stores_parcel_is_out_of_reach_and_the_recipient_masked_elsewhere(
    world: Any, shop: dict[str, Any]
) -> None:
    guangzhou = orders.Delivery(recipient="李雷", phone="13900005678", city="广州", address="天河路 2 号")
    cid = int(world.customers["he.guide"][0])
    info = orders.place_order(
        world.brand.pk, cid, store_id=world.gz1.pk, lines=[orders.NewLine(shop["a"], 1)], delivery=guangzhou
    )
    info = orders.pay(world.brand.pk, info.number, key="p-gz")
    fid = info.fulfilments[0].id
    client = world.login(Client(), "guide_a")
    assert client.get(reverse("guide:parcel_detail", args=[fid])).status_code == 404
    assert act(client, fid, "pack").status_code == 404
    hq = world.login(Client(), "hq_operator").get(reverse("hq:order_detail", args=[info.number])).content.decode()
    assert "13900005678" not in hq and "139****5678" in hq


def test_a_guide_may_not_cancel_but_her_store_manager_may(world: Any, shop: dict[str, Any]) -> None:
    info = paid_order(world, shop["a"])
    fid = info.fulfilments[0].id
    assert act(world.login(Client(), "guide_a"), fid, "cancel", reason="缺货").status_code == 403
    act(world.login(Client(), "store_manager"), fid, "cancel", reason="顾客要求")
    assert orders.order_info(world.brand.pk, info.number).status == "cancelled"  # type: ignore[union-attr]
    assert stock.store_stock(world.brand.pk, world.flagship.pk, [shop["a"]]) == {shop["a"]: 5}


def test_the_store_manager_decides_a_return_from_the_returns_tab(world: Any, shop: dict[str, Any]) -> None:
    info = paid_order(world, shop["a"], pickup=True)
    fid = info.fulfilments[0].id
    manager = world.login(Client(), "store_manager")
    act(manager, fid, "pack")
    act(manager, fid, "pickup")
    code = orders.order_info(world.brand.pk, info.number).fulfilments[0].pickup_code  # type: ignore[union-attr]
    act(manager, fid, "hand_over", pickup_code=code)
    orders.request_return(world.brand.pk, info.customer_id, info.number, reason="尺码不合适")
    tab = manager.get(reverse("guide:store_orders") + "?status=returns").content.decode()
    assert info.number in tab
    assert world.login(Client(), "guide_a").get(reverse("guide:store_orders") + "?status=returns").status_code == 200
    manager.post(reverse("guide:return_decide", args=[info.number]), {"decision": "accept"})
    assert orders.order_info(world.brand.pk, info.number).status == "returned"  # type: ignore[union-attr]
    assert stock.store_stock(world.brand.pk, world.flagship.pk, [shop["a"]]) == {shop["a"]: 5}
    assert stock.check_ledger(world.brand.pk) == []


def test_hq_lists_filters_exports_and_cancels_orders(world: Any, shop: dict[str, Any]) -> None:
    paid = paid_order(world, shop["a"])
    unpaid = orders.place_order(
        world.brand.pk,
        int(world.customers["chen.guide"][1]),
        store_id=world.flagship.pk,
        lines=[orders.NewLine(shop["b"], 2)],
        delivery=NEAR_FLAGSHIP,
    )
    client = world.login(Client(), "hq_operator")
    listed = client.get(reverse("hq:order_list"), {"status": "created"}).content.decode()
    assert unpaid.number in listed and paid.number not in listed
    by_number = client.get(reverse("hq:order_list"), {"number": paid.number[-6:]}).content.decode()
    assert paid.number in by_number
    export = client.get(reverse("hq:order_export"), {"status": "allocated"})
    rows = list(csv.reader(io.StringIO(b"".join(export.streaming_content).decode("utf-8-sig"))))  # type: ignore[attr-defined]
    assert rows[0][0] == "number" and [r[0] for r in rows[1:]] == [paid.number]
    assert rows[1][9] == "399.00"
    detail = client.get(reverse("hq:order_detail", args=[paid.number])).content.decode()
    assert "R100-40" in detail and "SH001" in detail and "sandbox" in detail
    client.post(reverse("hq:order_cancel", args=[unpaid.number]), {"reason": "测试取消"})
    assert orders.order_info(world.brand.pk, unpaid.number).status == "cancelled"  # type: ignore[union-attr]
    assert stock.store_stock(world.brand.pk, world.flagship.pk, [shop["b"]]) == {shop["b"]: 5}


def test_a_region_manager_sees_only_the_orders_of_her_region(world: Any, shop: dict[str, Any]) -> None:
    ours = paid_order(world, shop["a"])
    guangzhou = orders.Delivery(recipient="李雷", phone="13900005678", city="广州", address="天河路 2 号")
    theirs = orders.place_order(
        world.brand.pk,
        int(world.customers["he.guide"][0]),
        store_id=world.gz1.pk,
        lines=[orders.NewLine(shop["a"], 1)],
        delivery=guangzhou,
    )
    client = world.login(Client(), "region_manager")
    listed = client.get(reverse("hq:order_list")).content.decode()
    assert ours.number in listed and theirs.number not in listed
    assert client.get(reverse("hq:order_detail", args=[theirs.number])).status_code == 404


def test_the_demo_seeds_stock_everywhere_and_orders_in_every_state_with_a_balanced_ledger(db: Any) -> None:
    import datetime as dt
    import time

    from siyu.demo import generator
    from siyu.demo import personas as P
    from siyu.inventory.models import StockLevel
    from siyu.orders.models import Fulfilment, Order

    started = time.perf_counter()
    summary = generator.run(generator.Config(seed=7, members=400, as_of=dt.datetime(2026, 6, 15, 12, tzinfo=dt.UTC)))
    seconds = time.perf_counter() - started
    brand_id = summary.brand_id
    states = set(Order.objects.filter(brand_id=brand_id).values_list("status", flat=True))
    every = {"created", "allocated", "shipped", "ready", "completed", "cancelled", "return_requested", "returned"}
    assert states >= every
    assert Fulfilment.objects.filter(status="packed").exists()
    assert Order.objects.filter(brand_id=brand_id, channel="pos").exists()
    stores = org.stores(brand_id)
    assert {s.id for s in stores} == set(StockLevel.objects.values_list("store_id", flat=True).distinct())
    assert StockLevel.objects.filter(on_hand__lte=2).exists()  # some thin
    assert stock.check_ledger(brand_id) == []
    flagship = next(s for s in stores if s.code == P.FLAGSHIP_STORE_CODE)
    work = orders.queue_counts(org.hq_scope(brand_id), flagship.id)
    assert work["to_pick"] + work["packed"] + work["ready"] > 0  # chen.guide has parcels to work on
    assert generator.run(generator.Config(seed=7, members=400)).ran == []  # nothing twice
    print(f"demo seed: {seconds:.1f} s, steps {summary.seconds}, {summary.facts}")
