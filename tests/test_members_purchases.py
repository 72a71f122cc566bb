"""A customer's purchase summary through paid orders and refunds (members.services)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from siyu.members import services as members
from siyu.members.models import Customer, Touch

pytestmark = pytest.mark.django_db
T0 = dt.datetime(2026, 7, 1, 9, 0, tzinfo=dt.UTC)


def _buy(world: Any, customer_id: int, reference: str, at: dt.datetime, fen: int = 10_000) -> None:
    members.record_purchase(
        world.brand.pk,
        customer_id,
        amount_fen=fen,
        store_id=world.flagship.pk,
        guide_id=None,
        at=at,
        reference=reference,
    )


def _summary(customer_id: int) -> tuple[int, int, dt.datetime | None]:
    c = Customer.objects.get(pk=customer_id)
    return c.orders_count, c.total_spent_fen, c.last_purchase_at


def test_refunding_her_only_order_clears_her_last_purchase(world: Any) -> None:
    cid = world.customers[world.staff["guide_a"].username][0]
    _buy(world, cid, "SO-1", T0)
    assert _summary(cid) == (1, 10_000, T0)
    members.record_refund(world.brand.pk, cid, amount_fen=10_000, reference="SO-1")
    assert _summary(cid) == (0, 0, None)
    assert Touch.objects.get(customer_id=cid, properties__order="SO-1").properties["refunded"] is True


def test_refunding_her_latest_order_moves_her_last_purchase_back(world: Any) -> None:
    cid = world.customers[world.staff["guide_a"].username][1]
    _buy(world, cid, "SO-1", T0)
    _buy(world, cid, "SO-2", T0 + dt.timedelta(days=3), fen=5_000)
    members.record_refund(world.brand.pk, cid, amount_fen=5_000, reference="SO-2")
    assert _summary(cid) == (1, 10_000, T0)


def test_refunding_an_older_order_keeps_her_last_purchase(world: Any) -> None:
    cid = world.customers[world.staff["guide_b"].username][0]
    _buy(world, cid, "SO-1", T0)
    _buy(world, cid, "SO-2", T0 + dt.timedelta(days=3), fen=5_000)
    members.record_refund(world.brand.pk, cid, amount_fen=10_000, reference="SO-1")
    assert _summary(cid) == (1, 5_000, T0 + dt.timedelta(days=3))
