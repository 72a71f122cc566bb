"""HQ console staff pages: scoped lists, search and filters; creating staff only in roles and
places the actor may manage; edit, move (with a posting), mark as left (no more sign-in), reset
password; every bad input rejected field by field with nothing changed."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from siyu.demo.personas import DEMO_PASSWORD
from siyu.org.models import Posting, Staff
from siyu.platform.models import AuditEntry

pytestmark = pytest.mark.django_db

USERNAMES = {
    "admin",
    "lin.hq",
    "zhou.east",
    "wang.store",
    "chen.guide",
    "liu.guide",
    "sun.guide",
    "he.guide",
    "rival.guide",
}


def listed(html: str) -> set[str]:
    return {u for u in USERNAMES if f"<td>{u}</td>" in html}


def counts() -> tuple[int, int, int]:
    return Staff.objects.count(), Posting.objects.count(), AuditEntry.objects.count()


def test_each_role_sees_exactly_its_staff(client: Client, world: Any) -> None:
    expected = {
        "hq_admin": USERNAMES - {"rival.guide"},
        "region_manager": {"zhou.east", "wang.store", "chen.guide", "liu.guide", "sun.guide"},
        "store_manager": {"wang.store", "chen.guide", "liu.guide"},
    }
    for key, usernames in expected.items():
        client.logout()
        html = world.login(client, key).get(reverse("hq:staff_list")).content.decode()
        assert listed(html) == usernames, key


def test_search_and_filters(client: Client, world: Any) -> None:
    world.login(client, "hq_admin")
    url = reverse("hq:staff_list")
    assert listed(client.get(url, {"q": "陈静"}).content.decode()) == {"chen.guide"}
    assert listed(client.get(url, {"q": "zhou"}).content.decode()) == {"zhou.east"}
    assert listed(client.get(url, {"q": "13900000004"}).content.decode()) == {"wang.store"}
    assert listed(client.get(url, {"role": "region_manager"}).content.decode()) == {"zhou.east"}
    assert listed(client.get(url, {"store": world.sh2.pk}).content.decode()) == {"sun.guide"}
    Staff.objects.filter(username="liu.guide").update(employment="left")
    assert listed(client.get(url, {"employment": "left"}).content.decode()) == {"liu.guide"}
    html = client.get(url).content.decode()
    assert "139****0004" in html and "13900000004" not in html  # staff phones are masked in lists


def test_store_manager_may_create_only_guides_of_her_store(client: Client, world: Any) -> None:
    world.login(client, "store_manager")
    form = client.get(reverse("hq:staff_create")).context["form"]
    assert [v for v, _ in form.fields["role"].choices if v] == ["guide"]
    assert list(form.fields["store"].queryset) == [world.flagship]
    assert "region" not in form.fields

    before = counts()
    data = {"name": "钱总", "username": "qian.boss", "role": "hq_admin", "password": "longenough1"}
    response = client.post(reverse("hq:staff_create"), data)
    assert response.status_code == 400 and "role" in response.context["form"].errors
    data = {"name": "吴静", "username": "wu.guide", "role": "guide", "store": world.sh2.pk, "password": "longenough1"}
    response = client.post(reverse("hq:staff_create"), data)
    assert response.status_code == 400 and "store" in response.context["form"].errors
    assert counts() == before


def test_create_a_guide(client: Client, world: Any) -> None:
    world.login(client, "region_manager")
    staff_n, postings_n, audits_n = counts()
    data = {
        "name": "吴静",
        "username": "wu.guide",
        "phone": "13911112222",
        "role": "guide",
        "store": world.hz1.pk,
        "password": "wu-guide-2026",
    }
    response = client.post(reverse("hq:staff_create"), data)
    wu = Staff.objects.get(username="wu.guide")
    assert response.status_code == 302 and response.url == reverse("hq:staff_detail", args=[wu.pk])
    assert wu.store_id == world.hz1.pk and wu.brand_id == world.brand.pk and wu.check_password("wu-guide-2026")
    assert counts() == (staff_n + 1, postings_n + 1, audits_n + 1)
    assert AuditEntry.objects.latest("id").action == "staff.create"
    client.logout()
    assert client.login(username="13911112222", password="wu-guide-2026")


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"username": "a b"}, "username"),
        ({"username": "chen.guide"}, "username"),  # taken
        ({"phone": "12345"}, "phone"),
        ({"phone": "13900000005"}, "phone"),  # taken
        ({"name": ""}, "name"),
        ({"password": "short"}, "password"),
        ({"role": ""}, "role"),
        ({"store": ""}, "store"),  # a guide belongs to a store
        ({"role": "region_manager", "store": ""}, "region"),  # a region manager belongs to a region
    ],
)
def test_bad_staff_input_is_rejected_field_by_field(
    client: Client, world: Any, override: dict[str, Any], field: str
) -> None:
    world.login(client, "hq_admin")
    data = {
        "name": "吴静",
        "username": "wu.guide",
        "phone": "13911112222",
        "role": "guide",
        "store": world.flagship.pk,
        "password": "wu-guide-2026",
    }
    data.update(override)
    before = counts()
    response = client.post(reverse("hq:staff_create"), data)
    assert response.status_code == 400
    assert field in response.context["form"].errors, response.context["form"].errors
    assert f'data-field="{field}"' in response.content.decode()
    assert counts() == before


def test_edit_staff(client: Client, world: Any) -> None:
    world.login(client, "store_manager")
    liu = world.staff["guide_b"]
    url = reverse("hq:staff_edit", args=[liu.pk])
    assert client.get(url).context["form"].initial["username"] == "liu.guide"
    before = counts()
    response = client.post(url, {"name": "刘洋", "username": "liu.guide", "phone": "13900000005"})  # Chen's
    assert response.status_code == 400 and "phone" in response.context["form"].errors
    assert counts() == before
    response = client.post(url, {"name": "刘洋洋", "username": "liu.guide", "phone": "13900000006"})
    assert response.status_code == 302
    assert Staff.objects.get(pk=liu.pk).name == "刘洋洋"
    assert ("name", "刘洋", "刘洋洋") in AuditEntry.objects.latest("id").changes()


def test_managers_cannot_touch_their_equals_or_betters(client: Client, world: Any) -> None:
    world.login(client, "store_manager")
    me = world.staff["store_manager"]
    assert client.get(reverse("hq:staff_edit", args=[me.pk])).status_code == 403
    assert client.post(reverse("hq:staff_leave", args=[me.pk])).status_code == 403
    assert client.get(reverse("hq:staff_edit", args=[world.other_guide.pk])).status_code == 404
    html = client.get(reverse("hq:staff_detail", args=[me.pk])).content.decode()
    assert reverse("hq:staff_edit", args=[me.pk]) not in html
    client.logout()
    world.login(client, "region_manager")
    assert client.get(reverse("hq:staff_edit", args=[world.staff["hq_admin"].pk])).status_code == 404
    assert Staff.objects.get(pk=me.pk).employment == "active"


def test_move_a_guide_records_a_posting(client: Client, world: Any) -> None:
    world.login(client, "region_manager")
    liu = world.staff["guide_b"]
    url = reverse("hq:staff_move", args=[liu.pk])
    choices = list(client.get(url).context["form"].fields["store"].queryset.values_list("code", flat=True))
    assert choices == ["HZ001", "SH002"]  # in her region, not the current one
    before = counts()
    response = client.post(url, {"store": world.gz1.pk})  # another region
    assert response.status_code == 400 and "store" in response.context["form"].errors
    assert counts() == before
    response = client.post(url, {"store": world.sh2.pk})
    assert response.status_code == 302
    assert Staff.objects.get(pk=liu.pk).store_id == world.sh2.pk
    postings = list(Posting.objects.filter(staff=liu).order_by("started_at", "id"))
    assert [p.store_id for p in postings] == [world.flagship.pk, world.sh2.pk]
    assert postings[0].ended_at is not None and postings[1].ended_at is None
    html = client.get(reverse("hq:staff_detail", args=[liu.pk])).content.decode()
    assert "SH001" in html and "SH002" in html


def test_a_store_manager_cannot_move_staff(client: Client, world: Any) -> None:
    world.login(client, "store_manager")
    liu = world.staff["guide_b"]
    assert client.get(reverse("hq:staff_move", args=[liu.pk])).status_code == 403
    assert (
        reverse("hq:staff_move", args=[liu.pk])
        not in client.get(reverse("hq:staff_detail", args=[liu.pk])).content.decode()
    )


def test_marking_as_left_blocks_sign_in(client: Client, world: Any) -> None:
    liu = world.staff["guide_b"]
    assert Client().login(username="liu.guide", password=DEMO_PASSWORD)
    world.login(client, "store_manager")
    response = client.post(reverse("hq:staff_leave", args=[liu.pk]))
    assert response.status_code == 302
    liu.refresh_from_db()
    assert liu.employment == "left" and liu.left_on is not None and not liu.is_active
    assert not Posting.objects.filter(staff=liu, ended_at__isnull=True).exists()
    assert not Client().login(username="liu.guide", password=DEMO_PASSWORD)
    response = Client().post(reverse("guide:login"), {"username": "liu.guide", "password": DEMO_PASSWORD})
    assert response.status_code == 400
    # Marking her again is refused with a message, and changes nothing.
    before = counts()
    response = client.post(reverse("hq:staff_leave", args=[liu.pk]))
    assert response.status_code == 400 and response.context["error"]
    assert counts() == before


def test_reset_password(client: Client, world: Any) -> None:
    world.login(client, "region_manager")
    chen = world.staff["guide_a"]
    url = reverse("hq:staff_password", args=[chen.pk])
    before = counts()
    response = client.post(url, {"password": "new-pass-2026", "confirm": "other-pass-2026"})
    assert response.status_code == 400 and "confirm" in response.context["form"].errors
    response = client.post(url, {"password": "short", "confirm": "short"})
    assert response.status_code == 400 and "password" in response.context["form"].errors
    assert counts() == before
    assert client.post(url, {"password": "new-pass-2026", "confirm": "new-pass-2026"}).status_code == 302
    assert Client().login(username="chen.guide", password="new-pass-2026")
    assert AuditEntry.objects.latest("id").action == "staff.password"


def test_staff_detail_shows_postings_and_audit_trail_to_the_admin(client: Client, world: Any) -> None:
    chen = world.staff["guide_a"]
    world.login(client, "hq_admin")
    html = client.get(reverse("hq:staff_detail", args=[chen.pk])).content.decode()
    assert "staff.create" in html and "南京西路旗舰店" in html
    assert 'class="old"' not in html  # a creation shows the new values, not "nothing → value"
    client.logout()
    world.login(client, "hq_operator")
    html = client.get(reverse("hq:staff_detail", args=[chen.pk])).content.decode()
    assert "staff.create" not in html  # the audit trail is for hq_admin only
    assert client.get(reverse("hq:staff_detail", args=[world.rival_guide.pk])).status_code == 404


def _count(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx)


def test_staff_list_has_no_n_plus_one(client: Client, world: Any, django_assert_max_num_queries: Any) -> None:
    from siyu.org import services

    world.login(client, "hq_admin")
    url = reverse("hq:staff_list")
    before = _count(client, url)
    hq = services.hq_scope(world.brand.pk)
    for i in range(10):
        services.create_staff(
            hq, username=f"extra.{i}", name=f"导购{i}", role="guide", store=world.hz1, password="x" * 8
        )
    services.create_staff(
        hq, username="extra.rm", name="区域", role="region_manager", region=world.south, password="x" * 8
    )
    assert _count(client, url) == before
    with django_assert_max_num_queries(8):
        client.get(url)
