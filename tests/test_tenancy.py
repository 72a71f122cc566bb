"""Layered scoping (分层分权): every role sees exactly its reach, and nobody another brand."""

from __future__ import annotations

from typing import Any

import pytest
from django.http import Http404

from siyu.members.models import Customer
from siyu.org.models import Franchisee, Region, Staff, Store
from siyu.platform.tenancy import get_scoped, restrict

pytestmark = pytest.mark.django_db


def codes(qs: Any) -> set[str]:
    return set(qs.values_list("code", flat=True))


def test_hq_sees_the_whole_brand_and_nothing_of_another(world: Any, scope_of: Any) -> None:
    for key in ("hq_admin", "hq_operator"):
        scope = scope_of(world.staff[key])
        assert codes(restrict(Store, scope)) == {"SH001", "SH002", "HZ001", "GZ001"}
        assert codes(restrict(Region, scope)) == {"EAST", "SOUTH"}
        assert restrict(Customer, scope).count() == 12
        assert not restrict(Staff, scope).filter(brand=world.rival_brand).exists()


def test_region_manager_sees_her_regions_stores_only(world: Any, scope_of: Any) -> None:
    scope = scope_of(world.staff["region_manager"])
    assert codes(restrict(Store, scope)) == {"SH001", "SH002", "HZ001"}
    assert codes(restrict(Region, scope)) == {"EAST"}
    assert codes(restrict(Franchisee, scope)) == {"DIRECT", "F-HZ"}
    assert restrict(Customer, scope).count() == 9
    usernames = set(restrict(Staff, scope).values_list("username", flat=True))
    assert "he.guide" not in usernames and "zhou.east" in usernames and "sun.guide" in usernames


def test_store_manager_sees_her_store_only(world: Any, scope_of: Any) -> None:
    scope = scope_of(world.staff["store_manager"])
    assert codes(restrict(Store, scope)) == {"SH001"}
    assert restrict(Customer, scope).count() == 6
    assert set(restrict(Staff, scope).values_list("username", flat=True)) == {"wang.store", "chen.guide", "liu.guide"}


def test_guide_sees_her_store_and_her_own_customers(world: Any, scope_of: Any) -> None:
    scope = scope_of(world.staff["guide_a"])
    assert codes(restrict(Store, scope)) == {"SH001"}
    assert set(restrict(Customer, scope).values_list("pk", flat=True)) == set(world.customers["chen.guide"])
    assert codes(restrict(Franchisee, scope)) == set()
    assert set(restrict(Staff, scope).values_list("username", flat=True)) == {"chen.guide"}


def test_an_out_of_scope_row_looks_missing(world: Any, scope_of: Any) -> None:
    scope = scope_of(world.staff["guide_a"])
    with pytest.raises(Http404):
        get_scoped(Customer, scope, pk=world.customers["liu.guide"][0])
    with pytest.raises(Http404):
        get_scoped(Store, scope_of(world.staff["hq_admin"]), pk=world.rival_store.pk)


def test_a_guide_who_left_has_no_permissions(world: Any, scope_of: Any) -> None:
    from siyu.org import services

    services.mark_staff_left(scope_of(world.staff["store_manager"]), world.staff["guide_b"].pk)
    assert scope_of(world.staff["guide_b"]).perms == frozenset()
