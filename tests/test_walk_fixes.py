"""What walking the customer screens as every persona turned up, fixed: the demo's QR codes lead to
the port it serves on, refusals are pages in the brand's look and language, the mall profile names
the tier, the audit log names no "Transfer object (12)", the 360 page keeps tags and identities
inside a phone's width."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.urls import reverse

from siyu.members import codes, transfers
from siyu.org import services as org

pytestmark = pytest.mark.django_db


def test_the_demo_points_its_codes_at_the_server_it_starts(
    world: Any, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from siyu.cli import _point_codes_at

    monkeypatch.delenv("SIYU_PUBLIC_URL", raising=False)
    _point_codes_at("127.0.0.1", 8101)
    code = codes.create_code(org.hq_scope(world.brand.pk), kind="store", store=world.flagship.pk)
    assert codes.scan_url(code) == f"http://127.0.0.1:8101/c/{code.token}"
    monkeypatch.setenv("SIYU_PUBLIC_URL", "https://siyu.example.com")
    settings.SIYU_PUBLIC_URL = "https://siyu.example.com"
    _point_codes_at("127.0.0.1", 8102)  # an operator's own setting wins
    assert codes.scan_url(code).startswith("https://siyu.example.com/c/")


def test_a_refusal_is_a_page_in_her_language(world: Any) -> None:
    client = world.login(Client(), "region_manager")
    client.cookies[django_settings.LANGUAGE_COOKIE_NAME] = "zh-hans"
    answer = client.get(reverse("hq:merge_list"))
    assert answer.status_code == 403
    html = answer.content.decode()
    assert "siyu.css" in html and "此页面未向您开放" in html and reverse("root") in html


def test_a_missing_page_is_a_page_too(world: Any) -> None:
    answer = world.login(Client(), "hq_operator").get("/hq/customers/999999/")
    assert answer.status_code == 404 and "siyu.css" in answer.content.decode()


def test_the_mall_profile_names_her_tier(world: Any) -> None:
    from siyu.members import profile
    from siyu.members.models import Customer

    profile.create_tier_level(
        org.hq_scope(world.brand.pk, "test"), code="gold", name="金卡会员", rank=2, min_spend_fen=500_000
    )
    pk = world.customers["chen.guide"][0]
    Customer.objects.filter(pk=pk).update(tier="gold")
    html = _as_customer(pk).get(reverse("mall_me", args=[world.flagship.code])).content.decode()
    assert "金卡会员" in html and ">gold<" not in html


def _as_customer(customer_id: int) -> Client:
    """A browser that scanned a code as this customer (the signed cookie the scan page sets)."""
    from django.core import signing

    from siyu.members.views_scan import CUSTOMER_COOKIE, SALT

    client = Client()
    client.cookies[CUSTOMER_COOKIE] = signing.get_cookie_signer(salt=CUSTOMER_COOKIE + SALT).sign(str(customer_id))
    return client


def test_the_audit_log_names_no_default_object_labels(world: Any) -> None:
    hq = org.hq_scope(world.brand.pk, "test")
    transfers.start_transfer(hq, world.customers["liu.guide"][:1], world.staff["guide_a"].pk)
    html = world.login(Client(), "hq_admin").get(reverse("hq:audit_list"), {"object_type": "transfer"}).content
    assert b"Transfer object" not in html and b"transfer #" in html


def test_the_360_page_keeps_tags_and_identities_in_a_phones_width(world: Any) -> None:
    hq = org.hq_scope(world.brand.pk, "test")
    from siyu.members import profile

    group = profile.create_tag_group(hq, name="运动偏好")
    tag = profile.create_tag(hq, group=group, name="跑步")
    pk = world.customers["chen.guide"][0]
    profile.add_tag(hq, pk, tag.pk)
    from siyu.members.identity import ensure_phone_identity
    from siyu.members.models import Customer

    ensure_phone_identity(Customer.objects.get(pk=pk))
    html = world.login(Client(), "hq_operator").get(reverse("hq:customer_detail", args=[pk])).content.decode()
    # a <form> inside a <p> would break the paragraph and push the tag's × onto a line of its own
    assert '<div class="tag-list"><span class="tag"' in html
    identities = html[html.index('id="identities"') :]
    assert identities.index('<div class="table-wrap">') < identities.index("<table")
