"""The scan flow end to end with the test client, and the code, transfer and merge pages."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from siyu.members import codes, identity, transfers
from siyu.members.identity import cluster_ids
from siyu.members.models import Code, Consent, Customer, Merge, Touch, Transfer
from siyu.members.views_scan import current_customer
from siyu.org import services as org
from siyu.platform import clock, privacy

pytestmark = pytest.mark.django_db


def guide_code(world: Any, key: str = "guide_a") -> Code:
    return codes.create_code(org.hq_scope(world.brand.pk), kind="guide", guide=world.staff[key].pk)


def confirmed(client: Client, code: Code, number: str, **fields: str) -> Any:
    """Ask the page to text a code to ``number``, then save with that code (the SMS sandbox shows
    it on the page, as it would arrive by text)."""
    url = reverse("scan", args=[code.token])
    sent = client.post(url, {"phone": number, "action": "send_code"})
    assert sent.status_code == 200, sent.content.decode()[-500:]
    texted = sent.context["sent"].sandbox_code
    return client.post(url, {"phone": number, "code": texted, "action": "save", **fields})


def test_a_new_visitor_scans_joins_and_is_known_by_the_mall(world: Any) -> None:
    code = guide_code(world)
    client = Client()
    page = client.get(reverse("scan", args=[code.token]))
    assert page.status_code == 200 and world.flagship.name in page.content.decode()
    answer = confirmed(client, code, "139 0000 1234", wecom="on")
    assert answer.status_code == 200
    c = Customer.objects.get(phone_hash=privacy.lookup_hash("13900001234"))
    assert (c.guide_id, c.first_code_id, c.source) == (world.staff["guide_a"].pk, code.pk, "guide_code")
    assert Consent.objects.get(customer=c).channel == "wecom"
    request = answer.wsgi_request
    request.COOKIES.update({k: v.value for k, v in client.cookies.items()})
    assert current_customer(request) == c
    assert Touch.objects.filter(customer=c).count() == 1  # opening the page was the scan; the form is not
    # the same browser scans again: the same customer, one more touch
    client.get(reverse("scan", args=[code.token]))
    assert Customer.objects.filter(brand=world.brand).count() == 13  # the world's 12 and her
    assert Touch.objects.filter(customer=c).count() == 2
    assert Code.objects.get(pk=code.pk).scans == 2


def test_an_existing_customer_giving_her_number_is_found(world: Any) -> None:
    existing = Customer.objects.get(pk=world.customers["sun.guide"][0])
    number = privacy.unseal(existing.phone_sealed)
    client = Client()
    client.get(reverse("scan", args=[guide_code(world).token]))
    answer = confirmed(client, guide_code(world), number)
    assert answer.status_code == 200
    # the scan made a customer of her openid; her verified number then merged it into her
    assert Touch.objects.get(customer__in=cluster_ids(existing)).kind == "scan"
    existing.refresh_from_db()
    assert existing.guide_id == world.other_guide.pk  # protected? she was imported: first come keeps her


def test_a_bad_number_is_refused_and_nothing_changes(world: Any) -> None:
    code = guide_code(world)
    answer = Client().post(reverse("scan", args=[code.token]), {"phone": "12345"})
    assert answer.status_code == 400 and "13–19" in answer.content.decode()
    assert not Touch.objects.exists() and Code.objects.get(pk=code.pk).scans == 0


def test_expired_and_unknown_codes_answer_friendly_pages(world: Any) -> None:
    code = codes.create_code(
        org.hq_scope(world.brand.pk), kind="campaign", campaign="冬季", expires_at=clock.now() + dt.timedelta(hours=1)
    )
    with clock.frozen(clock.now() + dt.timedelta(days=1)):
        gone = Client().post(reverse("scan", args=[code.token]), {"phone": ""})
    assert gone.status_code == 410
    assert Client().get(reverse("scan", args=["nope"])).status_code == 404
    assert not Touch.objects.exists()


def test_hq_makes_a_code_and_downloads_its_images(world: Any) -> None:
    client = world.login(Client(), "hq_operator")
    made = client.post(reverse("hq:code_create"), {"kind": "campaign", "campaign": "618", "store": world.sh2.pk})
    code = Code.objects.get(campaign="618")
    assert made.status_code == 302 and made["Location"] == reverse("hq:code_detail", args=[code.pk])
    detail = client.get(made["Location"]).content.decode()
    assert "<svg" in detail and code.token in detail
    png = client.get(reverse("hq:code_image", args=[code.pk, "png"]))
    assert png["Content-Type"] == "image/png" and png.content.startswith(b"\x89PNG")
    assert client.get(reverse("hq:code_image", args=[code.pk, "gif"])).status_code == 404
    bad = client.post(reverse("hq:code_create"), {"kind": "campaign"})
    assert bad.status_code == 400 and Code.objects.count() == 1
    listing = client.get(reverse("hq:code_list") + "?kind=campaign").content.decode()
    assert code.name in listing


def test_a_store_manager_lists_only_her_codes(world: Any) -> None:
    hq = org.hq_scope(world.brand.pk)
    mine = codes.create_code(hq, kind="store", store=world.flagship.pk)
    other = codes.create_code(hq, kind="store", store=world.gz1.pk)
    body = world.login(Client(), "store_manager").get(reverse("hq:code_list")).content.decode()
    assert mine.name in body and other.name not in body


def test_a_guide_shows_her_codes(world: Any) -> None:
    body = world.login(Client(), "guide_a").get(reverse("guide:my_codes")).content.decode()
    assert body.count("<svg") >= 2 and "/c/" in body


def test_the_transfer_screens(world: Any) -> None:
    client = world.login(Client(), "store_manager")
    form = client.get(reverse("hq:transfer_create") + f"?from_guide={world.staff['guide_b'].pk}")
    assert form.status_code == 200
    ids = world.customers["liu.guide"]
    answer = client.post(
        reverse("hq:transfer_create"),
        {"from_guide": world.staff["guide_b"].pk, "customers": ids, "to_guide": world.staff["guide_a"].pk},
    )
    assert answer.status_code == 302
    assert Transfer.objects.filter(status="waiting").count() == 3
    t = Transfer.objects.first()
    assert t is not None
    assert client.post(reverse("hq:transfer_refuse", args=[t.pk])).status_code == 302
    assert Transfer.objects.get(pk=t.pk).status == "refused"
    listing = client.get(reverse("hq:transfer_list") + "?status=refused").content.decode()
    assert "transfer-table" in listing
    bad = client.post(reverse("hq:transfer_create"), {"from_guide": world.staff["guide_b"].pk, "to_guide": ""})
    assert bad.status_code == 400
    assert transfers.visible_transfers(org.hq_scope(world.brand.pk)).count() == 3


def test_the_merge_screens(world: Any) -> None:
    client = world.login(Client(), "hq_admin")
    a, b = world.customers["chen.guide"][:2]
    number = privacy.unseal(Customer.objects.get(pk=a).phone_sealed)
    preview = client.get(reverse("hq:merge_create") + f"?survivor={number}&absorbed={b}")
    assert preview.status_code == 200 and "****" in preview.content.decode()
    refused = client.post(reverse("hq:merge_create"), {"survivor": a, "absorbed": b, "reason": ""})
    assert refused.status_code == 400 and not Merge.objects.exists()
    done = client.post(reverse("hq:merge_create"), {"survivor": a, "absorbed": b, "reason": "same person"})
    assert done.status_code == 302
    merge = Merge.objects.get()
    assert client.post(reverse("hq:merge_undo", args=[merge.pk])).status_code == 302
    assert identity.live(Customer.objects.filter(pk=b)).exists()


def test_the_api_registers_a_member_and_her_touches(world: Any) -> None:
    import json

    client = world.login(Client(), "guide_a")
    body = {
        "identities": [{"kind": "phone", "key": "13700009999", "verified": True}, {"kind": "pos_card", "key": "C-1"}],
        "store_code": world.flagship.code,
        "guide_id": world.staff["guide_a"].pk,
        "consent": {"sms": True},
    }
    r = client.post(reverse("api:customer_resolve"), json.dumps(body), content_type="application/json")
    assert r.status_code == 200, r.content
    out = r.json()
    assert out["created"] and out["guide_id"] == world.staff["guide_a"].pk
    again = client.post(reverse("api:customer_resolve"), json.dumps(body), content_type="application/json").json()
    assert again == {**out, "created": False}
    bad = client.post(
        reverse("api:customer_resolve"),
        json.dumps({"identities": [{"kind": "phone", "key": "123"}]}),
        content_type="application/json",
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "identities.0"
    idents = client.get(reverse("api:customer_identities", args=[out["customer_id"]])).json()
    assert {i["kind"] for i in idents} == {"phone", "pos_card"}
