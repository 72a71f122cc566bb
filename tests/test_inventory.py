"""Stock: the ledger, reservations, allocation to the nearest store (ADR 0009), and never overselling."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from siyu.catalog import services as catalog
from siyu.inventory import rules
from siyu.inventory import services as stock
from siyu.inventory.models import Movement, Reservation, StockLevel
from siyu.org import services as org
from siyu.platform import clock

# --- The allocation rule (pure) ------------------------------------------------------------------


def C(store: int, dist: int | None, **avail: int) -> rules.Candidate:
    return rules.Candidate(store, dist, {int(k[1:]): v for k, v in avail.items()})


def test_the_nearest_store_that_can_fill_the_whole_order_ships_it() -> None:
    plan = rules.plan({1: 2, 2: 1}, [C(10, 900, s1=5, s2=5), C(11, 300, s1=5), C(12, 1200, s1=2, s2=1)])
    assert [(s.store_id, s.lines) for s in plan.shipments] == [(10, {1: 2, 2: 1})]
    assert plan.ok


def test_fewest_shipments_prefers_a_store_that_fills_more_lines_whole() -> None:
    cands = [C(1, 100, s1=1), C(2, 200, s2=1), C(3, 900, s2=1, s3=1)]
    plan = rules.plan({1: 1, 2: 1, 3: 1}, cands, rules.FEWEST)
    assert {s.store_id: s.lines for s in plan.shipments} == {1: {1: 1}, 3: {2: 1, 3: 1}}


def test_nearest_first_sends_each_line_to_its_nearest_store() -> None:
    cands = [C(1, 100, s1=1), C(2, 200, s2=1), C(3, 900, s2=1, s3=1)]
    plan = rules.plan({1: 1, 2: 1, 3: 1}, cands, rules.NEAREST)
    assert {s.store_id: s.lines for s in plan.shipments} == {1: {1: 1}, 2: {2: 1}, 3: {3: 1}}


def test_a_line_no_store_can_fill_alone_is_split_nearest_first() -> None:
    plan = rules.plan({1: 5}, [C(1, 500, s1=3), C(2, 100, s1=1), C(3, 900, s1=4)])
    assert [(s.store_id, s.lines) for s in plan.shipments] == [(2, {1: 1}), (1, {1: 3}), (3, {1: 1})]


def test_a_shortfall_names_the_missing_units_and_plans_nothing() -> None:
    plan = rules.plan({1: 5, 2: 1}, [C(1, 10, s1=2), C(2, 20, s1=1, s2=1)])
    assert plan.short == {1: 2} and plan.shipments == [] and not plan.ok


def test_unknown_distances_come_after_known_ones() -> None:
    plan = rules.plan({1: 1}, [C(1, None, s1=1), C(2, 5000, s1=1)])
    assert plan.shipments[0].store_id == 2


# --- The ledger ----------------------------------------------------------------------------------


@pytest.fixture
def skus(world: Any) -> list[int]:
    hq = org.hq_scope(world.brand.pk)
    cat = catalog.create_category(hq, code="RUN", name="跑鞋")
    product = catalog.create_product(
        hq,
        category_id=cat.pk,
        code="R100",
        name="飞跃跑鞋",
        price_fen=39900,
        skus=[catalog.NewSku(code=f"R100-{s}", color="白", size=s) for s in ("40", "41", "42")],
    )
    return list(product.skus.order_by("code").values_list("pk", flat=True))


def hq(world: Any) -> Any:
    return org.hq_scope(world.brand.pk, "stock test")


def balanced(world: Any) -> bool:
    return stock.check_ledger(world.brand.pk) == []


def test_a_receipt_adds_stock_once_per_key(world: Any, skus: list[int]) -> None:
    assert stock.receive(hq(world), world.flagship.pk, {skus[0]: 5, skus[1]: 2}, key="GRN-1")
    assert not stock.receive(hq(world), world.flagship.pk, {skus[0]: 5, skus[1]: 2}, key="GRN-1")
    assert stock.store_stock(world.brand.pk, world.flagship.pk, skus) == {skus[0]: 5, skus[1]: 2}
    assert Movement.objects.filter(kind="receipt").count() == 2
    assert balanced(world)


def test_bad_input_changes_nothing(world: Any, skus: list[int]) -> None:
    with pytest.raises(ValidationError):
        stock.receive(hq(world), world.flagship.pk, {skus[0]: 0}, key="k")
    with pytest.raises(ValidationError):
        stock.receive(hq(world), world.flagship.pk, {skus[0]: 1}, key="")
    with pytest.raises(ValidationError):
        stock.receive(hq(world), world.flagship.pk, {999999: 1}, key="k2")
    with pytest.raises(ValidationError):  # another brand's store is out of reach
        stock.receive(hq(world), world.rival_store.pk, {skus[0]: 1}, key="k3")
    assert not Movement.objects.exists() and not StockLevel.objects.exists()


def test_a_guide_may_not_change_stock_and_a_store_manager_only_her_store(
    world: Any, skus: list[int], scope_of: Any
) -> None:
    with pytest.raises(PermissionDenied):
        stock.receive(scope_of(world.staff["guide_a"]), world.flagship.pk, {skus[0]: 1}, key="g")
    manager = scope_of(world.staff["store_manager"])
    assert stock.receive(manager, world.flagship.pk, {skus[0]: 1}, key="m1")
    with pytest.raises(ValidationError):
        stock.receive(manager, world.sh2.pk, {skus[0]: 1}, key="m2")


def test_transfer_moves_units_between_stores_and_cannot_send_what_is_not_there(world: Any, skus: list[int]) -> None:
    stock.receive(hq(world), world.flagship.pk, {skus[0]: 3}, key="GRN")
    stock.transfer(hq(world), world.flagship.pk, world.sh2.pk, {skus[0]: 2}, key="TR-1")
    assert stock.store_stock(world.brand.pk, world.sh2.pk, [skus[0]]) == {skus[0]: 2}
    with pytest.raises(stock.OutOfStock) as exc:
        stock.transfer(hq(world), world.flagship.pk, world.sh2.pk, {skus[0]: 2}, key="TR-2")
    assert exc.value.short == {skus[0]: 1}
    assert stock.store_stock(world.brand.pk, world.flagship.pk, [skus[0]]) == {skus[0]: 1}
    assert balanced(world)


def test_adjust_and_pos_sync_set_the_count_through_movements(world: Any, skus: list[int]) -> None:
    stock.receive(hq(world), world.flagship.pk, {skus[0]: 10}, key="GRN")
    stock.adjust(hq(world), world.flagship.pk, skus[0], counted=7, reason="stock-take", key="ADJ-1")
    stock.pos_sync(hq(world), world.flagship.pk, {skus[0]: 9, skus[1]: 4}, key="POS-1")
    assert stock.store_stock(world.brand.pk, world.flagship.pk, skus) == {skus[0]: 9, skus[1]: 4}
    deltas = list(Movement.objects.filter(sku_id=skus[0]).order_by("id").values_list("kind", "on_hand_delta"))
    assert deltas == [("receipt", 10), ("adjustment", -3), ("pos_sync", 2)]
    with pytest.raises(ValidationError):
        stock.adjust(hq(world), world.flagship.pk, skus[0], counted=1, reason="  ", key="ADJ-2")
    assert balanced(world)


def test_a_count_below_what_checkouts_hold_is_refused(world: Any, skus: list[int]) -> None:
    stock.receive(hq(world), world.flagship.pk, {skus[0]: 5}, key="GRN")
    stock.reserve(world.brand.pk, "ORD-1", [(world.flagship.pk, skus[0], 3)], minutes=15)
    with pytest.raises(stock.StockError):
        stock.pos_sync(hq(world), world.flagship.pk, {skus[0]: 2}, key="POS-low")
    assert stock.levels(world.brand.pk, world.flagship.pk)[0].on_hand == 5


# --- Reservations --------------------------------------------------------------------------------


def test_reserve_sell_and_release_keep_the_ledger_balanced(world: Any, skus: list[int]) -> None:
    b = world.brand.pk
    stock.receive(hq(world), world.flagship.pk, {skus[0]: 5}, key="GRN")
    stock.reserve(b, "ORD-1", [(world.flagship.pk, skus[0], 2)], minutes=15)
    assert stock.store_stock(b, world.flagship.pk, [skus[0]]) == {skus[0]: 3}
    assert stock.sell(b, "ORD-1") and not stock.sell(b, "ORD-1")  # idempotent
    level = stock.levels(b, world.flagship.pk)[0]
    assert (level.on_hand, level.reserved) == (3, 0)
    stock.reserve(b, "ORD-2", [(world.flagship.pk, skus[0], 3)], minutes=15)
    with pytest.raises(stock.OutOfStock):
        stock.reserve(b, "ORD-3", [(world.flagship.pk, skus[0], 1)], minutes=15)
    assert not Reservation.objects.filter(key="ORD-3").exists()  # a failed hold leaves nothing
    assert stock.release(b, "ORD-2") and not stock.release(b, "ORD-2")
    with pytest.raises(stock.ReservationGone):
        stock.sell(b, "ORD-2")
    assert stock.store_stock(b, world.flagship.pk, [skus[0]]) == {skus[0]: 3}
    assert balanced(world)


def test_a_hold_is_all_or_nothing(world: Any, skus: list[int]) -> None:
    b = world.brand.pk
    stock.receive(hq(world), world.flagship.pk, {skus[0]: 5, skus[1]: 1}, key="GRN")
    with pytest.raises(stock.OutOfStock) as exc:
        stock.reserve(b, "ORD-X", [(world.flagship.pk, skus[0], 2), (world.flagship.pk, skus[1], 2)], minutes=15)
    assert exc.value.short == {skus[1]: 1}
    assert stock.store_stock(b, world.flagship.pk, skus) == {skus[0]: 5, skus[1]: 1}
    assert balanced(world)


def test_expired_holds_are_released(world: Any, skus: list[int]) -> None:
    b = world.brand.pk
    stock.receive(hq(world), world.flagship.pk, {skus[0]: 2}, key="GRN")
    start = dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.UTC)
    with clock.frozen(start):
        stock.reserve(b, "ORD-1", [(world.flagship.pk, skus[0], 2)], minutes=15)
    with clock.frozen(start + dt.timedelta(minutes=16)):
        assert stock.expire_due(grace_minutes=5) == 0  # within the grace the orders domain acts first
    with clock.frozen(start + dt.timedelta(minutes=21)):
        assert stock.expire_due(grace_minutes=5) == 1
    assert Reservation.objects.get(key="ORD-1").status == "expired"
    assert stock.store_stock(b, world.flagship.pk, [skus[0]]) == {skus[0]: 2}
    assert balanced(world)


# --- Allocation ----------------------------------------------------------------------------------


def test_allocation_picks_the_nearest_store_of_the_city_and_records_the_distance(world: Any, skus: list[int]) -> None:
    b = world.brand.pk
    stock.receive(hq(world), world.flagship.pk, {skus[0]: 1}, key="G1")
    stock.receive(hq(world), world.sh2.pk, {skus[0]: 1}, key="G2")
    stock.receive(hq(world), world.hz1.pk, {skus[0]: 9}, key="G3")  # another city: not a candidate
    near_wujiaochang = (31.3010, 121.5150)
    result = stock.allocate(b, "ORD-1", {skus[0]: 1}, city="上海", origin=near_wujiaochang)
    assert [s.store_id for s in result.shipments] == [world.sh2.pk]
    assert result.shipments[0].distance_m is not None and result.shipments[0].distance_m < 1000
    result = stock.allocate(b, "ORD-2", {skus[0]: 1}, city="上海", origin=near_wujiaochang)
    assert [s.store_id for s in result.shipments] == [world.flagship.pk]
    with pytest.raises(stock.OutOfStock):
        stock.allocate(b, "ORD-3", {skus[0]: 1}, city="上海", origin=near_wujiaochang)
    assert stock.city_stock(b, "上海", [skus[0]]) == {}
    assert stock.city_stock(b, "杭州", [skus[0]]) == {skus[0]: 9}
    assert balanced(world)


def test_pickup_allocates_only_to_the_pickup_store(world: Any, skus: list[int]) -> None:
    b = world.brand.pk
    stock.receive(hq(world), world.sh2.pk, {skus[0]: 3}, key="G2")
    with pytest.raises(stock.OutOfStock):
        stock.allocate(b, "ORD-1", {skus[0]: 1}, city="上海", pickup_store_id=world.flagship.pk)
    result = stock.allocate(b, "ORD-2", {skus[0]: 1}, city="上海", pickup_store_id=world.sh2.pk)
    assert [s.store_id for s in result.shipments] == [world.sh2.pk]


def test_the_policy_is_hq_only_and_validated(world: Any, scope_of: Any) -> None:
    with pytest.raises(PermissionDenied):
        stock.set_allocation_policy(
            scope_of(world.staff["store_manager"]), split="nearest", hold_minutes=10, beyond_city=False
        )
    with pytest.raises(ValidationError):
        stock.set_allocation_policy(hq(world), split="cheapest", hold_minutes=10, beyond_city=False)
    info = stock.set_allocation_policy(hq(world), split="nearest", hold_minutes=10, beyond_city=True)
    assert info == stock.allocation_policy(world.brand.pk)


# --- Never oversell, under real concurrency (PostgreSQL) -----------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_sixteen_concurrent_checkouts_never_oversell_a_hot_sku_over_several_stores(world: Any, skus: list[int]) -> None:
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("run with DATABASE_URL=postgres://… to test real concurrency")
    b, hot = world.brand.pk, skus[0]
    held = {world.flagship.pk: 3, world.sh2.pk: 2}
    for store_id, n in held.items():
        stock.receive(hq(world), store_id, {hot: n}, key=f"GRN-{store_id}")
    clients, rounds = 16, 3
    won: list[str] = []
    lost: list[str] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(clients)

    def checkout(i: int) -> None:
        try:
            barrier.wait()
            for r in range(rounds):
                key = f"C{i}-{r}"
                try:
                    stock.allocate(b, key, {hot: 1}, city="上海", origin=(31.23, 121.46))
                    won.append(key)
                except stock.OutOfStock:
                    lost.append(key)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=checkout, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert len(won) == sum(held.values()) and len(won) + len(lost) == clients * rounds
    for store_id, n in held.items():
        level = StockLevel.objects.get(store_id=store_id, sku_id=hot)
        assert level.reserved == n and level.on_hand == n  # every unit held, none beyond
    assert Reservation.objects.filter(status="held").count() == len(won)
    assert stock.check_ledger(b) == []
