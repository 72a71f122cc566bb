"""Transfers under the WeCom rules: ≤100 customers a request, ≤2 transfers of a customer in 90
days, takeover after 24 hours, refusal, receiver at limit; inheritance when a guide leaves
(balanced, never guide-less) (ADR 0007)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from siyu.members import services as members
from siyu.members.binding import policy_of
from siyu.members.models import Binding, Customer, Transfer
from siyu.members.transfers import complete_due_transfers, refuse_transfer, start_transfer
from siyu.org import services as org
from siyu.platform import clock
from siyu.platform.models import AuditEntry

pytestmark = pytest.mark.django_db
T0 = dt.datetime(2026, 7, 1, 9, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)


def add_customers(world: Any, guide: Any, store: Any, n: int, start: int = 0) -> list[int]:
    rows = [
        members.NewCustomer(
            phone=f"136{start + i:08d}", name=f"客{i}", store_id=store.pk, guide_id=guide.pk, joined_at=T0 - DAY
        )
        for i in range(n)
    ]
    list(members.bulk_add_customers(world.brand.pk, rows))
    return list(
        Customer.objects.filter(brand=world.brand, guide=guide, phone_sealed__gt="")
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def new_guide(world: Any, username: str, store: Any) -> Any:
    return org.create_staff(
        org.hq_scope(world.brand.pk), username=username, name=username, role="guide", store=store, password="x" * 8
    )


def test_101_customers_go_in_two_requests_and_wait_24_hours(world: Any, scope_of: Any) -> None:
    a, b = world.staff["guide_a"], world.staff["guide_b"]
    ids = add_customers(world, a, world.flagship, 98)  # plus her 3 from the world
    assert len(ids) == 101
    hq = scope_of(world.staff["hq_admin"])
    with clock.frozen(T0):
        result = start_transfer(hq, ids, b.pk)
    assert len(result.batches) == 2
    sizes = sorted(Transfer.objects.filter(batch=bt).count() for bt in result.batches)
    assert sizes == [1, 100]
    assert result.waiting == 101 and not result.refused
    # while waiting she keeps her old guide
    assert Customer.objects.filter(pk__in=ids, guide=a).count() == 101
    assert AuditEntry.objects.filter(action="transfer.request").count() == 2

    with clock.frozen(T0 + dt.timedelta(hours=23, minutes=59)):
        assert complete_due_transfers() == 0
    with clock.frozen(T0 + dt.timedelta(hours=24)):
        assert complete_due_transfers() == 101
        assert complete_due_transfers() == 0  # idempotent
    assert Customer.objects.filter(pk__in=ids, guide=b).count() == 101
    assert Transfer.objects.filter(status="done").count() == 101
    assert Binding.objects.filter(customer_id=ids[0], source="transfer", previous_guide=a).exists()


def test_a_third_transfer_in_90_days_is_refused_up_front(world: Any, scope_of: Any) -> None:
    hq = scope_of(world.staff["hq_admin"])
    cid = world.customers["chen.guide"][0]
    a, b = world.staff["guide_a"].pk, world.staff["guide_b"].pk
    for n, (to, when) in enumerate([(b, T0), (a, T0 + 2 * DAY)]):
        with clock.frozen(when):
            assert start_transfer(hq, [cid], to).waiting == 1, n
        with clock.frozen(when + DAY):
            complete_due_transfers()
    with clock.frozen(T0 + 10 * DAY):
        result = start_transfer(hq, [cid, world.customers["chen.guide"][1]], b)
    assert [r.customer_id for r in result.refused] == [cid]
    assert "90" in result.refused[0].reason
    assert result.waiting == 1
    with clock.frozen(T0 + 91 * DAY):  # the first one left the window
        assert start_transfer(hq, [cid], b).waiting == 1


def test_the_customer_may_refuse_an_in_service_transfer(world: Any, scope_of: Any) -> None:
    hq = scope_of(world.staff["hq_admin"])
    cid = world.customers["chen.guide"][0]
    with clock.frozen(T0):
        t = start_transfer(hq, [cid], world.staff["guide_b"].pk).transfers[0]
        refuse_transfer(hq, t.pk)
    with clock.frozen(T0 + 2 * DAY):
        assert complete_due_transfers() == 0
    assert Transfer.objects.get(pk=t.pk).status == "refused"
    assert Customer.objects.get(pk=cid).guide_id == world.staff["guide_a"].pk
    with pytest.raises(ValidationError):
        refuse_transfer(hq, t.pk)  # no longer waiting


def test_a_receiver_at_her_limit_gets_no_more(world: Any, scope_of: Any) -> None:
    policy = policy_of(world.brand.pk)
    policy.receiver_limit = 4  # guide B holds 3
    policy.save()
    hq = scope_of(world.staff["hq_admin"])
    ids = world.customers["chen.guide"]
    with clock.frozen(T0):
        result = start_transfer(hq, ids, world.staff["guide_b"].pk)
    statuses = [t.status for t in result.transfers]
    assert statuses == ["waiting", "receiver_full", "receiver_full"]
    with clock.frozen(T0 + 2 * DAY):
        complete_due_transfers()
    assert Customer.objects.filter(pk__in=ids, guide=world.staff["guide_a"]).count() == 2


def test_transfers_need_the_permission_and_customers_in_reach(world: Any, scope_of: Any) -> None:
    with pytest.raises(PermissionDenied):
        start_transfer(scope_of(world.staff["guide_a"]), world.customers["chen.guide"], world.staff["guide_b"].pk)
    sm = scope_of(world.staff["store_manager"])
    with pytest.raises(ValidationError) as exc:
        start_transfer(sm, [world.customers["sun.guide"][0]], world.staff["guide_b"].pk)
    assert "customers" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        start_transfer(sm, [world.customers["chen.guide"][0]], world.other_guide.pk)  # receiver out of reach
    assert "to_guide" in exc.value.message_dict
    with pytest.raises(ValidationError):
        start_transfer(sm, [], world.staff["guide_b"].pk)
    assert not Transfer.objects.exists()


# --- Inheritance when a guide leaves ------------------------------------------------------------
def test_a_leaving_guides_customers_go_to_the_least_loaded_guides_of_her_store(world: Any, scope_of: Any) -> None:
    a, b = world.staff["guide_a"], world.staff["guide_b"]
    c = new_guide(world, "new.guide", world.flagship)  # holds nobody yet
    ids = add_customers(world, a, world.flagship, 7)  # guide A: 3 + 7 = 10
    assert len(ids) == 10
    with clock.frozen(T0):
        org.mark_staff_left(scope_of(world.staff["store_manager"]), a.pk)
    assert not Customer.objects.filter(guide=a).exists()  # never guide-less, never with a leaver
    got_b = Customer.objects.filter(pk__in=ids, guide=b).count()
    got_c = Customer.objects.filter(pk__in=ids, guide=c).count()
    assert got_b + got_c == 10
    assert (3 + got_b, got_c) in {(6, 7), (7, 6)} or abs((3 + got_b) - got_c) <= 1  # balanced
    rows = Transfer.objects.filter(kind="inheritance")
    assert rows.count() == 10 and set(rows.values_list("status", flat=True)) == {"waiting"}
    assert Binding.objects.filter(customer_id__in=ids, source="inheritance", previous_guide=a).count() == 10
    with clock.frozen(T0 + 2 * DAY):
        assert complete_due_transfers() == 10
    assert Customer.objects.filter(pk__in=ids, guide=a).count() == 0


def test_a_leave_with_chosen_guides_hands_over_to_them(world: Any, scope_of: Any) -> None:
    hq = org.hq_scope(world.brand.pk)
    org.mark_staff_left(hq, world.staff["guide_a"].pk, to_guides=[world.south_guide.pk])
    assert set(Customer.objects.filter(pk__in=world.customers["chen.guide"]).values_list("guide", flat=True)) == {
        world.south_guide.pk
    }


def test_a_leave_is_refused_when_nobody_can_take_her_customers(world: Any, scope_of: Any) -> None:
    hq = org.hq_scope(world.brand.pk)
    with pytest.raises(ValidationError) as exc:
        org.mark_staff_left(hq, world.other_guide.pk)  # alone in SH002
    assert "to_guides" in exc.value.message_dict
    from siyu.org.models import Staff

    assert Staff.objects.get(pk=world.other_guide.pk).employment == "active"
    assert Customer.objects.filter(guide=world.other_guide).count() == 3
    with pytest.raises(ValidationError):
        org.mark_staff_left(hq, world.other_guide.pk, to_guides=[world.other_guide.pk])
    org.mark_staff_left(hq, world.other_guide.pk, to_guides=[world.staff["guide_b"].pk, world.south_guide.pk])
    assert not Customer.objects.filter(guide=world.other_guide).exists()


def test_a_guide_without_customers_leaves_without_hand_over(world: Any) -> None:
    g = new_guide(world, "lonely.guide", world.hz1)
    org.mark_staff_left(org.hq_scope(world.brand.pk), g.pk)
    assert not Transfer.objects.exists()


def test_a_waiting_transfer_to_a_leaver_goes_to_another_guide_of_her_store(world: Any, scope_of: Any) -> None:
    hq = scope_of(world.staff["hq_admin"])
    cid = world.customers["sun.guide"][0]
    with clock.frozen(T0):
        t = start_transfer(hq, [cid], world.staff["guide_a"].pk).transfers[0]
        org.mark_staff_left(org.hq_scope(world.brand.pk), world.staff["guide_a"].pk)
    t.refresh_from_db()
    assert t.to_guide_id == world.staff["guide_b"].pk and t.status == "waiting"
    with clock.frozen(T0 + 2 * DAY):
        complete_due_transfers()
    assert Customer.objects.get(pk=cid).guide_id == world.staff["guide_b"].pk
