"""The profile slice's pages and API: masking per role, filters, bulk tagging of the filtered list,
the customer 360, settings with per-field errors, the guide's pages and the store mall's page."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from siyu.demo.personas import CUSTOMER_NAME, CUSTOMER_PHONE
from siyu.members import profile
from siyu.members import services as members
from siyu.members.models import Customer, CustomerTag, LifecyclePolicy, Note
from siyu.platform.models import AuditEntry

pytestmark = pytest.mark.django_db


def demo_id(world: Any) -> int:
    return members.visible_customers(world.staff["hq_admin"].scope, phone=CUSTOMER_PHONE).get().pk


@pytest.fixture
def tag(world: Any) -> Any:
    hq = world.staff["hq_admin"].scope
    group = profile.create_tag_group(hq, name="Style")
    return profile.create_tag(hq, group=group, name="Running")


def ids(response: Any) -> set[int]:
    return {d.row.id for d in response.context["rows"]}


def test_search_by_exact_full_name_and_filters(client: Client, world: Any, tag: Any) -> None:
    world.login(client, "hq_admin")
    url = reverse("hq:customer_list")
    cid = demo_id(world)
    assert ids(client.get(url, {"q": CUSTOMER_NAME})) == {cid}
    assert ids(client.get(url, {"q": CUSTOMER_PHONE})) == {cid}
    assert ids(client.get(url, {"q": CUSTOMER_NAME[:1]})) == set()  # exact names only
    profile.add_tag(world.staff["hq_admin"].scope, cid, tag.pk)
    assert ids(client.get(url, {"tag": tag.pk})) == {cid}
    assert ids(client.get(url, {"tier": "regular", "store": world.sh2.pk})) == set(world.customers["sun.guide"])
    response = client.get(url, {"joined_from": "2026-07-01", "joined_to": "2026-06-01"})
    assert "joined_to" in response.context["form"].errors and ids(response) == set()


def test_bulk_tag_the_filtered_list_stays_in_reach(client: Client, world: Any, tag: Any) -> None:
    world.login(client, "store_manager")
    response = client.post(f"{reverse('hq:customer_bulk_tag')}?store={world.flagship.pk}", {"tag": tag.pk})
    assert response.status_code == 302 and f"store={world.flagship.pk}" in response.url
    tagged = set(CustomerTag.objects.values_list("customer_id", flat=True))
    assert tagged == set(world.customers["chen.guide"] + world.customers["liu.guide"])
    response = client.post(reverse("hq:customer_bulk_tag"), {"tag": 999999})
    assert CustomerTag.objects.count() == 6


def test_the_360_page_is_masked_for_hq_and_shows_her_history(client: Client, world: Any, tag: Any) -> None:
    cid = demo_id(world)
    hq = world.staff["hq_admin"].scope
    profile.add_tag(hq, cid, tag.pk)
    profile.add_note(hq, cid, text="Prefers trail shoes")
    profile.record_consent(hq, cid, "sms", True, "in store")
    world.login(client, "hq_admin")
    html = client.get(reverse("hq:customer_detail", args=[cid])).content.decode()
    assert CUSTOMER_PHONE not in html and "138****8000" in html
    assert "Running" in html and "Prefers trail shoes" in html and "in store" in html
    assert reverse("hq:customer_erase", args=[cid]) in html
    client.logout()
    world.login(client, "hq_operator")  # no members.privacy: no export / erase buttons
    html = client.get(reverse("hq:customer_detail", args=[cid])).content.decode()
    assert reverse("hq:customer_erase", args=[cid]) not in html


def test_360_actions_tag_note_consent(client: Client, world: Any, tag: Any) -> None:
    cid = demo_id(world)
    world.login(client, "store_manager")
    client.post(reverse("hq:customer_tag", args=[cid]), {"tag": tag.pk, "action": "add"})
    assert CustomerTag.objects.filter(customer_id=cid).count() == 1
    client.post(reverse("hq:customer_note", args=[cid]), {"text": "call", "due_on": "2026-12-01"})
    note = Note.objects.get(customer_id=cid)
    assert note.kind == "follow_up"
    client.post(reverse("hq:customer_follow_up_done", args=[cid, note.pk]))
    assert Note.objects.get(pk=note.pk).done_at is not None
    client.post(reverse("hq:customer_consent", args=[cid]), {"channel": "fax", "granted": "1", "source": "x"})
    assert not profile.consent_history(cid)
    client.post(reverse("hq:customer_consent", args=[cid]), {"channel": "sms", "granted": "0", "source": "phone"})
    assert [s.granted for s in profile.consent_state(cid) if s.channel == "sms"] == [False]


def test_erase_page_needs_confirmation(client: Client, world: Any) -> None:
    cid = demo_id(world)
    world.login(client, "hq_admin")
    url = reverse("hq:customer_erase", args=[cid])
    response = client.post(url, {"reason": "asked"})
    assert response.status_code == 400 and "confirm" in response.context["form"].errors
    assert Customer.objects.get(pk=cid).erased_at is None
    assert client.post(url, {"reason": "asked", "confirm": "on"}).status_code == 302
    assert Customer.objects.get(pk=cid).erased_at is not None
    data = client.get(reverse("hq:customer_data_export", args=[demo_id_or_none(world) or cid]))
    assert data.status_code == 404


def demo_id_or_none(world: Any) -> int | None:
    found = members.visible_customers(world.staff["hq_admin"].scope, phone=CUSTOMER_PHONE).first()
    return found.pk if found else None


def test_data_export_is_json_of_her_data(client: Client, world: Any) -> None:
    cid = demo_id(world)
    world.login(client, "hq_admin")
    response = client.get(reverse("hq:customer_data_export", args=[cid]))
    data = json.loads(response.content)
    assert data["customer"]["phone"] == CUSTOMER_PHONE and response["Content-Disposition"].startswith("attachment")


def test_settings_errors_land_on_fields_and_change_nothing(client: Client, world: Any) -> None:
    world.login(client, "hq_operator")
    response = client.post(reverse("hq:lifecycle_settings"), {"new_days": 30, "dormant_days": 10, "churned_days": 5})
    assert response.status_code == 400
    assert "dormant_days" in response.context["lifecycle_form"].errors
    assert not LifecyclePolicy.objects.exists()
    response = client.post(
        reverse("hq:tier_level_create"), {"code": "gold", "name": "Gold", "rank": 1, "min_spend": "12.345"}
    )
    assert response.status_code == 400 and "min_spend" in response.context["tier_form"].errors
    assert (
        client.post(
            reverse("hq:tier_level_create"), {"code": "gold", "name": "Gold", "rank": 1, "min_spend": "5000"}
        ).status_code
        == 302
    )
    assert profile.tier_levels(world.brand.pk)[0].min_spend_fen == 500_000
    assert AuditEntry.objects.filter(action="tier_level.create").exists()


def test_the_guide_sees_her_own_in_full_and_works_inline(client: Client, world: Any, tag: Any) -> None:
    cid = demo_id(world)
    world.login(client, "guide_a")
    response = client.get(reverse("guide:customer_list"), {"q": CUSTOMER_NAME})
    assert ids(response) == {cid} and CUSTOMER_PHONE in response.content.decode()
    back = reverse("guide:customer_list")
    assert client.post(reverse("guide:customer_tag", args=[cid]), {"tag": tag.pk, "next": back}).url == back
    assert ids(client.get(back, {"tag": tag.pk})) == {cid}
    client.post(reverse("guide:customer_note", args=[cid]), {"text": "visit Sunday", "due_on": "2020-01-01"})
    html = client.get(reverse("guide:follow_ups")).content.decode()
    assert "visit Sunday" in html
    html = client.get(reverse("guide:customer_detail", args=[cid])).content.decode()
    assert f'href="tel:{CUSTOMER_PHONE}"' in html and "visit Sunday" in html


def test_api_filters_and_masking(client: Client, world: Any, tag: Any) -> None:
    cid = demo_id(world)
    profile.add_tag(world.staff["hq_admin"].scope, cid, tag.pk)
    world.login(client, "hq_admin")
    listed = client.get(reverse("api:customer_list"), {"tag": tag.pk}).json()
    assert [c["id"] for c in listed["items"]] == [cid] and listed["items"][0]["phone"] == "138****8000"
    listed = client.get(reverse("api:customer_list"), {"name": CUSTOMER_NAME}).json()
    assert [c["id"] for c in listed["items"]] == [cid]
    response = client.post(
        reverse("api:customer_tag_bulk"),
        json.dumps({"tag_id": tag.pk, "customer_ids": [world.customers["rival.guide"][0]]}),
        content_type="application/json",
    )
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "customer_ids"
    client.logout()
    world.login(client, "guide_a")
    item = client.get(reverse("api:customer_detail", kwargs={"customer_id": cid})).json()
    assert item["phone"] == CUSTOMER_PHONE and item["masked"] is False


def test_csv_export_is_masked(client: Client, world: Any) -> None:
    world.login(client, "hq_admin")
    body = b"".join(client.get(reverse("hq:customer_export")).streaming_content).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(body)))
    assert CUSTOMER_PHONE not in body and len(rows) == 13


def test_list_pages_have_constant_query_counts_with_tags(client: Client, world: Any, tag: Any) -> None:
    hq = world.staff["hq_admin"].scope
    for cid in world.customers["chen.guide"]:
        profile.add_tag(hq, cid, tag.pk)

    def count(url: str) -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url).status_code == 200
        return len(ctx)

    world.login(client, "hq_admin")
    before = count(reverse("hq:customer_list"))
    for cid in world.customers["liu.guide"] + world.customers["sun.guide"]:
        profile.add_tag(hq, cid, tag.pk)
    assert count(reverse("hq:customer_list")) == before <= 10
    client.logout()
    world.login(client, "store_manager")
    before = count(reverse("guide:customer_list"))
    profile.add_note(hq, world.customers["liu.guide"][0], text="x")
    assert count(reverse("guide:customer_list")) == before


def test_the_mall_page_asks_to_scan_first(client: Client, world: Any) -> None:
    html = client.get(reverse("mall_me", args=["SH001"])).content.decode()
    assert reverse("mall_my_data", args=["SH001"]) not in html
    assert client.get(reverse("mall_my_data", args=["SH001"])).status_code == 302


def _as_customer(client: Client, customer_id: int) -> None:
    """Sign the browser in as the customer the way the scan flow does (its signed cookie)."""
    from django.core.signing import get_cookie_signer

    from siyu.members import views_scan

    name = views_scan.CUSTOMER_COOKIE
    client.cookies[name] = get_cookie_signer(salt=name + views_scan.SALT).sign(str(customer_id))


def test_the_customer_manages_her_consent_and_data_in_the_mall(client: Client, world: Any) -> None:
    cid = demo_id(world)
    _as_customer(client, cid)
    url = reverse("mall_me", args=["SH001"])
    html = client.get(url).content.decode()
    assert CUSTOMER_NAME in html and "138****8000" in html and CUSTOMER_PHONE not in html
    assert client.post(url, {"channel": "wecom", "granted": "1"}).status_code == 302
    state = {s.channel: s for s in profile.consent_state(cid)}
    assert state["wecom"].granted is True and state["wecom"].source == profile.SELF_SOURCE
    data = json.loads(client.get(reverse("mall_my_data", args=["SH001"])).content)
    assert data["customer"]["phone"] == CUSTOMER_PHONE
    assert client.get(reverse("mall_me", args=["NOPE"])).status_code == 404
    erase = reverse("mall_erase", args=["SH001"])
    assert client.post(erase, {}).status_code == 400
    assert Customer.objects.get(pk=cid).erased_at is None
    assert client.post(erase, {"confirm": "yes"}).status_code == 200
    assert Customer.objects.get(pk=cid).erased_at is not None
    assert "mall_my_data" not in client.get(url).content.decode()  # she is no longer known
