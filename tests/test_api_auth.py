"""Who may call the API: systems with a token, staff with their session; nobody else."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from siyu.demo import personas as P
from siyu.org import services as org
from siyu.org.models import Staff, Store
from siyu.org.rules import Perm
from siyu.platform.models import AuditEntry

pytestmark = pytest.mark.django_db


def admin_scope(world: Any) -> Any:
    """HQ admin Zhao, who issues the tokens."""
    return Staff.objects.get(pk=world.staff["hq_admin"].pk).scope


def token_for(world: Any, *perms: str, store: Any = None) -> str:
    _, secret = org.issue_token(admin_scope(world), name="POS test", perms=perms or [Perm.ORG_VIEW], store=store)
    return secret


def bearer(secret: str) -> dict[str, Any]:
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


def store_codes(response: Any) -> set[str]:
    assert response.status_code == 200, response.content
    return {s["code"] for s in response.json()["items"]}


def test_a_token_reads_its_brand(world: Any, client: Client) -> None:
    response = client.get(reverse("api:store_list"), **bearer(token_for(world)))
    assert store_codes(response) == {"SH001", "SH002", "HZ001", "GZ001"}
    assert response.json()["count"] == 4


def test_a_token_acts_within_its_permissions(world: Any, client: Client) -> None:
    secret = token_for(world, Perm.ORG_VIEW, Perm.ORG_STORE)
    response = client.post(
        reverse("api:store_set_status", kwargs={"store_id": world.sh2.pk}),
        {"status": "paused"},
        content_type="application/json",
        **bearer(secret),
    )
    assert response.status_code == 200, response.content
    assert Store.objects.get(pk=world.sh2.pk).status == "paused"
    entry = AuditEntry.objects.filter(action="store.update", object_id=str(world.sh2.pk)).get()
    assert entry.actor_label == "token:POS test" and entry.actor_id is None
    assert (entry.before["status"], entry.after["status"]) == ("open", "paused")


@pytest.mark.parametrize(
    "header",
    [
        "Bearer siyu_thisTokenWasNeverIssued",
        "Bearer not-even-our-format",
        "Bearer ",
    ],
)
def test_an_unknown_token_is_refused(world: Any, client: Client, header: str) -> None:
    response = client.get(reverse("api:store_list"), HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert response.json()["detail"]
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_revoked_token_is_refused(world: Any, client: Client) -> None:
    token, secret = org.issue_token(admin_scope(world), name="ERP", perms=[Perm.ORG_VIEW])
    assert client.get(reverse("api:me"), **bearer(secret)).status_code == 200
    org.revoke_token(admin_scope(world), token.pk)
    response = client.get(reverse("api:me"), **bearer(secret))
    assert response.status_code == 401
    assert response.json()["detail"]


def test_a_bad_token_does_not_fall_back_to_the_session(world: Any, client: Client) -> None:
    world.login(client, "hq_admin")
    response = client.get(reverse("api:me"), HTTP_AUTHORIZATION="Bearer siyu_revokedOrForged")
    assert response.status_code == 401


def test_no_credentials_get_401_for_reads_and_writes(world: Any, client: Client) -> None:
    assert client.get(reverse("api:store_list")).status_code == 401
    before = Store.objects.count()
    response = client.post(reverse("api:store_create"), {"code": "X"}, content_type="application/json")
    assert response.status_code == 401  # not a CSRF failure and not a 422: who you are comes first
    assert response.json()["detail"]
    assert Store.objects.count() == before


def test_a_token_without_the_permission_gets_403(world: Any, client: Client) -> None:
    secret = token_for(world, Perm.CATALOG_VIEW)
    response = client.get(reverse("api:store_list"), **bearer(secret))
    assert response.status_code == 403
    assert Perm.ORG_VIEW in response.json()["detail"]
    before = AuditEntry.objects.count()
    response = client.post(
        reverse("api:region_create"),
        {"code": "NORTH", "name": "华北"},
        content_type="application/json",
        **bearer(secret),
    )
    assert response.status_code == 403
    assert AuditEntry.objects.count() == before


def test_a_token_limited_to_a_store_sees_only_that_store(world: Any, client: Client) -> None:
    secret = token_for(world, Perm.ORG_VIEW, Perm.MEMBERS_VIEW, store=world.flagship)
    assert store_codes(client.get(reverse("api:store_list"), **bearer(secret))) == {"SH001"}
    customers = client.get(reverse("api:customer_list"), **bearer(secret)).json()
    assert customers["count"] == 6
    assert {c["store_id"] for c in customers["items"]} == {world.flagship.pk}
    assert all(c["masked"] for c in customers["items"])  # a system is nobody's guide
    other = client.get(reverse("api:store_detail", kwargs={"store_id": world.sh2.pk}), **bearer(secret))
    assert other.status_code == 404


def test_me_describes_the_caller(world: Any, client: Client) -> None:
    world.login(client, "guide_a")
    me = client.get(reverse("api:me")).json()
    assert me["brand"]["code"] == P.BRAND_CODE
    assert (me["level"], me["role"], me["store_id"]) == ("self", "guide", world.flagship.pk)
    assert me["staff"]["username"] == P.GUIDE_A.username
    assert Perm.MEMBERS_VIEW in me["perms"] and Perm.ORG_STAFF not in me["perms"]

    secret = token_for(world, Perm.ORG_VIEW, store=world.flagship)
    me = Client().get(reverse("api:me"), **bearer(secret)).json()
    assert (me["level"], me["role"], me["staff"], me["perms"]) == ("store", None, None, [Perm.ORG_VIEW])


def test_a_session_write_needs_the_csrf_token(world: Any) -> None:
    client = Client(enforce_csrf_checks=True)
    world.login(client, "hq_admin")
    body = {"code": "NORTH", "name": "华北分公司"}
    refused = client.post(reverse("api:region_create"), body, content_type="application/json")
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["detail"]

    client.get(reverse("api:me"))  # any page would do; the cookie is what matters
    client.cookies["csrftoken"] = "a" * 32
    accepted = client.post(
        reverse("api:region_create"), body, content_type="application/json", HTTP_X_CSRFTOKEN="a" * 32
    )
    assert accepted.status_code == 201, accepted.content
    assert accepted.json()["code"] == "NORTH"


def test_a_token_write_needs_no_csrf_token(world: Any) -> None:
    client = Client(enforce_csrf_checks=True)
    secret = token_for(world, Perm.ORG_STRUCTURE)
    response = client.post(
        reverse("api:region_create"),
        {"code": "WEST", "name": "西部"},
        content_type="application/json",
        **bearer(secret),
    )
    assert response.status_code == 201


def test_staff_who_left_are_signed_out_of_the_api(world: Any, client: Client) -> None:
    guide_b = world.staff["guide_b"]
    world.login(client, "guide_b")
    assert client.get(reverse("api:me")).status_code == 200
    org.mark_staff_left(org.hq_scope(world.brand.pk), guide_b.pk)
    assert Staff.objects.get(pk=guide_b.pk).employment == "left"
    assert client.get(reverse("api:me")).status_code == 401
