"""The organisation through the REST API: every role sees exactly its reach, writes go through the
services (audited), and bad input is refused field by field with nothing changed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from siyu.members.models import Customer
from siyu.org.models import Franchisee, Posting, Region, Staff, Store
from siyu.platform.models import AuditEntry

pytestmark = pytest.mark.django_db

JSON = "application/json"


def get(client: Client, name: str, query: str = "", **kwargs: Any) -> Any:
    response = client.get(reverse(f"api:{name}", kwargs=kwargs) + (f"?{query}" if query else ""))
    return response


def send(client: Client, method: str, name: str, body: dict[str, Any], **kwargs: Any) -> Any:
    call = getattr(client, method.lower())
    return call(reverse(f"api:{name}", kwargs=kwargs), body, content_type=JSON)


def items(response: Any, key: str = "code") -> set[Any]:
    assert response.status_code == 200, response.content
    return {row[key] for row in response.json()["items"]}


def db_state() -> tuple[Any, ...]:
    """Everything a write could touch, to prove a refused write changed nothing."""
    return tuple(
        list(model.objects.order_by("pk").values()) for model in (Region, Franchisee, Store, Staff, Posting, AuditEntry)
    )


# --- Every role sees exactly its reach -------------------------------------------------------
ALL_STORES = {"SH001", "SH002", "HZ001", "GZ001"}
EAST_STORES = {"SH001", "SH002", "HZ001"}
SEEN = {
    # persona: (stores, regions, franchisees, staff usernames, customers)
    "hq_admin": (ALL_STORES, {"EAST", "SOUTH"}, {"DIRECT", "F-HZ"}, None, 12),
    "hq_operator": (ALL_STORES, {"EAST", "SOUTH"}, {"DIRECT", "F-HZ"}, None, 12),
    "region_manager": (
        EAST_STORES,
        {"EAST"},
        {"DIRECT", "F-HZ"},
        {"zhou.east", "wang.store", "chen.guide", "liu.guide", "sun.guide"},
        9,
    ),
    "store_manager": ({"SH001"}, {"EAST"}, {"DIRECT"}, {"wang.store", "chen.guide", "liu.guide"}, 6),
    "guide_a": ({"SH001"}, {"EAST"}, set(), {"chen.guide"}, 3),
}


@pytest.mark.parametrize("persona", sorted(SEEN))
def test_every_role_sees_exactly_its_reach(world: Any, client: Client, persona: str) -> None:
    stores, regions, franchisees, usernames, customers = SEEN[persona]
    world.login(client, persona)
    assert items(get(client, "store_list")) == stores
    assert items(get(client, "region_list")) == regions
    assert items(get(client, "franchisee_list")) == franchisees
    brand_staff = set(Staff.objects.filter(brand=world.brand).values_list("username", flat=True))
    assert items(get(client, "staff_list", "limit=500"), "username") == (usernames or brand_staff)
    response = get(client, "customer_list")
    assert response.json()["count"] == customers
    rival_customers = set(Customer.objects.filter(brand=world.rival_brand).values_list("pk", flat=True))
    assert not items(response, "id") & rival_customers


def test_only_the_hq_admin_reads_the_audit_log(world: Any, client: Client) -> None:
    for persona in ("hq_operator", "region_manager", "store_manager", "guide_a"):
        world.login(client, persona)
        assert get(client, "audit_list").status_code == 403
    world.login(client, "hq_admin")
    response = get(client, "audit_list", f"object_type=store&object_id={world.flagship.pk}")
    assert response.status_code == 200
    [entry] = response.json()["items"]
    assert entry["action"] == "store.create" and entry["after"]["code"] == "SH001"
    assert entry["before"] is None
    everything = get(client, "audit_list", "limit=500").json()
    assert everything["count"] == AuditEntry.objects.filter(brand_id=world.brand.pk).count()


def test_another_brands_rows_are_not_found(world: Any, client: Client) -> None:
    world.login(client, "hq_admin")
    rival_customer = Customer.objects.filter(brand=world.rival_brand).first()
    assert rival_customer is not None
    for name, kwargs in [
        ("store_detail", {"store_id": world.rival_store.pk}),
        ("region_detail", {"region_id": world.rival_store.region_id}),
        ("franchisee_detail", {"franchisee_id": world.rival_store.franchisee_id}),
        ("staff_detail", {"staff_id": world.rival_guide.pk}),
        ("customer_detail", {"customer_id": rival_customer.pk}),
    ]:
        response = get(client, name, **kwargs)
        assert response.status_code == 404, name
        assert response.json() == {"detail": response.json()["detail"]} and response.json()["detail"]
    before = db_state()
    for method, name, kwargs, body in [
        ("PATCH", "store_update", {"store_id": world.rival_store.pk}, {"name": "taken over"}),
        ("POST", "store_set_status", {"store_id": world.rival_store.pk}, {"status": "closed"}),
        ("PATCH", "region_update", {"region_id": world.rival_store.region_id}, {"name": "taken over"}),
        ("PATCH", "staff_update", {"staff_id": world.rival_guide.pk}, {"name": "taken over"}),
        ("POST", "staff_leave", {"staff_id": world.rival_guide.pk}, {}),
        ("POST", "staff_move", {"staff_id": world.rival_guide.pk}, {"store_id": world.flagship.pk}),
    ]:
        assert send(client, method, name, body, **kwargs).status_code == 404, name
    assert db_state() == before


# --- Filters and pages -----------------------------------------------------------------------
def test_store_filters(world: Any, client: Client) -> None:
    world.login(client, "hq_operator")
    assert items(get(client, "store_list", "city=上海")) == {"SH001", "SH002"}
    assert items(get(client, "store_list", f"region={world.south.pk}")) == {"GZ001"}
    assert items(get(client, "store_list", "q=湖滨")) == {"HZ001"}
    assert items(get(client, "store_list", "q=sh00")) == {"SH001", "SH002"}
    assert items(get(client, "store_list", "status=closed")) == set()
    bad = get(client, "store_list", "status=demolished")
    assert bad.status_code == 422
    assert [e["field"] for e in bad.json()["errors"]] == ["status"]


def test_staff_filters(world: Any, client: Client) -> None:
    world.login(client, "region_manager")
    guides = items(get(client, "staff_list", "role=guide"), "username")
    assert guides == {"chen.guide", "liu.guide", "sun.guide"}
    assert items(get(client, "staff_list", f"store={world.sh2.pk}"), "username") == {"sun.guide"}
    assert items(get(client, "staff_list", "q=13900000004"), "username") == {"wang.store"}
    assert items(get(client, "staff_list", "employment=left"), "username") == set()
    assert get(client, "staff_list", "role=boss").status_code == 422


def test_pages_have_count_limit_and_offset(world: Any, client: Client) -> None:
    world.login(client, "hq_admin")
    whole = get(client, "staff_list", "limit=500").json()
    assert whole["count"] == 8 and len(whole["items"]) == 8
    pages = [get(client, "staff_list", f"limit=3&offset={o}").json() for o in (0, 3, 6)]
    assert [len(p["items"]) for p in pages] == [3, 3, 2]
    assert {(p["count"], p["limit"]) for p in pages} == {(8, 3)}
    assert [p["offset"] for p in pages] == [0, 3, 6]
    assert [s["id"] for p in pages for s in p["items"]] == [s["id"] for s in whole["items"]]
    beyond = get(client, "staff_list", "offset=100").json()
    assert (beyond["count"], beyond["items"]) == (8, [])


@pytest.mark.parametrize("query", ["limit=501", "limit=0", "limit=-5", "limit=many", "offset=-1"])
def test_a_bad_page_is_refused(world: Any, client: Client, query: str, settings: Any) -> None:
    assert settings.NINJA_PAGINATION_MAX_LIMIT == 500
    world.login(client, "hq_admin")
    response = get(client, "store_list", query)
    assert response.status_code == 422
    body = response.json()
    assert body["detail"] and [e["field"] for e in body["errors"]] == [query.split("=")[0]]


LISTS = ["store_list", "region_list", "franchisee_list", "staff_list", "customer_list", "audit_list"]


@pytest.mark.parametrize("name", LISTS)
def test_lists_cost_a_fixed_number_of_queries(
    world: Any, client: Client, name: str, django_assert_max_num_queries: Any
) -> None:
    """Session (2) + rows (1) + count (1); the count stays flat however many rows come back."""
    world.login(client, "hq_admin")
    with django_assert_max_num_queries(4):
        assert get(client, name, "limit=2").status_code == 200
    with CaptureQueriesContext(connection) as small:
        get(client, name, "limit=1")
    with CaptureQueriesContext(connection) as large:
        get(client, name, "limit=500")
    assert len(large) <= len(small)


# --- Writes ----------------------------------------------------------------------------------
def test_hq_opens_a_store_and_finds_it(world: Any, client: Client) -> None:
    world.login(client, "hq_operator")
    body = {
        "region_id": world.south.pk,
        "franchisee_id": world.franchisee.pk,
        "code": "SZ001",
        "name": "深圳万象城店",
        "city": "深圳",
        "district": "罗湖区",
        "address": "深圳市罗湖区宝安南路 1881 号",
        "latitude": 22.540700,
        "longitude": 114.111900,
        "opening_hours": "10:00-22:30",
    }
    response = send(client, "POST", "store_create", body)
    assert response.status_code == 201, response.content
    created = response.json()
    assert (created["code"], created["region_id"], created["status"]) == ("SZ001", world.south.pk, "open")
    assert created["latitude"] == pytest.approx(22.5407)
    assert items(get(client, "store_list", "city=深圳")) == {"SZ001"}
    assert AuditEntry.objects.filter(action="store.create", object_id=str(created["id"])).count() == 1


def test_a_patch_changes_only_what_it_names(world: Any, client: Client) -> None:
    world.login(client, "region_manager")
    response = send(client, "PATCH", "store_update", {"phone": "021-62888888"}, store_id=world.flagship.pk)
    assert response.status_code == 200, response.content
    store = Store.objects.get(pk=world.flagship.pk)
    assert (store.phone, store.name, store.opening_hours) == ("021-62888888", "南京西路旗舰店", "10:00-22:00")
    entry = AuditEntry.objects.filter(action="store.update").get()
    assert (entry.before["phone"], entry.after["phone"]) == ("", "021-62888888")


def test_region_manager_moves_a_guide_between_her_stores(world: Any, client: Client) -> None:
    guide = world.staff["guide_b"]
    world.login(client, "region_manager")
    response = send(client, "POST", "staff_move", {"store_id": world.sh2.pk}, staff_id=guide.pk)
    assert response.status_code == 200, response.content
    assert response.json()["store_id"] == world.sh2.pk
    assert list(Posting.objects.filter(staff=guide, ended_at__isnull=True).values_list("store_id", flat=True)) == [
        world.sh2.pk
    ]
    assert AuditEntry.objects.filter(action="staff.move", object_id=str(guide.pk)).count() == 1


def test_store_manager_adds_a_guide_and_marks_one_as_left(world: Any, client: Client) -> None:
    world.login(client, "store_manager")
    body = {"username": "zhao.guide", "name": "赵敏", "role": "guide", "store_id": world.flagship.pk}
    response = send(client, "POST", "staff_create", {**body, "password": "a-good-password"})
    assert response.status_code == 201, response.content
    assert response.json()["store_id"] == world.flagship.pk
    leave = send(client, "POST", "staff_leave", {"left_on": "2026-07-01"}, staff_id=world.staff["guide_b"].pk)
    assert leave.status_code == 200, leave.content
    assert (leave.json()["employment"], leave.json()["left_on"]) == ("left", "2026-07-01")
    assert not Staff.objects.get(pk=world.staff["guide_b"].pk).is_active


def test_staff_output_never_carries_the_password(world: Any, client: Client) -> None:
    world.login(client, "hq_admin")
    listed = get(client, "staff_list", "limit=500")
    detail = get(client, "staff_detail", staff_id=world.staff["guide_a"].pk)
    created = send(
        client,
        "POST",
        "staff_create",
        {"username": "new.op", "name": "新人", "role": "hq_operator", "password": "pw-12345678"},
    )
    assert created.status_code == 201
    hashes = list(Staff.objects.values_list("password", flat=True))
    for response in (listed, detail, created):
        text = response.content.decode()
        assert "password" not in text
        assert not any(h and h in text for h in hashes)
    assert set(detail.json()) == {
        "id", "username", "phone", "name", "role", "region_id", "store_id", "employment", "joined_on", "left_on"
    }  # fmt: skip


# --- Bad input: 422 per field, nothing changed -----------------------------------------------
Kwargs = Callable[[Any], dict[str, Any]]
Body = Callable[[Any], dict[str, Any]]


def _store_body(w: Any, **change: Any) -> dict[str, Any]:
    body = {
        "region_id": w.east.pk,
        "franchisee_id": w.direct.pk,
        "code": "SH009",
        "name": "新天地店",
        "city": "上海",
        "address": "上海市黄浦区马当路 245 号",
        "latitude": "31.219500",
        "longitude": "121.474600",
    }
    body.update(change)
    return {k: v for k, v in body.items() if v is not None}


def no_kwargs(w: Any) -> dict[str, Any]:
    return {}


BAD_INPUT: list[tuple[str, str, str, Kwargs, Body, set[str] | None]] = [
    # persona, method, operation, URL kwargs, body, fields named in the errors
    ("hq_admin", "POST", "region_create", no_kwargs, lambda w: {"code": "bad code!", "name": ""}, {"code", "name"}),
    ("hq_admin", "POST", "region_create", no_kwargs, lambda w: {"name": "华北"}, {"code"}),
    ("hq_admin", "POST", "region_create", no_kwargs, lambda w: {"code": "EAST", "name": "又一个华东"}, {"code"}),
    (
        "hq_admin",
        "PATCH",
        "region_update",
        lambda w: {"region_id": w.east.pk},
        lambda w: {"status": "gone"},
        {"status"},
    ),
    ("hq_admin", "PATCH", "region_update", lambda w: {"region_id": w.east.pk}, lambda w: {"name": ""}, {"name"}),
    (
        "hq_operator",
        "POST",
        "franchisee_create",
        no_kwargs,
        lambda w: {"code": "F-NEW", "name": "新商贸", "credit_code": "12345"},
        {"credit_code"},
    ),
    (
        "hq_operator",
        "PATCH",
        "franchisee_update",
        lambda w: {"franchisee_id": w.franchisee.pk},
        lambda w: {"kind": "partner"},
        {"kind"},
    ),
    ("hq_operator", "POST", "store_create", no_kwargs, lambda w: _store_body(w, latitude="99"), {"latitude"}),
    ("hq_operator", "POST", "store_create", no_kwargs, lambda w: _store_body(w, longitude="east"), {"longitude"}),
    (
        "hq_operator",
        "POST",
        "store_create",
        no_kwargs,
        lambda w: _store_body(w, opening_hours="25:00-26:00"),
        {"opening_hours"},
    ),
    (
        "hq_operator",
        "POST",
        "store_create",
        no_kwargs,
        lambda w: _store_body(w, region_id=w.rival_store.region_id),
        {"region_id"},
    ),
    ("hq_operator", "POST", "store_create", no_kwargs, lambda w: _store_body(w, code="SH001"), {"code"}),
    ("hq_operator", "POST", "store_create", no_kwargs, lambda w: {"code": "SH009"}, None),  # all required missing
    (
        "region_manager",
        "PATCH",
        "store_update",
        lambda w: {"store_id": w.flagship.pk},
        lambda w: {"code": "SH100", "region_id": w.south.pk},
        {"code", "region_id"},
    ),
    (
        "region_manager",
        "PATCH",
        "store_update",
        lambda w: {"store_id": w.flagship.pk},
        lambda w: {"opening_hours": "all day"},
        {"opening_hours"},
    ),
    (
        "region_manager",
        "POST",
        "store_set_status",
        lambda w: {"store_id": w.flagship.pk},
        lambda w: {"status": "demolished"},
        {"status"},
    ),
    (
        "store_manager",
        "POST",
        "staff_create",
        no_kwargs,
        lambda w: {
            "username": "x.guide",
            "name": "新导购",
            "role": "guide",
            "store_id": w.flagship.pk,
            "password": "short",
        },
        {"password"},
    ),
    (
        "store_manager",
        "POST",
        "staff_create",
        no_kwargs,
        lambda w: {
            "username": "x",
            "name": "新导购",
            "role": "guide",
            "store_id": w.flagship.pk,
            "password": "long-enough",
        },
        {"username"},
    ),
    (
        "store_manager",
        "POST",
        "staff_create",
        no_kwargs,
        lambda w: {
            "username": "x.boss",
            "name": "新店长",
            "role": "store_manager",
            "store_id": w.flagship.pk,
            "password": "long-enough",
        },
        {"role"},
    ),
    (
        "region_manager",
        "POST",
        "staff_create",
        no_kwargs,
        lambda w: {"username": "x.guide", "name": "新导购", "role": "guide", "password": "long-enough"},
        {"store_id"},
    ),
    (
        "region_manager",
        "POST",
        "staff_create",
        no_kwargs,
        lambda w: {
            "username": "x.guide",
            "name": "新导购",
            "role": "guide",
            "store_id": w.gz1.pk,
            "password": "long-enough",
        },
        {"store_id"},
    ),
    (
        "hq_admin",
        "POST",
        "staff_create",
        no_kwargs,
        lambda w: {
            "username": "x.guide",
            "name": "新导购",
            "role": "guide",
            "store_id": w.flagship.pk,
            "phone": "12345",
            "password": "long-enough",
        },
        {"phone"},
    ),
    (
        "store_manager",
        "PATCH",
        "staff_update",
        lambda w: {"staff_id": w.staff["guide_b"].pk},
        lambda w: {"username": "lin.hq"},
        {"username"},
    ),
    (
        "store_manager",
        "PATCH",
        "staff_update",
        lambda w: {"staff_id": w.staff["guide_b"].pk},
        lambda w: {"phone": "0211234"},
        {"phone"},
    ),
    (
        "region_manager",
        "POST",
        "staff_move",
        lambda w: {"staff_id": w.staff["guide_b"].pk},
        lambda w: {"store_id": w.gz1.pk},
        {"store_id"},
    ),
    (
        "region_manager",
        "POST",
        "staff_move",
        lambda w: {"staff_id": w.staff["guide_b"].pk},
        lambda w: {},
        {"store_id"},
    ),
    (
        "region_manager",
        "POST",
        "staff_move",
        lambda w: {"staff_id": w.staff["guide_b"].pk},
        lambda w: {"store_id": w.flagship.pk},
        {"store_id"},
    ),
    (
        "store_manager",
        "POST",
        "staff_leave",
        lambda w: {"staff_id": w.staff["guide_b"].pk},
        lambda w: {"left_on": "last tuesday"},
        {"left_on"},
    ),
    # A field the operation does not take is refused, not silently dropped.
    (
        "region_manager",
        "PATCH",
        "store_update",
        lambda w: {"store_id": w.flagship.pk},
        lambda w: {"phone": "021-62888888", "status": "closed"},
        {"status"},
    ),
    (
        "store_manager",
        "PATCH",
        "staff_update",
        lambda w: {"staff_id": w.staff["guide_b"].pk},
        lambda w: {"name": "刘洋", "role": "store_manager"},
        {"role"},
    ),
]


@pytest.mark.parametrize(
    ("persona", "method", "name", "kwargs", "body", "fields"),
    BAD_INPUT,
    ids=[f"{c[2]}-{i}" for i, c in enumerate(BAD_INPUT)],
)
def test_bad_input_is_refused_per_field_and_changes_nothing(
    world: Any,
    client: Client,
    persona: str,
    method: str,
    name: str,
    kwargs: Kwargs,
    body: Body,
    fields: set[str] | None,
) -> None:
    world.login(client, persona)
    before = db_state()
    response = send(client, method, name, body(world), **kwargs(world))
    assert response.status_code == 422, response.content
    answer = response.json()
    assert answer["detail"]
    assert answer["errors"] and all(e["field"] and e["message"] for e in answer["errors"])
    if fields is not None:
        assert {e["field"] for e in answer["errors"]} == fields
    assert db_state() == before


def test_a_body_that_is_not_json_is_refused(world: Any, client: Client) -> None:
    world.login(client, "hq_admin")
    before = db_state()
    response = client.post(reverse("api:region_create"), "{code: NORTH", content_type=JSON)
    assert response.status_code == 400
    assert response.json()["detail"]
    assert db_state() == before


def test_staff_who_left_cannot_be_marked_again(world: Any, client: Client) -> None:
    world.login(client, "store_manager")
    guide = world.staff["guide_b"].pk
    assert send(client, "POST", "staff_leave", {}, staff_id=guide).status_code == 200
    before = db_state()
    again = send(client, "POST", "staff_leave", {}, staff_id=guide)
    assert again.status_code == 422
    assert [e["field"] for e in again.json()["errors"]] == ["employment"]
    assert db_state() == before
