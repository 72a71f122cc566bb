"""The audit log names stores, regions and staff instead of their ids, and masks personal data:
mobile numbers (staff, franchisee contacts) and the names of contact persons; customers appear by
number only."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from siyu.members import transfers
from siyu.org import services

pytestmark = pytest.mark.django_db


def audit_page(world: Any, **query: str) -> str:
    client = world.login(Client(), "hq_admin")
    response = client.get(reverse("hq:audit_list"), query)
    assert response.status_code == 200
    return response.content.decode()


def test_a_new_colleague_shows_with_her_store_by_name_and_her_number_masked(world: Any) -> None:
    hq = services.hq_scope(world.brand.pk, "测试")
    services.create_staff(
        hq, username="zhao.new", phone="13912345678", name="赵新", role="guide", store=world.hz1, password="x" * 10
    )
    html = audit_page(world, object_type="staff")
    assert "13912345678" not in html
    assert "139****5678" in html
    assert f"{world.hz1.code} {world.hz1.name}" in html
    assert f'<span class="new">{world.hz1.pk}</span>' not in html


def test_a_move_shows_both_stores_by_name(world: Any) -> None:
    hq = services.hq_scope(world.brand.pk, "测试")
    services.move_staff(hq, world.other_guide.pk, store=world.hz1)
    html = audit_page(world, object_type="staff")
    old, new = f"{world.sh2.code} {world.sh2.name}", f"{world.hz1.code} {world.hz1.name}"
    assert f'<span class="old">{old}</span> → <span class="new">{new}</span>' in html


def test_a_franchisees_contact_person_and_phone_are_masked(world: Any) -> None:
    hq = services.hq_scope(world.brand.pk, "测试")
    services.update_franchisee(hq, world.franchisee.pk, contact_name="钱多多", contact_phone="13600001111")
    html = audit_page(world, object_type="franchisee")
    assert "钱多多" not in html and "13600001111" not in html
    assert "钱**" in html and "136****1111" in html


def test_a_transfer_names_the_receiving_guide_and_numbers_the_customers(world: Any) -> None:
    hq = services.hq_scope(world.brand.pk, "测试")
    ids = world.customers["liu.guide"][:2]
    transfers.start_transfer(hq, ids, world.staff["guide_a"].pk)
    html = audit_page(world, object_type="transfer")
    assert world.staff["guide_a"].name in html
    for pk in ids:
        assert f"#{pk}" in html


def test_the_staff_page_trail_is_readable_too(world: Any) -> None:
    hq = services.hq_scope(world.brand.pk, "测试")
    services.update_staff(hq, world.other_guide.pk, phone="13700002222")
    client = world.login(Client(), "hq_admin")
    html = client.get(reverse("hq:staff_detail", args=[world.other_guide.pk])).content.decode()
    assert "13700002222" not in html and "137****2222" in html


def test_names_cost_one_query_per_kind_however_many_entries(world: Any) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    hq = services.hq_scope(world.brand.pk, "测试")
    for n in range(30):  # a full page of entries naming staff and stores
        services.move_staff(hq, world.other_guide.pk, store=world.hz1 if n % 2 == 0 else world.sh2)
    client = world.login(Client(), "hq_admin")
    client.get(reverse("hq:audit_list"))  # warm the session
    with CaptureQueriesContext(connection) as captured:
        html = client.get(reverse("hq:audit_list")).content.decode()
    assert html.count(f"{world.hz1.code} {world.hz1.name}") >= 25
    reads = [q["sql"] for q in captured]
    assert sum('FROM "org_store"' in sql for sql in reads) == 1
    assert sum('FROM "org_staff"' in sql for sql in reads) <= 2  # the signed-in user, and the names
