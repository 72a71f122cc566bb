"""HQ console store pages: each role sees exactly its stores; search, filters, city and map views;
forms that reject bad input field by field and change nothing; the scoped CSV export."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from siyu.org.models import Store
from siyu.platform.models import AuditEntry

pytestmark = pytest.mark.django_db

ALL_CODES = {"SH001", "SH002", "HZ001", "GZ001", "R001"}


def listed_codes(html: str) -> set[str]:
    return {code for code in ALL_CODES if re.search(rf">{code}<", html)}


def as_(client: Client, world: Any, key: str) -> Client:
    return world.login(client, key)


def test_each_role_sees_exactly_its_stores(client: Client, world: Any) -> None:
    expected = {
        "hq_admin": {"SH001", "SH002", "HZ001", "GZ001"},
        "hq_operator": {"SH001", "SH002", "HZ001", "GZ001"},
        "region_manager": {"SH001", "SH002", "HZ001"},
        "store_manager": {"SH001"},
    }
    for key, codes in expected.items():
        client.logout()
        html = as_(client, world, key).get(reverse("hq:store_list")).content.decode()
        assert listed_codes(html) == codes, key
    client.logout()
    as_(client, world, "guide_a")
    assert client.get(reverse("hq:store_list")).status_code == 403


def test_search_and_filters(client: Client, world: Any) -> None:
    as_(client, world, "hq_admin")
    url = reverse("hq:store_list")
    assert listed_codes(client.get(url, {"q": "湖滨"}).content.decode()) == {"HZ001"}
    assert listed_codes(client.get(url, {"q": "杭州"}).content.decode()) == {"HZ001"}
    assert listed_codes(client.get(url, {"q": "sh00"}).content.decode()) == {"SH001", "SH002"}
    assert listed_codes(client.get(url, {"region": world.south.pk}).content.decode()) == {"GZ001"}
    assert listed_codes(client.get(url, {"city": "上海"}).content.decode()) == {"SH001", "SH002"}
    Store.objects.filter(pk=world.sh2.pk).update(status="paused")
    assert listed_codes(client.get(url, {"status": "paused"}).content.decode()) == {"SH002"}
    # A region outside the brand is not a choice: the filter reports it and applies nothing else.
    response = client.get(url, {"region": world.rival_store.region_id})
    assert response.status_code == 200
    assert "field-error" in response.content.decode()
    assert "R001" not in listed_codes(response.content.decode())


def test_region_manager_cannot_filter_her_way_into_another_region(client: Client, world: Any) -> None:
    as_(client, world, "region_manager")
    html = client.get(reverse("hq:store_list"), {"region": world.south.pk}).content.decode()
    assert "GZ001" not in listed_codes(html)
    assert "field-error" in html


def test_city_view_groups_stores_by_city(client: Client, world: Any) -> None:
    as_(client, world, "region_manager")
    html = client.get(reverse("hq:store_cities")).content.decode()
    assert "上海" in html and "杭州" in html and "广州" not in html
    assert html.index("上海") < html.index("杭州")  # the city with more stores first


def test_map_plots_one_point_per_store_with_a_title(client: Client, world: Any) -> None:
    as_(client, world, "hq_admin")
    html = client.get(reverse("hq:store_map")).content.decode()
    assert html.count("<circle") == 4
    assert "<title>SH001 南京西路旗舰店 · 上海" in html
    assert 'class="city-label"' in html and "广州 1" in html
    assert "R001" not in html
    # One city: the map zooms in and labels each store.
    html = client.get(reverse("hq:store_map"), {"city": "上海"}).content.decode()
    assert html.count("<circle") == 2 and ">SH002</text>" in html


def test_store_detail_in_and_out_of_reach(client: Client, world: Any) -> None:
    as_(client, world, "region_manager")
    response = client.get(reverse("hq:store_detail", args=[world.flagship.pk]))
    html = response.content.decode()
    assert response.status_code == 200
    assert "10:00-22:00" in html and "飞跃运动（上海）有限公司" in html
    assert "陈静" in html and "刘洋" in html  # the staff of the store
    assert "uri.amap.com/marker?position=121.459500,31.229800" in html
    assert client.get(reverse("hq:store_detail", args=[world.gz1.pk])).status_code == 404
    assert client.get(reverse("hq:store_detail", args=[world.rival_store.pk])).status_code == 404


def _store_form(world: Any, **override: Any) -> dict[str, Any]:
    data = {
        "code": "SH099",
        "name": "静安寺店",
        "region": world.east.pk,
        "franchisee": world.direct.pk,
        "city": "上海",
        "district": "静安区",
        "address": "南京西路1618号",
        "latitude": "31.223000",
        "longitude": "121.445000",
        "opening_hours": "10:00-22:00",
        "phone": "",
        "opened_on": "2026-05-01",
        "status": "open",
    }
    data.update(override)
    return data


def test_create_store_then_find_it_in_the_list(client: Client, world: Any) -> None:
    as_(client, world, "hq_operator")
    audits = AuditEntry.objects.count()
    response = client.post(reverse("hq:store_create"), _store_form(world))
    store = Store.objects.get(brand=world.brand, code="SH099")
    assert response.status_code == 302 and response.url == reverse("hq:store_detail", args=[store.pk])
    assert AuditEntry.objects.count() == audits + 1
    entry = AuditEntry.objects.latest("id")
    assert entry.action == "store.create" and entry.after["code"] == "SH099"
    assert "SH099" in client.get(reverse("hq:store_list"), {"q": "静安寺"}).content.decode()
    html = client.get(reverse("hq:store_detail", args=[store.pk])).content.decode()
    assert "上海 静安区 南京西路1618号" in html  # city and district before a street address
    assert "2026-05-01" in html  # dates read the same on every page


def test_an_address_that_names_its_city_does_not_say_it_twice(client: Client, world: Any) -> None:
    as_(client, world, "hq_operator")
    form = _store_form(world, address="上海市静安区南京西路1618号")
    assert client.post(reverse("hq:store_create"), form).status_code == 302
    store = Store.objects.get(brand=world.brand, code="SH099")
    html = client.get(reverse("hq:store_detail", args=[store.pk])).content.decode()
    assert "<dd>上海市静安区南京西路1618号</dd>" in html


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"code": "no spaces!"}, "code"),
        ({"code": "SH001"}, "code"),  # already used in the brand
        ({"name": ""}, "name"),
        ({"latitude": "99"}, "latitude"),
        ({"longitude": "east"}, "longitude"),
        ({"opening_hours": "25:00-26:00"}, "opening_hours"),
        ({"region": "999999"}, "region"),
        ({"opened_on": "2026-13-45"}, "opened_on"),
    ],
)
def test_bad_store_input_is_rejected_field_by_field(
    client: Client, world: Any, override: dict[str, Any], field: str
) -> None:
    as_(client, world, "hq_admin")
    stores, audits = Store.objects.count(), AuditEntry.objects.count()
    response = client.post(reverse("hq:store_create"), _store_form(world, **override))
    assert response.status_code == 400
    form = response.context["form"]
    assert field in form.errors, form.errors
    html = response.content.decode()
    assert f'data-field="{field}"' in html and "field-error" in html
    assert Store.objects.count() == stores and AuditEntry.objects.count() == audits


def test_region_manager_edits_her_store_but_not_its_code_or_owner(client: Client, world: Any) -> None:
    as_(client, world, "region_manager")
    url = reverse("hq:store_edit", args=[world.flagship.pk])
    html = client.get(url).content.decode()
    assert 'name="name"' in html and 'name="code"' not in html and 'name="franchisee"' not in html
    data = _store_form(world, code="HACK", franchisee=world.franchisee.pk, name="南京西路旗舰店·新")
    response = client.post(url, data)
    assert response.status_code == 302
    store = Store.objects.get(pk=world.flagship.pk)
    assert store.name == "南京西路旗舰店·新" and store.code == "SH001" and store.franchisee_id == world.direct.pk
    entry = AuditEntry.objects.latest("id")
    assert entry.action == "store.update" and ("name", "南京西路旗舰店", "南京西路旗舰店·新") in entry.changes()
    assert client.get(reverse("hq:store_edit", args=[world.gz1.pk])).status_code == 404


def test_who_sees_which_store_buttons(client: Client, world: Any) -> None:
    url = reverse("hq:store_detail", args=[world.flagship.pk])
    as_(client, world, "store_manager")
    html = client.get(url).content.decode()
    assert reverse("hq:store_edit", args=[world.flagship.pk]) not in html
    assert reverse("hq:store_status", args=[world.flagship.pk]) not in html
    assert client.post(reverse("hq:store_status", args=[world.flagship.pk]), {"status": "closed"}).status_code == 403
    assert Store.objects.get(pk=world.flagship.pk).status == "open"
    assert client.get(reverse("hq:store_create")).status_code == 403
    client.logout()
    as_(client, world, "region_manager")
    html = client.get(url).content.decode()
    assert reverse("hq:store_edit", args=[world.flagship.pk]) in html
    assert reverse("hq:store_create") not in client.get(reverse("hq:store_list")).content.decode()


def test_pause_close_and_reopen(client: Client, world: Any) -> None:
    as_(client, world, "region_manager")
    url = reverse("hq:store_status", args=[world.hz1.pk])
    for status in ("paused", "closed", "open"):
        assert client.post(url, {"status": status}).status_code == 302
        assert Store.objects.get(pk=world.hz1.pk).status == status
    actions = list(AuditEntry.objects.filter(object_type="store", object_id=str(world.hz1.pk)).values_list("action"))
    assert len(actions) == 4  # created, then three changes
    audits = AuditEntry.objects.count()
    response = client.post(url, {"status": "demolished"})
    assert response.status_code == 400 and response.context["error"]
    assert 'role="alert"' in response.content.decode()
    assert Store.objects.get(pk=world.hz1.pk).status == "open" and AuditEntry.objects.count() == audits
    assert client.post(reverse("hq:store_status", args=[world.gz1.pk]), {"status": "closed"}).status_code == 404


def _csv(response: Any) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(body)))


def test_store_export_is_scoped_and_filtered(client: Client, world: Any) -> None:
    as_(client, world, "region_manager")
    response = client.get(reverse("hq:store_export"))
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = _csv(response)
    assert [r[0] for r in rows[1:]] == ["HZ001", "SH001", "SH002"]
    rows = _csv(client.get(reverse("hq:store_export"), {"city": "杭州"}))
    assert [r[0] for r in rows[1:]] == ["HZ001"]
    assert rows[1][3] == "杭州跑者商贸有限公司"


def _count(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx)


def test_store_list_has_no_n_plus_one(client: Client, world: Any, django_assert_max_num_queries: Any) -> None:
    as_(client, world, "hq_admin")
    url = reverse("hq:store_list")
    before = _count(client, url)
    from siyu.org import services

    hq = services.hq_scope(world.brand.pk)
    for i in range(12):
        services.create_store(
            hq,
            code=f"NB{i:03d}",
            name=f"宁波{i}店",
            city="宁波",
            address="天一广场",
            latitude="29.870000",
            longitude="121.550000",
            region=world.east,
            franchisee=world.franchisee,
            opening_hours="10:00-22:00",
        )
    assert _count(client, url) == before
    for view in ("hq:store_list", "hq:store_cities", "hq:store_map"):
        with django_assert_max_num_queries(10):
            client.get(reverse(view))
