"""HQ console: overview, navigation, regions, franchisees, the audit log and API tokens."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from siyu.org import services
from siyu.org.models import ApiToken, Franchisee, Region
from siyu.platform.models import AuditEntry

pytestmark = pytest.mark.django_db


def test_overview_counts_within_reach(client: Client, world: Any) -> None:
    world.login(client, "region_manager")
    response = client.get(reverse("hq:home"))
    assert response.status_code == 200
    ctx = response.context
    assert ctx["store_total"] == 3 and ctx["customer_total"] == 9
    assert [r["code"] for r in ctx["region_rows"]] == ["EAST"]
    east = ctx["region_rows"][0]
    assert (east["stores"], east["customers"], east["staff"]) == (3, 9, 5)
    assert {b.label: (b.stores, b.customers) for b in ctx["city_bars"]} == {"上海": (2, 9), "杭州": (1, 0)}
    html = response.content.decode()
    assert 'class="bar s-stores"' in html and "广州" not in html


def test_navigation_hides_what_a_role_cannot_open(client: Client, world: Any) -> None:
    world.login(client, "hq_admin")
    html = client.get(reverse("hq:home")).content.decode()
    assert reverse("hq:audit_list") in html and reverse("hq:token_list") in html
    client.logout()
    world.login(client, "hq_operator")
    html = client.get(reverse("hq:home")).content.decode()
    assert reverse("hq:audit_list") not in html and reverse("hq:token_list") not in html
    assert reverse("hq:customer_list") in html
    assert 'action="/i18n/setlang/"' in html and reverse("hq:logout") in html


@pytest.mark.parametrize("login", ["hq:login", "guide:login"])
def test_sign_in_says_what_is_wrong_next_to_the_field(client: Client, world: Any, login: str) -> None:
    html = client.post(reverse(login), {"username": "", "password": ""}).content.decode()
    for field in ("username", "password"):
        assert f'<div class="field invalid" data-field="{field}">' in html
    assert html.count('class="field-error"') == 2
    response = client.post(reverse(login), {"username": "chen.guide", "password": "wrong-password"})
    html = response.content.decode()
    assert response.status_code == 400 and '<div class="errors" role="alert"><p>' in html
    assert "errorlist" not in html  # a sentence, not a bulleted list


def test_language_switch(client: Client, world: Any) -> None:
    world.login(client, "hq_operator")
    response = client.post(reverse("set_language"), {"language": "en", "next": reverse("hq:store_list")})
    assert response.status_code == 302 and response.url == reverse("hq:store_list")
    assert '<html lang="en">' in client.get(reverse("hq:store_list")).content.decode()


def test_regions_hq_creates_and_edits(client: Client, world: Any) -> None:
    world.login(client, "hq_operator")
    html = client.get(reverse("hq:region_list")).content.decode()
    assert "华东分公司" in html and "Rival region" not in html and reverse("hq:region_create") in html
    before = (Region.objects.count(), AuditEntry.objects.count())
    response = client.post(reverse("hq:region_create"), {"code": "EAST", "name": "又一个华东", "status": "active"})
    assert response.status_code == 400 and "code" in response.context["form"].errors
    response = client.post(reverse("hq:region_create"), {"code": "", "name": "", "status": "gone"})
    assert set(response.context["form"].errors) == {"code", "name", "status"}
    assert (Region.objects.count(), AuditEntry.objects.count()) == before
    response = client.post(reverse("hq:region_create"), {"code": "NORTH", "name": "华北分公司", "status": "active"})
    assert response.status_code == 302 and Region.objects.filter(brand=world.brand, code="NORTH").exists()
    url = reverse("hq:region_edit", args=[world.south.pk])
    response = client.post(url, {"code": "SOUTH", "name": "华南大区", "status": "active"})
    assert response.status_code == 302 and Region.objects.get(pk=world.south.pk).name == "华南大区"
    assert AuditEntry.objects.latest("id").action == "region.update"


def test_regions_are_read_only_below_hq(client: Client, world: Any) -> None:
    world.login(client, "region_manager")
    html = client.get(reverse("hq:region_list")).content.decode()
    assert "华东分公司" in html and "华南分公司" not in html
    assert reverse("hq:region_create") not in html
    assert client.get(reverse("hq:region_create")).status_code == 403
    count = Region.objects.count()
    response = client.post(reverse("hq:region_create"), {"code": "X", "name": "X", "status": "active"})
    assert response.status_code == 403 and Region.objects.count() == count


def test_franchisees_show_their_stores(client: Client, world: Any) -> None:
    world.login(client, "store_manager")
    html = client.get(reverse("hq:franchisee_list")).content.decode()
    assert "飞跃运动（上海）有限公司" in html and "杭州跑者商贸有限公司" not in html
    assert ">SH001<" in html and ">SH002<" not in html  # only stores within her reach
    client.logout()
    world.login(client, "hq_admin")
    html = client.get(reverse("hq:franchisee_list")).content.decode()
    assert ">SH001<" in html and ">SH002<" in html and ">GZ001<" in html and ">HZ001<" in html
    html = client.get(reverse("hq:franchisee_edit", args=[world.franchisee.pk])).content.decode()
    assert "HZ001 湖滨银泰店" in html


def test_franchisee_bad_input_and_edit(client: Client, world: Any) -> None:
    world.login(client, "hq_admin")
    before = (Franchisee.objects.count(), AuditEntry.objects.count())
    bad = {"code": "F-NJ", "name": "南京动力", "kind": "friend", "credit_code": "123", "status": "active"}
    response = client.post(reverse("hq:franchisee_create"), bad)
    assert response.status_code == 400
    assert {"kind", "credit_code"} <= set(response.context["form"].errors)
    assert (Franchisee.objects.count(), AuditEntry.objects.count()) == before
    good = {
        "code": "F-NJ",
        "name": "南京动力",
        "kind": "dealer",
        "credit_code": "91320100MA1MXXXX1X",
        "status": "active",
    }
    assert client.post(reverse("hq:franchisee_create"), good).status_code == 302
    url = reverse("hq:franchisee_edit", args=[world.franchisee.pk])
    data = {"code": "F-HZ", "name": "杭州跑者", "kind": "franchisee", "status": "inactive", "contact_name": "钱"}
    assert client.post(url, data).status_code == 302
    franchisee = Franchisee.objects.get(pk=world.franchisee.pk)
    assert (franchisee.name, franchisee.status, franchisee.contact_name) == ("杭州跑者", "inactive", "钱")


def test_audit_log_shows_before_and_after(client: Client, world: Any) -> None:
    hq = services.hq_scope(world.brand.pk, "测试")
    services.update_store(hq, world.hz1.pk, name="湖滨银泰 in77")
    world.login(client, "hq_admin")
    response = client.get(reverse("hq:audit_list"), {"object_type": "store"})
    assert response.status_code == 200
    assert {e.object_type for e in response.context["rows"]} == {"store"}
    html = response.content.decode()
    assert '<span class="old">湖滨银泰店</span> → <span class="new">湖滨银泰 in77</span>' in html
    response = client.get(reverse("hq:audit_list"), {"actor": "测试"})
    assert [e.action for e in response.context["rows"]] == ["store.update"]
    # Nothing of the other brand.
    assert not any(e.brand_id != world.brand.pk for e in client.get(reverse("hq:audit_list")).context["rows"])
    client.logout()
    world.login(client, "hq_operator")
    assert client.get(reverse("hq:audit_list")).status_code == 403


def test_token_secret_is_shown_once_and_works(client: Client, world: Any) -> None:
    world.login(client, "hq_admin")
    before = (ApiToken.objects.count(), AuditEntry.objects.count())
    response = client.post(reverse("hq:token_create"), {"name": "", "perms": ["root"]})
    assert response.status_code == 400 and {"name", "perms"} <= set(response.context["form"].errors)
    assert (ApiToken.objects.count(), AuditEntry.objects.count()) == before

    data = {"name": "POS 上海", "perms": ["org.view", "members.view"], "store": world.flagship.pk}
    response = client.post(reverse("hq:token_create"), data)
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    secret = response.context["secret"]
    assert secret.startswith("siyu_") and secret in response.content.decode()
    token = ApiToken.objects.get(name="POS 上海")
    assert token.key_hash != secret and secret not in token.key_hash
    # Never again: not in the list, not on the next page.
    listing = client.get(reverse("hq:token_list")).content.decode()
    assert "POS 上海" in listing and secret not in listing and token.prefix in listing
    # It works, with the permissions and the store it was given.
    scope = services.scope_for_token(secret)
    assert scope is not None and scope.store_id == world.flagship.pk and scope.can("members.view")
    used = ApiToken.objects.get(pk=token.pk)
    assert scope == used.scope and used.last_used_at is not None  # the plain read gives the model's scope
    # Revoked, it stops working.
    assert client.post(reverse("hq:token_revoke", args=[token.pk])).status_code == 302
    assert services.scope_for_token(secret) is None
    assert AuditEntry.objects.filter(action__in=["token.issue", "token.revoke"]).count() == 2


def test_tokens_are_for_the_admin_only(client: Client, world: Any) -> None:
    world.login(client, "hq_operator")
    assert client.get(reverse("hq:token_list")).status_code == 403
    response = client.post(reverse("hq:token_create"), {"name": "x", "perms": ["org.view"]})
    assert response.status_code == 403 and not ApiToken.objects.exists()
