"""The guide workbench: phone-sized pages with a tab bar; her store, her profile, her own
customers (unmasked for her, nobody else's), and changing her own password."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from siyu.demo.personas import CUSTOMER_NAME, CUSTOMER_PHONE, DEMO_PASSWORD
from siyu.platform.models import AuditEntry

pytestmark = pytest.mark.django_db

PAGES = ("guide:home", "guide:store", "guide:profile", "guide:password", "guide:customer_list")


def test_every_page_is_phone_sized_with_a_tab_bar(client: Client, world: Any) -> None:
    world.login(client, "guide_a")
    for name in PAGES:
        html = client.get(reverse(name)).content.decode()
        assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html, name
        assert '<nav class="tabbar"' in html, name
        for tab in ("guide:home", "guide:customer_list", "guide:store", "guide:profile"):
            assert f'href="{reverse(tab)}"' in html, (name, tab)


def test_home_greets_her_with_her_store_and_customer_count(client: Client, world: Any) -> None:
    world.login(client, "guide_a")
    response = client.get(reverse("guide:home"))
    assert response.context["customer_count"] == 3
    html = response.content.decode()
    assert "陈静" in html and "南京西路旗舰店" in html and "10:00-22:00" in html


def test_she_sees_only_her_own_customers_in_full(client: Client, world: Any) -> None:
    world.login(client, "guide_a")
    response = client.get(reverse("guide:customer_list"))
    assert {d.row.id for d in response.context["rows"]} == set(world.customers["chen.guide"])
    html = response.content.decode()
    assert CUSTOMER_PHONE in html and CUSTOMER_NAME in html
    assert "顾客4" not in html  # Liu's customer, same store
    own = world.customers["chen.guide"][0]
    assert client.get(reverse("guide:customer_detail", args=[own])).status_code == 200
    other = world.customers["liu.guide"][0]
    assert client.get(reverse("guide:customer_detail", args=[other])).status_code == 404
    rival = world.customers["rival.guide"][0]
    assert client.get(reverse("guide:customer_detail", args=[rival])).status_code == 404


def test_her_customer_page(client: Client, world: Any) -> None:
    from siyu.members import services as members
    from siyu.org import services

    demo = members.visible_customers(services.hq_scope(world.brand.pk), phone=CUSTOMER_PHONE).get()
    world.login(client, "guide_a")
    html = client.get(reverse("guide:customer_detail", args=[demo.pk])).content.decode()
    assert CUSTOMER_NAME in html and f'href="tel:{CUSTOMER_PHONE}"' in html and "¥0.00" in html


def test_a_store_manager_sees_the_store_masked(client: Client, world: Any) -> None:
    world.login(client, "store_manager")
    response = client.get(reverse("guide:customer_list"))
    assert {d.row.id for d in response.context["rows"]} == set(
        world.customers["chen.guide"] + world.customers["liu.guide"]
    )
    html = response.content.decode()
    assert CUSTOMER_PHONE not in html and "138****8000" in html


def test_my_store_shows_the_store_and_colleagues(client: Client, world: Any) -> None:
    world.login(client, "guide_a")
    html = client.get(reverse("guide:store")).content.decode()
    assert "南京西路旗舰店" in html and "上海 南京西路旗舰店" in html  # the address
    assert "<dd>上海 南京西路旗舰店</dd>" in html  # the address already names the city: not said twice
    assert "刘洋" in html and "王芳" in html  # her colleagues
    assert "孙丽" not in html  # a guide of another store
    assert "uri.amap.com/marker?position=121.459500,31.229800" in html


def test_my_profile_masks_her_phone(client: Client, world: Any) -> None:
    world.login(client, "guide_a")
    html = client.get(reverse("guide:profile")).content.decode()
    assert "chen.guide" in html and "139****0005" in html and "13900000005" not in html


def test_change_my_password(client: Client, world: Any) -> None:
    world.login(client, "guide_a")
    url = reverse("guide:password")
    audits = AuditEntry.objects.count()
    response = client.post(url, {"old_password": "wrong-one-1", "new_password": "mine-2026!", "confirm": "mine-2026!"})
    assert response.status_code == 400 and "old_password" in response.context["form"].errors
    response = client.post(url, {"old_password": DEMO_PASSWORD, "new_password": "short", "confirm": "short"})
    assert response.status_code == 400 and "new_password" in response.context["form"].errors
    response = client.post(url, {"old_password": DEMO_PASSWORD, "new_password": "mine-2026!", "confirm": "mine-2027!"})
    assert response.status_code == 400 and "confirm" in response.context["form"].errors
    assert AuditEntry.objects.count() == audits
    assert Client().login(username="chen.guide", password=DEMO_PASSWORD)

    response = client.post(url, {"old_password": DEMO_PASSWORD, "new_password": "mine-2026!", "confirm": "mine-2026!"})
    assert response.status_code == 302 and response.url == reverse("guide:profile")
    assert client.get(reverse("guide:home")).status_code == 200  # still signed in
    assert Client().login(username="chen.guide", password="mine-2026!")
    assert not Client().login(username="chen.guide", password=DEMO_PASSWORD)
    assert AuditEntry.objects.latest("id").action == "staff.password"


def test_who_may_open_the_workbench(client: Client, world: Any) -> None:
    response = client.get(reverse("guide:customer_list"))
    assert response.status_code == 302 and response.url.startswith(reverse("guide:login"))
    world.login(client, "hq_operator")
    assert client.get(reverse("guide:home")).status_code == 403
