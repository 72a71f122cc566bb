"""Orders: placing with allocation, the sandbox payment, the stores' work, cancelling, returns."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from siyu.catalog import services as catalog
from siyu.inventory import services as stock
from siyu.members.models import Binding, Customer
from siyu.orders import services as orders
from siyu.orders.models import Notification, Order, Payment
from siyu.org import services as org
from siyu.platform import clock

T0 = dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.UTC)
NEAR_WUJIAOCHANG = orders.Delivery(
    recipient="王芳", phone="13900001234", city="上海", address="国定路 1 号", latitude=31.301, longitude=121.515
)


@pytest.fixture
def shop(world: Any) -> dict[str, Any]:
    hq = org.hq_scope(world.brand.pk, "orders test")
    cat = catalog.create_category(hq, code="RUN", name="跑鞋")
    product = catalog.create_product(
        hq,
        category_id=cat.pk,
        code="R100",
        name="飞跃跑鞋",
        price_fen=39900,
        skus=[catalog.NewSku(code=f"R100-{s}", color="白", size=s) for s in ("40", "41")],
    )
    cheap = catalog.create_product(
        hq, category_id=cat.pk, code="S1", name="运动袜", price_fen=1500, skus=[catalog.NewSku("S1-M", "黑", "M")]
    )
    a, b = product.skus.order_by("code").values_list("pk", flat=True)
    sock = cheap.skus.get().pk
    stock.receive(hq, world.flagship.pk, {a: 2, sock: 10}, key="G1")
    stock.receive(hq, world.sh2.pk, {a: 1, b: 1}, key="G2")
    return {"a": a, "b": b, "sock": sock, "hq": hq}


def customer(world: Any) -> int:
    return int(world.customers["chen.guide"][0])


def place(world: Any, shop: dict[str, Any], **kw: Any) -> orders.OrderInfo:
    args: dict[str, Any] = {
        "store_id": world.flagship.pk,
        "lines": [orders.NewLine(shop["a"], 1)],
        "delivery": NEAR_WUJIAOCHANG,
    }
    args.update(kw)
    return orders.place_order(world.brand.pk, customer(world), **args)


def test_an_order_goes_to_the_nearest_store_holding_it_and_records_who_brought_it(
    world: Any, shop: dict[str, Any]
) -> None:
    with clock.frozen(T0):
        info = place(world, shop, client_key="mp-1")
    assert info.status == "created" and info.pay_by == T0 + dt.timedelta(minutes=15)
    assert [f.store_id for f in info.fulfilments] == [world.sh2.pk]  # 五角场 is nearer than 南京西路
    assert info.fulfilments[0].distance_m is not None and info.fulfilments[0].distance_m < 1000
    assert info.store_id == world.flagship.pk and info.guide_id == world.staff["guide_a"].pk
    assert (info.items_fen, info.shipping_fen, info.total_fen) == (39900, 0, 39900)
    assert stock.store_stock(world.brand.pk, world.sh2.pk, [shop["a"]]) == {shop["a"]: 0}
    again = place(world, shop, client_key="mp-1")  # a retried request is the same order
    assert again.number == info.number and Order.objects.count() == 1


def test_an_order_no_single_store_can_fill_is_split_and_shipping_is_charged_under_199(
    world: Any, shop: dict[str, Any]
) -> None:
    info = place(world, shop, lines=[orders.NewLine(shop["a"], 3)])
    assert sorted(f.store_id for f in info.fulfilments) == sorted([world.flagship.pk, world.sh2.pk])
    assert sum(ln.quantity for ln in info.lines) == 3
    small = place(world, shop, lines=[orders.NewLine(shop["sock"], 1)])
    assert (small.items_fen, small.shipping_fen, small.total_fen) == (1500, 1000, 2500)


def test_out_of_stock_and_bad_input_change_nothing(world: Any, shop: dict[str, Any]) -> None:
    with pytest.raises(orders.OutOfStock):
        place(world, shop, lines=[orders.NewLine(shop["a"], 4)])
    with pytest.raises(ValidationError):
        place(world, shop, delivery=orders.Delivery("", "123", "上海", ""))
    with pytest.raises(ValidationError):
        place(world, shop, lines=[])
    with pytest.raises(ValidationError):
        place(world, shop, lines=[orders.NewLine(shop["a"], 0)])
    assert not Order.objects.exists()
    assert stock.city_stock(world.brand.pk, "上海", [shop["a"]]) == {shop["a"]: 3}


def test_paying_sells_the_stock_hands_the_order_to_the_store_and_binds_a_first_buyer(
    world: Any, shop: dict[str, Any]
) -> None:
    c = Customer.objects.get(pk=customer(world))
    Customer.objects.filter(pk=c.pk).update(guide=None, store=None)
    info = place(world, shop, guide_id=world.other_guide.pk)
    paid = orders.pay(world.brand.pk, info.number, key="pay-1")
    assert paid.status == "allocated" and paid.fulfilments[0].status == "to_pick"
    assert orders.pay(world.brand.pk, info.number, key="pay-1").status == "allocated"  # same payment
    assert Payment.objects.filter(order_id=info.id).count() == 1
    level = stock.levels(world.brand.pk, world.sh2.pk, [shop["a"]])[0]
    assert (level.on_hand, level.reserved) == (0, 0)
    c.refresh_from_db()
    assert (c.orders_count, c.total_spent_fen, c.guide_id) == (1, 39900, world.other_guide.pk)
    assert Binding.objects.filter(customer=c, source="first_purchase").exists()
    assert Notification.objects.filter(order_id=info.id, audience="store", store_id=world.sh2.pk).exists()
    assert stock.check_ledger(world.brand.pk) == []


def test_a_delivery_is_packed_shipped_and_confirmed_then_may_be_returned(
    world: Any, shop: dict[str, Any], scope_of: Any
) -> None:
    info = place(world, shop, lines=[orders.NewLine(shop["a"], 2)], delivery=NEAR_WUJIAOCHANG)
    orders.pay(world.brand.pk, info.number, key="p")
    fid = info.fulfilments[0].id
    store_guide = scope_of(world.staff["guide_a"])  # the flagship fulfils 2 units of A
    assert info.fulfilments[0].store_id == world.flagship.pk
    with pytest.raises(ValidationError):
        orders.ship(store_guide, fid, carrier="SF", tracking_no="SF1")  # not packed yet
    orders.pack(store_guide, fid)
    shipped = orders.ship(store_guide, fid, carrier="顺丰", tracking_no="SF123")
    assert shipped.status == "shipped"
    with pytest.raises(ValidationError):
        orders.cancel_own(world.brand.pk, customer(world), info.number)
    done = orders.confirm_receipt(world.brand.pk, customer(world), info.number)
    assert done.status == "completed" and done.completed_at is not None
    orders.request_return(world.brand.pk, customer(world), info.number, reason="尺码不合适")
    with pytest.raises(PermissionDenied):
        orders.decide_return(store_guide, info.number, accept=True)
    back = orders.decide_return(scope_of(world.staff["store_manager"]), info.number, accept=True)
    assert back.status == "returned"
    assert stock.store_stock(world.brand.pk, world.flagship.pk, [shop["a"]]) == {shop["a"]: 2}
    assert Payment.objects.filter(order_id=info.id, kind="refund").count() == 1
    assert stock.check_ledger(world.brand.pk) == []


def test_a_pickup_is_set_out_and_handed_over_with_its_code(world: Any, shop: dict[str, Any], scope_of: Any) -> None:
    info = place(world, shop, mode="pickup", delivery=None, pickup_store_id=world.flagship.pk)
    assert info.shipping_fen == 0 and [f.store_id for f in info.fulfilments] == [world.flagship.pk]
    orders.pay(world.brand.pk, info.number, key="p")
    guide = scope_of(world.staff["guide_a"])
    orders.pack(guide, info.fulfilments[0].id)
    ready = orders.set_out_for_pickup(guide, info.fulfilments[0].id)
    code = ready.fulfilments[0].pickup_code
    assert ready.status == "ready" and len(code) == 6
    with pytest.raises(ValidationError):
        orders.hand_over(guide, info.fulfilments[0].id, pickup_code="000000" if code != "000000" else "111111")
    assert orders.hand_over(guide, info.fulfilments[0].id, pickup_code=code).status == "completed"


def test_a_store_outside_reach_cannot_touch_the_parcel(world: Any, shop: dict[str, Any], scope_of: Any) -> None:
    from django.http import Http404

    info = place(world, shop)  # fulfilled by SH002
    orders.pay(world.brand.pk, info.number, key="p")
    with pytest.raises(Http404):
        orders.pack(scope_of(world.staff["guide_a"]), info.fulfilments[0].id)


def test_cancelling_frees_the_stock_and_refunds_a_paid_order(world: Any, shop: dict[str, Any], scope_of: Any) -> None:
    unpaid = place(world, shop)
    orders.cancel_own(world.brand.pk, customer(world), unpaid.number)
    assert stock.city_stock(world.brand.pk, "上海", [shop["a"]]) == {shop["a"]: 3}
    paid = place(world, shop)
    orders.pay(world.brand.pk, paid.number, key="p2")
    with pytest.raises(ValidationError):
        orders.cancel_by_staff(scope_of(world.staff["hq_operator"]), paid.number, reason=" ")
    orders.cancel_by_staff(scope_of(world.staff["hq_operator"]), paid.number, reason="客户电话取消")
    assert stock.city_stock(world.brand.pk, "上海", [shop["a"]]) == {shop["a"]: 3}
    c = Customer.objects.get(pk=customer(world))
    assert (c.orders_count, c.total_spent_fen) == (0, 0)
    assert stock.check_ledger(world.brand.pk) == []


def test_an_unpaid_order_is_cancelled_when_its_time_runs_out(world: Any, shop: dict[str, Any]) -> None:
    with clock.frozen(T0):
        info = place(world, shop)
    with clock.frozen(T0 + dt.timedelta(minutes=14)):
        assert orders.expire_unpaid() == 0
    with clock.frozen(T0 + dt.timedelta(minutes=16)), pytest.raises(ValidationError):
        orders.pay(world.brand.pk, info.number, key="late")
    assert Order.objects.get(number=info.number).status == "cancelled"
    assert stock.city_stock(world.brand.pk, "上海", [shop["a"]]) == {shop["a"]: 3}
    assert stock.check_ledger(world.brand.pk) == []


# --- The placement hot path (ADR 0014) -----------------------------------------------------------


def test_a_retry_of_an_order_that_took_the_last_units_is_the_same_order(world: Any, shop: dict[str, Any]) -> None:
    first = place(world, shop, lines=[orders.NewLine(shop["b"], 1)], client_key="mp-last")
    assert stock.city_stock(world.brand.pk, "上海", [shop["b"]]) == {}
    again = place(world, shop, lines=[orders.NewLine(shop["b"], 1)], client_key="mp-last")  # no stock left
    assert again.number == first.number and Order.objects.count() == 1
    with pytest.raises(orders.OutOfStock):
        place(world, shop, lines=[orders.NewLine(shop["b"], 1)], client_key="mp-other")


def test_a_hold_that_lost_its_race_leaves_nothing_and_the_order_is_planned_again(
    world: Any, shop: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    taken = place(world, shop)  # 五角场's one unit of A
    assert [f.store_id for f in taken.fulfilments] == [world.sh2.pk]
    # The next plan is made from a read taken before that order held the unit (what a concurrent
    # checkout sees): it chooses 五角场 again, whose conditional update then changes no row.
    real, reads = stock._free_stock, []

    def stale(brand_id: int, store_ids: Any, sku_ids: Any) -> list[tuple[int, int, int]]:
        reads.append(1)
        if len(reads) == 1:
            return [(world.sh2.pk, shop["a"], 1), (world.flagship.pk, shop["a"], 2)]
        return real(brand_id, store_ids, sku_ids)

    monkeypatch.setattr(stock, "_free_stock", stale)
    info = place(world, shop)
    assert len(reads) == 2 and [f.store_id for f in info.fulfilments] == [world.flagship.pk]
    assert Order.objects.count() == 2  # the refused attempt's order rows were rolled back with it
    assert sorted(Notification.objects.values_list("order__number", flat=True)) == sorted([taken.number, info.number])
    assert stock.store_stock(world.brand.pk, world.flagship.pk, [shop["a"]]) == {shop["a"]: 1}
    assert stock.check_ledger(world.brand.pk) == []


def test_placing_an_order_is_a_bounded_number_of_statements(
    world: Any, shop: dict[str, Any], django_assert_max_num_queries: Any
) -> None:
    # reads: customer, policy, stores, prices, free stock; writes: order, parcels, lines, event,
    # notification, reservation, the conditional updates (one batch), ledger, reservation lines
    place(world, shop)  # warm: nothing cached, just the first-use costs out of the count
    with django_assert_max_num_queries(16):
        info = place(world, shop, lines=[orders.NewLine(shop["a"], 1), orders.NewLine(shop["sock"], 2)])
    assert [f.store_id for f in info.fulfilments] == [world.flagship.pk]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_sixteen_concurrent_placements_never_oversell_and_a_failed_one_leaves_nothing(
    world: Any, shop: dict[str, Any]
) -> None:
    from django.db import connection

    from siyu.inventory.models import Reservation

    if connection.vendor != "postgresql":
        pytest.skip("run with DATABASE_URL=postgres://… to test real concurrency")
    clients, rounds = 16, 3
    placed: list[orders.OrderInfo] = []
    refused: list[str] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(clients)

    def shopper(i: int) -> None:
        try:
            barrier.wait()
            for r in range(rounds):
                lines = [orders.NewLine(shop["a"], 1)] + ([orders.NewLine(shop["sock"], 1)] if i % 2 else [])
                try:
                    placed.append(place(world, shop, lines=lines, client_key=f"c{i}-{r}"))
                except orders.OutOfStock:
                    refused.append(f"c{i}-{r}")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=shopper, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert len(placed) == 3 and len(placed) + len(refused) == clients * rounds  # 2 + 1 units of A
    received = {(world.flagship.pk, shop["a"]): 2, (world.sh2.pk, shop["a"]): 1, (world.flagship.pk, shop["sock"]): 10}
    for (store, sku), units in orders.units_by_store(world.brand.pk).items():
        assert units <= received.get((store, sku), 0)
    assert Order.objects.count() == len(placed) and Reservation.objects.count() == len(placed)
    assert stock.city_stock(world.brand.pk, "上海", [shop["a"]]) == {}
    assert stock.check_ledger(world.brand.pk) == []
