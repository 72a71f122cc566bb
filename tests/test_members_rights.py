"""PIPL rights: a customer's data export (everything, decrypted) and erasure (anonymised everywhere,
history included, irreversible, idempotent, gone from every list, export and API)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.apps import apps
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.test import Client
from django.urls import reverse

from siyu.demo.personas import CUSTOMER_NAME, CUSTOMER_PHONE
from siyu.members import identity, profile, rights
from siyu.members import services as members
from siyu.members.models import Customer, Identity, Note, Touch, TouchKind
from siyu.platform import privacy
from siyu.platform.models import AuditEntry

pytestmark = pytest.mark.django_db


@pytest.fixture
def rich(world: Any) -> dict[str, Any]:
    """The demo customer (guide A's) with identities, touches, tags, notes, consent, a merged twin."""
    hq = world.staff["hq_admin"].scope
    customer = members.visible_customers(hq, phone=CUSTOMER_PHONE).get()
    cid = customer.pk
    twin = next(pk for pk in world.customers["chen.guide"] if pk != cid)
    Customer.objects.filter(pk=cid).update(birthday=dt.date(1990, 5, 1), preferences={"size": "41"})
    identity.ensure_phone_identity(customer)
    identity.ensure_phone_identity(Customer.objects.get(pk=twin))
    Identity.objects.create(
        brand_id=world.brand.pk,
        customer=customer,
        origin=customer,
        kind="unionid",
        key="oUNION-zhang",
        created_at=customer.joined_at,
    )
    Touch.objects.create(
        brand_id=world.brand.pk,
        customer=customer,
        kind=TouchKind.SCAN,
        at=customer.joined_at,
        properties={"nickname": CUSTOMER_NAME, "phone": CUSTOMER_PHONE},
    )
    group = profile.create_tag_group(hq, name="Style")
    tag = profile.create_tag(hq, group=group, name="Running")
    profile.add_tag(hq, cid, tag.pk)
    profile.add_note(hq, cid, text=f"{CUSTOMER_NAME} prefers calls on {CUSTOMER_PHONE}")
    profile.record_consent(hq, cid, "sms", True, "in store")
    identity.merge_customers(hq, cid, twin, reason="same person, two cards")
    twin_phone = privacy.unseal(Customer.objects.get(pk=twin).phone_sealed)
    twin_name = privacy.unseal(Customer.objects.get(pk=twin).name_sealed)
    return {"cid": cid, "twin": twin, "hq": hq, "secrets": [CUSTOMER_PHONE, CUSTOMER_NAME, twin_phone, twin_name]}


def test_export_contains_all_her_data_decrypted(world: Any, rich: dict[str, Any]) -> None:
    data = rights.export_customer_data(rich["hq"], rich["cid"])
    text = json.dumps(data, ensure_ascii=False)
    assert data["customer"]["phone"] == CUSTOMER_PHONE and data["customer"]["name"] == CUSTOMER_NAME
    assert data["customer"]["birthday"] == "1990-05-01"
    assert {i["kind"] for i in data["identities"]} >= {"phone", "unionid"}
    assert CUSTOMER_PHONE in [i["value"] for i in data["identities"]]
    assert [t["tag"] for t in data["tags"]] == ["Running"]
    assert data["notes"][0]["text"].startswith(CUSTOMER_NAME)
    assert data["consent"][0]["channel"] == "sms"
    assert data["touches"][0]["properties"]["phone"] == CUSTOMER_PHONE
    assert [m["id"] for m in data["merged_records"]] == [rich["twin"]]
    assert "sealed" not in text
    assert AuditEntry.objects.filter(action="customer.data_export").exists()


def test_export_and_erase_need_the_privacy_permission(world: Any, rich: dict[str, Any], scope_of: Any) -> None:
    for key in ("hq_operator", "region_manager", "store_manager", "guide_a"):
        s = scope_of(world.staff[key])
        with pytest.raises(PermissionDenied):
            rights.export_customer_data(s, rich["cid"])
        with pytest.raises(PermissionDenied):
            rights.erase_customer(s, rich["cid"], "asked")
    assert not Customer.objects.filter(erased_at__isnull=False).exists()


def test_erase_needs_a_reason_and_changes_nothing_without(world: Any, rich: dict[str, Any]) -> None:
    with pytest.raises(ValidationError) as exc:
        rights.erase_customer(rich["hq"], rich["cid"], "  ")
    assert "reason" in exc.value.message_dict
    assert Customer.objects.get(pk=rich["cid"]).phone_hash


def all_member_rows() -> str:
    """Every row of every members table, and the audit log, as one big text."""
    chunks = []
    for model in [*apps.get_app_config("members").get_models(), AuditEntry]:
        for row in model.objects.all().values():
            chunks.append(json.dumps(row, default=str, ensure_ascii=False))
    return "\n".join(chunks)


def test_erase_removes_personal_data_everywhere(world: Any, rich: dict[str, Any], client: Client) -> None:
    cid, twin = rich["cid"], rich["twin"]
    before = {c.pk: c for c in Customer.objects.filter(pk__in=[cid, twin])}
    sealed = [v for c in before.values() for v in (c.phone_sealed, c.name_sealed, c.phone_hash, c.name_hash)]
    sealed += list(Note.objects.filter(customer_id=cid).values_list("text_sealed", flat=True))
    spent = before[cid].total_spent_fen

    assert rights.erase_customer(rich["hq"], cid, "asked by phone on 1 Nov") is True

    dump = all_member_rows()
    for secret in rich["secrets"]:
        assert secret not in dump
    for value in sealed:
        assert value and value not in dump
    assert "oUNION-zhang" not in dump
    erased = Customer.objects.get(pk=cid)
    assert erased.erased_at is not None and erased.birthday is None and erased.preferences == {}
    assert erased.total_spent_fen == spent  # aggregates kept
    assert Customer.objects.get(pk=twin).erased_at is not None  # the whole cluster
    assert not Identity.objects.filter(customer_id__in=[cid, twin]).exists()
    assert Touch.objects.filter(customer_id=cid).count() == 1  # the touch stays, without its details
    entry = AuditEntry.objects.get(action="customer.erase")
    assert entry.after == {"records": 2, "reason": "asked by phone on 1 Nov"}

    # Gone from every reader: services, pages, export, API.
    assert not members.visible_customers(rich["hq"]).filter(pk=cid).exists()
    with pytest.raises(Http404):
        members.customer_row(rich["hq"], cid)
    world.login(client, "hq_admin")
    page = client.get(reverse("hq:customer_list"))
    assert cid not in {d.row.id for d in page.context["rows"]}
    csv_text = b"".join(client.get(reverse("hq:customer_export")).streaming_content).decode()
    assert f"\r\n{cid}," not in csv_text
    assert client.get(reverse("api:customer_detail", kwargs={"customer_id": cid})).status_code == 404
    listed = client.get(reverse("api:customer_list")).json()
    assert cid not in [c["id"] for c in listed["items"]]

    # Irreversible and idempotent: again changes nothing and writes no second entry.
    assert rights.erase_customer(rich["hq"], cid, "again") is False
    assert AuditEntry.objects.filter(action="customer.erase").count() == 1
    # She may register afresh with the same phone.
    list(
        members.bulk_add_customers(
            world.brand.pk,
            [
                members.NewCustomer(
                    phone=CUSTOMER_PHONE, name="New", store_id=None, guide_id=None, joined_at=erased.joined_at
                )
            ],
        )
    )
    assert members.visible_customers(rich["hq"], phone=CUSTOMER_PHONE).count() == 1


def test_erase_out_of_reach_is_404_and_changes_nothing(world: Any) -> None:
    rival = world.customers["rival.guide"][0]
    with pytest.raises(Http404):
        rights.erase_customer(world.staff["hq_admin"].scope, rival, "asked")
    assert Customer.objects.get(pk=rival).erased_at is None


def test_she_exports_and_erases_her_own_data(world: Any, rich: dict[str, Any]) -> None:
    data = rights.export_own_data(rich["cid"])
    assert data["customer"]["phone"] == CUSTOMER_PHONE
    assert rights.erase_own_data(rich["cid"]) is True
    assert rights.erase_own_data(rich["cid"]) is False
    entry = AuditEntry.objects.get(action="customer.erase")
    assert entry.actor_label == rights.SELF_LABEL and CUSTOMER_PHONE not in json.dumps(entry.after)
