"""HQ console customer list: scoped by role, masked, filtered, paginated without N+1, and its CSV
export goes through the same scope and masking."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from siyu.demo.personas import CUSTOMER_NAME, CUSTOMER_PHONE
from siyu.members import services as members

pytestmark = pytest.mark.django_db


def ids(response: Any) -> set[int]:
    return {d.row.id for d in response.context["rows"]}


def in_brand(world: Any, *guides: str) -> set[int]:
    return {pk for g in guides for pk in world.customers[g]}


def test_each_role_sees_exactly_its_customers(client: Client, world: Any) -> None:
    brand = ("chen.guide", "liu.guide", "sun.guide", "he.guide")
    expected = {
        "hq_admin": in_brand(world, *brand),
        "hq_operator": in_brand(world, *brand),
        "region_manager": in_brand(world, "chen.guide", "liu.guide", "sun.guide"),
        "store_manager": in_brand(world, "chen.guide", "liu.guide"),
    }
    for key, wanted in expected.items():
        client.logout()
        assert ids(world.login(client, key).get(reverse("hq:customer_list"))) == wanted, key
    client.logout()
    world.login(client, "guide_a")
    assert client.get(reverse("hq:customer_list")).status_code == 403


def test_the_console_shows_customers_masked(client: Client, world: Any) -> None:
    world.login(client, "hq_admin")
    html = client.get(reverse("hq:customer_list")).content.decode()
    assert CUSTOMER_PHONE not in html and CUSTOMER_NAME not in html
    assert "138****8000" in html and "张**" in html


def test_filters_and_search_by_full_phone(client: Client, world: Any) -> None:
    world.login(client, "hq_admin")
    url = reverse("hq:customer_list")
    assert ids(client.get(url, {"store": world.sh2.pk})) == in_brand(world, "sun.guide")
    assert ids(client.get(url, {"guide": world.staff["guide_b"].pk})) == in_brand(world, "liu.guide")
    demo_customer = members.visible_customers(members_scope(world), phone=CUSTOMER_PHONE).get()
    assert demo_customer.guide_id == world.staff["guide_a"].pk
    response = client.get(url, {"phone": "138 0013 8000"})
    assert ids(response) == {demo_customer.pk}
    response = client.get(url, {"phone": "12345"})
    assert ids(response) == set() and "phone" in response.context["form"].errors
    members.visible_customers(members_scope(world)).filter(pk=world.customers["he.guide"][0]).update(
        lifecycle="dormant"
    )
    assert ids(client.get(url, {"lifecycle": "dormant"})) == {world.customers["he.guide"][0]}
    # Choosing a store narrows the guides offered to that store's.
    form = client.get(url, {"store": world.flagship.pk}).context["form"]
    assert {v for v, _ in form.fields["guide"].choices if v} == {
        world.staff["guide_a"].pk,
        world.staff["guide_b"].pk,
    }


def members_scope(world: Any) -> Any:
    from siyu.org import services

    return services.hq_scope(world.brand.pk)


def test_a_region_manager_cannot_filter_into_another_region(client: Client, world: Any) -> None:
    world.login(client, "region_manager")
    response = client.get(reverse("hq:customer_list"), {"store": world.gz1.pk})
    assert "store" in response.context["form"].errors
    assert not ids(response) & in_brand(world, "he.guide")


def _csv(response: Any) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(body)))


def test_export_is_scoped_masked_and_filtered(client: Client, world: Any) -> None:
    world.login(client, "region_manager")
    response = client.get(reverse("hq:customer_export"))
    assert response.status_code == 200 and response["Content-Disposition"].endswith('customers.csv"')
    rows = _csv(response)
    assert {int(r[0]) for r in rows[1:]} == in_brand(world, "chen.guide", "liu.guide", "sun.guide")
    body = "\n".join(",".join(r) for r in rows)
    assert CUSTOMER_PHONE not in body and CUSTOMER_NAME not in body and "138****8000" in body
    rows = _csv(client.get(reverse("hq:customer_export"), {"store": world.sh2.pk}))
    assert {int(r[0]) for r in rows[1:]} == in_brand(world, "sun.guide")
    assert rows[1][3] == "SH002 五角场店" and rows[1][4] == "孙丽"


def _count(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx)


def test_customer_list_has_no_n_plus_one(client: Client, world: Any, django_assert_max_num_queries: Any) -> None:
    world.login(client, "hq_admin")
    url = reverse("hq:customer_list")
    before = _count(client, url)
    joined = dt.datetime(2026, 7, 1, tzinfo=dt.UTC)
    rows = [
        members.NewCustomer(
            phone=f"136{i:08d}", name=f"新客{i}", store_id=world.hz1.pk, guide_id=None, joined_at=joined
        )
        for i in range(40)
    ]
    list(members.bulk_add_customers(world.brand.pk, rows))
    assert _count(client, url) == before
    with django_assert_max_num_queries(8):
        client.get(url)
