"""Sales tasks ("make N attributed sales") verify themselves from the platform's own orders: orders
her customers place and pay count live, through the ``order`` events the orders domain emits; a
refund takes its order off again (coins already paid stay); the same paid event twice counts once;
the minimum amount and the style filter hold; the hourly recompute finds what the listener missed
and drops what was refunded; the designer, the API and the guide's page know the kind."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from siyu.incentives import services as incentives
from siyu.orders import services as orders
from siyu.platform import clock, hooks
from siyu.tasks import verify
from siyu.tasks.models import Assignment, Credit, Task
from tests.test_orders import NEAR_WUJIAOCHANG, shop  # noqa: F401  (the fixture: a shoe and socks in stock)
from tests.test_tasks_verify import NOW, hq, publish, state  # noqa: F401  (the fixture: HQ's scope)

LATER = NOW + dt.timedelta(hours=1)


def buy(world: Any, shop: dict[str, Any], sku: str = "a", *, n: int = 1, capture: Any = None) -> orders.OrderInfo:  # noqa: F811
    """Her customer orders and pays at the flagship (the order is attributed to guide A); with
    ``capture``, the commit callbacks run, so the ``order`` event reaches the listeners."""
    info = orders.place_order(
        world.brand.pk,
        int(world.customers["chen.guide"][0]),
        store_id=world.flagship.pk,
        lines=[orders.NewLine(shop[sku], n)],
        delivery=NEAR_WUJIAOCHANG,
    )
    if capture is None:
        orders.pay(world.brand.pk, info.number, key=f"pay-{info.number}")
    else:
        with capture(execute=True):
            orders.pay(world.brand.pk, info.number, key=f"pay-{info.number}")
    return info


def refund(world: Any, scope_of: Any, number: str, capture: Any) -> None:
    with capture(execute=True):
        orders.cancel_by_staff(scope_of(world.staff["hq_operator"]), number, reason="顾客取消")


def test_paid_orders_complete_a_sales_task_live_and_a_refund_takes_one_off(
    world: Any,
    hq: Any,  # noqa: F811
    shop: dict[str, Any],  # noqa: F811
    scope_of: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    guide = world.staff["guide_a"]
    (a,) = publish(hq, [guide], kind="sales", target=2, coins=30)
    with clock.frozen(LATER):
        first = buy(world, shop, capture=django_capture_on_commit_callbacks)
        assert state(a) == ("open", 1)
        second = buy(world, shop, "sock", capture=django_capture_on_commit_callbacks)
    assert state(a) == ("done", 2)
    assert incentives.balance(world.brand.pk, guide.pk) == 30
    assert sorted(Credit.objects.filter(assignment=a).values_list("key", flat=True)) == sorted(
        [f"order:{first.id}", f"order:{second.id}"]
    )
    with clock.frozen(LATER + dt.timedelta(minutes=5)):
        refund(world, scope_of, first.number, django_capture_on_commit_callbacks)
    # the refunded order is off the progress; the completion and its coins stand (ADR 0017)
    assert state(a) == ("done", 1)
    assert incentives.balance(world.brand.pk, guide.pk) == 30
    with clock.frozen(LATER + dt.timedelta(minutes=10)):
        verify.recompute(world.brand.pk)
        verify.pay_pending()
    assert state(a) == ("done", 1)
    assert incentives.balance(world.brand.pk, guide.pk) == 30


def test_a_refund_before_the_target_keeps_the_task_open(
    world: Any,
    hq: Any,  # noqa: F811
    shop: dict[str, Any],  # noqa: F811
    scope_of: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    (a,) = publish(hq, [world.staff["guide_a"]], kind="sales", target=2)
    with clock.frozen(LATER):
        first = buy(world, shop, capture=django_capture_on_commit_callbacks)
        refund(world, scope_of, first.number, django_capture_on_commit_callbacks)
        assert state(a) == ("open", 0)
        buy(world, shop, capture=django_capture_on_commit_callbacks)
    assert state(a) == ("open", 1)


def test_the_same_paid_event_twice_counts_once(
    world: Any,
    hq: Any,  # noqa: F811
    shop: dict[str, Any],  # noqa: F811
) -> None:
    guide = world.staff["guide_a"]
    (a,) = publish(hq, [guide], kind="sales", target=2)
    with clock.frozen(LATER):
        info = buy(world, shop)  # the commit callbacks did not run: no event was heard yet
        assert state(a) == ("open", 0)
        event = {
            "event_id": f"order:{info.id}:paid",
            "type": "order",
            "at": clock.now(),
            "customer_id": int(world.customers["chen.guide"][0]),
            "guide_id": guide.pk,
            "amount_fen": 39900,
        }
        hooks.events_recorded(world.brand.pk, [event])
        hooks.events_recorded(world.brand.pk, [event, dict(event)])  # a redelivery, twice in a batch too
        verify.on_events(world.brand.pk, [event])
        assert state(a) == ("open", 1)
        verify.recompute(world.brand.pk)
    assert state(a) == ("open", 1)
    assert Credit.objects.filter(assignment=a).count() == 1


def test_minimum_amount_and_style_filter_what_counts(
    world: Any,
    hq: Any,  # noqa: F811
    shop: dict[str, Any],  # noqa: F811
    django_capture_on_commit_callbacks: Any,
) -> None:
    guide = world.staff["guide_a"]
    (big,) = publish(hq, [guide], kind="sales", title="大单", target=5, min_order_fen=10_000)
    (shoe,) = publish(hq, [guide], kind="sales", title="跑鞋", target=5, product_code="R100")
    (anything,) = publish(hq, [guide], kind="sales", title="任意", target=5)
    with clock.frozen(LATER):
        buy(world, shop, "sock", capture=django_capture_on_commit_callbacks)  # ¥15 (+ shipping) of socks
        buy(world, shop, "a", capture=django_capture_on_commit_callbacks)  # ¥399 shoe
        buy(world, shop, "sock", n=8, capture=django_capture_on_commit_callbacks)  # ¥120 of socks
    assert state(big) == ("open", 2)
    assert state(shoe) == ("open", 1)
    assert state(anything) == ("open", 3)


def test_the_recompute_counts_orders_the_listener_missed_and_drops_refunded_ones(
    world: Any,
    hq: Any,  # noqa: F811
    shop: dict[str, Any],  # noqa: F811
    scope_of: Any,
) -> None:
    guide = world.staff["guide_a"]
    with clock.frozen(NOW - dt.timedelta(hours=1)):
        buy(world, shop, "sock")  # paid before the task started: never counts
    (a,) = publish(hq, [guide], kind="sales", target=3)
    with clock.frozen(LATER):
        kept = buy(world, shop)
        gone = buy(world, shop, "sock")
        # a listener heard of the second order before it was refunded; nobody heard the refund
        Credit.objects.create(
            brand_id=world.brand.pk, assignment=a, key=f"order:{gone.id}", source="sale", at=clock.now()
        )
        orders.cancel_by_staff(scope_of(world.staff["hq_operator"]), gone.number, reason="取消")
        verify.recompute(world.brand.pk)
    assert list(Credit.objects.filter(assignment=a).values_list("key", flat=True)) == [f"order:{kept.id}"]
    assert state(a) == ("open", 1)


def test_the_designer_and_the_api_take_a_sales_task(world: Any, hq: Any, shop: dict[str, Any]) -> None:  # noqa: F811
    with pytest.raises(ValidationError) as bad:
        publish(hq, [world.staff["guide_a"]], kind="sales", product_code="NOPE")
    assert "product_code" in bad.value.error_dict
    with pytest.raises(ValidationError) as bad:
        publish(hq, [world.staff["guide_a"]], kind="sales", min_order_fen=-1)
    assert "min_order_fen" in bad.value.error_dict
    # other kinds keep no sales filters
    (fwd,) = publish(hq, [world.staff["guide_a"]], kind="forward", min_order_fen=500, product_code="R100")
    assert (fwd.task.min_order_fen, fwd.task.product_code) == (0, "")
    # the API
    api = Client()
    world.login(api, "hq_operator")  # the console's session (tasks are not offered to system tokens)
    made = api.post(
        "/api/v1/tasks",
        json.dumps(
            {
                "title": "本周成交 3 单",
                "kind": "sales",
                "guide_ids": [world.staff["guide_a"].pk],
                "target": 3,
                "min_order_fen": 19900,
                "product_code": "R100",
                "starts_at": NOW.isoformat(),
                "deadline_at": (NOW + dt.timedelta(days=6)).isoformat(),
                "coins": 50,
            }
        ),
        content_type="application/json",
    )
    assert made.status_code == 201, made.content
    body = made.json()
    assert (body["kind"], body["min_order_fen"], body["product_code"]) == ("sales", 19900, "R100")
    assert Task.objects.get(pk=body["id"]).kind == "sales"


def test_hq_designs_a_sales_task_and_the_guide_gets_a_one_tap_to_her_store_page(
    world: Any,
    shop: dict[str, Any],  # noqa: F811
) -> None:
    with clock.frozen(NOW):
        c = Client(HTTP_ACCEPT_LANGUAGE="zh-hans")
        world.login(c, "hq_operator")
        saved = c.post(
            reverse("hq:task_new"),
            {
                "title": "本周成交 3 单",
                "kind": "sales",
                "share_channel": "any",  # the selects of other kinds post their first choice
                "count_mode": "times",
                "min_order": "199",
                "product_code": "R100",
                "named": "chen.guide",
                "target": "3",
                "repeat": "once",
                "starts_at": "2026-07-01T09:00",
                "deadline_at": "2026-07-01T21:00",
                "auto_close": "on",
                "coins": "50",
            },
        )
        assert saved.status_code == 302, saved.content.decode()
        task = Task.objects.get()
        assert (task.kind, task.min_order_fen, task.product_code) == ("sales", 19900, "R100")
        detail = c.get(saved["Location"]).content.decode()
        assert "¥199.00" in detail and "R100" in detail
        c.post(reverse("hq:task_publish", args=[task.pk]))
        (a,) = Assignment.objects.filter(task=task)
        guide = Client(HTTP_ACCEPT_LANGUAGE="zh-hans")
        world.login(guide, "guide_a")
        today = guide.get(reverse("guide:today")).content.decode()
        assert "本周成交 3 单" in today and "0/3" in today
        page = guide.get(reverse("guide:assignment_detail", args=[a.pk])).content.decode()
    assert reverse("mall_store", args=[world.flagship.code]) in page
    assert reverse("guide:my_codes") in page
