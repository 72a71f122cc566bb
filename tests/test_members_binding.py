"""Binding a customer to a guide under the brand's policy: protection period, first come, last
touch, secondary guides, HQ assignment (ADR 0007)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404

from siyu.members.binding import Outcome, assign_guide, bind, binding_history, policy_of, secondary_guide_ids
from siyu.members.identity import IdentityIn, resolve
from siyu.members.models import Binding, BindingPolicy, Customer
from siyu.org import services as org
from siyu.platform.models import AuditEntry

pytestmark = pytest.mark.django_db
T0 = dt.datetime(2026, 7, 1, 9, 0, tzinfo=dt.UTC)


def fresh(world: Any) -> Customer:
    c, _ = resolve(world.brand.pk, [IdentityIn("wecom", f"wm-{Customer.objects.count()}")], source="wecom", at=T0)
    return c


def test_an_unbound_customer_is_bound_and_protected(world: Any) -> None:
    c = fresh(world)
    guide = world.staff["guide_a"]
    r = bind(c, guide_id=guide.pk, source="guide_code", at=T0)
    assert r.outcome == Outcome.BOUND and r.changed
    c.refresh_from_db()
    assert (c.guide_id, c.store_id, c.bound_at) == (guide.pk, world.flagship.pk, T0)
    assert c.protected_until == T0 + dt.timedelta(days=30)
    row = Binding.objects.get(customer=c)
    assert (row.guide_id, row.previous_guide_id, row.source) == (guide.pk, None, "guide_code")


def test_the_same_guide_changes_nothing(world: Any) -> None:
    c = fresh(world)
    bind(c, guide_id=world.staff["guide_a"].pk, source="guide_code", at=T0)
    r = bind(c, guide_id=world.staff["guide_a"].pk, source="guide_code", at=T0 + dt.timedelta(days=1))
    assert r.outcome == Outcome.SAME and not r.changed
    assert Binding.objects.filter(customer=c).count() == 1


def test_inside_the_protection_period_she_stays_and_the_other_guide_becomes_secondary(world: Any) -> None:
    c = fresh(world)
    bind(c, guide_id=world.staff["guide_a"].pk, source="guide_code", at=T0)
    r = bind(c, guide_id=world.other_guide.pk, source="guide_code", at=T0 + dt.timedelta(days=29))
    assert r.outcome == Outcome.PROTECTED and not r.changed
    c.refresh_from_db()
    assert c.guide_id == world.staff["guide_a"].pk
    assert secondary_guide_ids(c) == [world.other_guide.pk]


def test_after_protection_first_come_keeps_her(world: Any) -> None:
    c = fresh(world)
    bind(c, guide_id=world.staff["guide_a"].pk, source="guide_code", at=T0)
    r = bind(c, guide_id=world.other_guide.pk, source="guide_code", at=T0 + dt.timedelta(days=31))
    assert r.outcome == Outcome.KEPT
    assert Customer.objects.get(pk=c.pk).guide_id == world.staff["guide_a"].pk


def test_after_protection_last_touch_moves_her(world: Any) -> None:
    policy = policy_of(world.brand.pk)
    policy.conflict, policy.add_secondary = BindingPolicy.Conflict.LAST_TOUCH, False
    policy.save()
    c = fresh(world)
    bind(c, guide_id=world.staff["guide_a"].pk, source="guide_code", at=T0)
    r = bind(c, guide_id=world.other_guide.pk, source="wecom", at=T0 + dt.timedelta(days=31))
    assert r.outcome == Outcome.MOVED
    c.refresh_from_db()
    assert (c.guide_id, c.store_id) == (world.other_guide.pk, world.sh2.pk)
    history = binding_history(c)
    assert [h.source for h in history] == ["wecom", "guide_code"]
    assert history[0].previous_guide_id == world.staff["guide_a"].pk
    assert secondary_guide_ids(c) == []


def test_a_store_code_binds_the_store_of_a_customer_without_a_guide_only(world: Any) -> None:
    c = fresh(world)
    assert bind(c, store_id=world.sh2.pk, source="store_code", at=T0).outcome == Outcome.BOUND
    assert Customer.objects.get(pk=c.pk).store_id == world.sh2.pk
    bind(c, guide_id=world.staff["guide_a"].pk, source="guide_code", at=T0)
    assert bind(c, store_id=world.sh2.pk, source="store_code").outcome == Outcome.STORE_ONLY


def test_only_active_guides_receive_customers(world: Any, scope_of: Any) -> None:
    c = fresh(world)
    leaver = org.create_staff(
        org.hq_scope(world.brand.pk), username="gone.guide", name="走", role="guide", store=world.sh2, password="x" * 8
    )
    org.mark_staff_left(org.hq_scope(world.brand.pk), leaver.pk)
    with pytest.raises(ValidationError):
        bind(c, guide_id=leaver.pk, source="guide_code")
    with pytest.raises(ValidationError):
        bind(c, guide_id=world.rival_guide.pk, source="guide_code")
    with pytest.raises(ValidationError):
        bind(c, guide_id=world.staff["hq_admin"].pk, source="hq")
    assert not Binding.objects.filter(customer=c).exists()


def test_hq_assignment_always_binds_and_is_audited(world: Any, scope_of: Any) -> None:
    cid = world.customers["chen.guide"][0]
    Customer.objects.filter(pk=cid).update(protected_until=T0 + dt.timedelta(days=3650))
    hq = scope_of(world.staff["hq_operator"])
    r = assign_guide(hq, cid, world.other_guide.pk)
    assert r.outcome == Outcome.MOVED
    assert Customer.objects.get(pk=cid).guide_id == world.other_guide.pk
    assert AuditEntry.objects.filter(action="customer.assign", object_id=str(cid)).exists()


def test_assignment_stays_within_reach(world: Any, scope_of: Any) -> None:
    store_manager = scope_of(world.staff["store_manager"])
    with pytest.raises(ValidationError):  # a guide of another store is outside her reach
        assign_guide(store_manager, world.customers["chen.guide"][0], world.other_guide.pk)
    with pytest.raises(Http404):
        assign_guide(store_manager, world.customers["sun.guide"][0], world.staff["guide_b"].pk)
    with pytest.raises(PermissionDenied):
        assign_guide(scope_of(world.staff["guide_a"]), world.customers["chen.guide"][0], world.staff["guide_b"].pk)
    r = assign_guide(store_manager, world.customers["chen.guide"][0], world.staff["guide_b"].pk)
    assert r.changed
