"""The HQ console's menu: grouped, permission-aware, the current group and page marked, one
collapsible menu on a phone (the browser test checks 390 px; here the HTML and the rules)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.conf import settings
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import translation

from siyu.platform.nav import HQ_MENU, Entry, Group, hq_menu

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english() -> Any:
    with translation.override("en"):
        yield


def english(client: Client) -> Client:
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def menu_for(world: Any, persona: str, path: str, menu: Any = HQ_MENU) -> Any:
    request = RequestFactory().get(path)
    request.user = world.staff[persona]
    return hq_menu(request, menu)


def shown(menu: Any) -> dict[str, list[str]]:
    return {g.key: [str(e.label) for e in g.entries] for g in menu.groups}


def test_hq_admin_sees_every_group_that_has_pages_and_no_empty_commerce(world: Any) -> None:
    menu = menu_for(world, "hq_admin", "/hq/")
    assert [g.key for g in menu.groups] == ["overview", "org", "customers", "commerce", "insight", "guides", "system"]
    assert shown(menu)["guides"][:2] == ["Tasks", "Task completion"]
    assert {"Orders", "Stock"} <= set(shown(menu)["commerce"])
    assert shown(menu)["customers"] == ["Customers", "Codes", "Transfers", "Merges", "Imports", "Customer settings"]
    assert shown(menu)["system"] == ["Audit log", "API tokens"]


def test_an_empty_group_does_not_show(world: Any) -> None:
    menu = (*HQ_MENU[:3], Group("commerce", "Commerce", ()), *HQ_MENU[4:])
    keys = [g.key for g in menu_for(world, "hq_admin", "/hq/", menu).groups]
    assert keys == ["overview", "org", "customers", "insight", "guides", "system"]


def test_each_persona_sees_only_the_pages_her_permissions_open(world: Any) -> None:
    for persona in ("hq_operator", "region_manager", "store_manager"):
        scope = world.staff[persona].scope
        menu = menu_for(world, persona, "/hq/")
        expected = {g.key: [str(e.label) for e in g.entries if e.perm is None or scope.can(e.perm)] for g in HQ_MENU}
        assert shown(menu) == {k: v for k, v in expected.items() if v}, persona
    assert "system" not in shown(menu_for(world, "region_manager", "/hq/"))
    assert "Imports" not in shown(menu_for(world, "store_manager", "/hq/"))["customers"]


@pytest.mark.parametrize(
    ("path", "group", "page"),
    [
        ("/hq/", "overview", "Overview"),
        ("/hq/stores/12/edit/", "org", "Stores"),
        ("/hq/customers/", "customers", "Customers"),
        ("/hq/customers/7/", "customers", "Customers"),
        ("/hq/customers/imports/3/", "customers", "Imports"),  # the longest prefix wins
        ("/hq/settings/tags/", "customers", "Customer settings"),  # claimed with `also`
        ("/hq/audit/", "system", "Audit log"),
        ("/hq/segments/3/runs/4/", "insight", "Segments"),
    ],
)
def test_the_current_group_and_page_follow_the_path(world: Any, path: str, group: str, page: str) -> None:
    menu = menu_for(world, "hq_admin", path)
    assert menu.current is not None and menu.current.key == group
    assert [str(e.label) for g in menu.groups for e in g.entries if e.current] == [page]
    assert [g.key for g in menu.groups if g.current] == [group]


def test_a_page_outside_the_menu_marks_nothing_current(world: Any) -> None:
    menu = menu_for(world, "hq_admin", "/hq/login/")
    assert menu.current is None and not any(e.current for g in menu.groups for e in g.entries)


def test_a_group_shows_once_it_has_a_page_for_the_viewer(world: Any) -> None:
    commerce = Group("commerce", "Commerce", (Entry("hq:store_map", "Store map", "org.manage_structure"),))
    menu = (*HQ_MENU[:3], commerce, *HQ_MENU[4:])
    assert "commerce" in shown(menu_for(world, "hq_operator", "/hq/", menu))
    assert "commerce" not in shown(menu_for(world, "store_manager", "/hq/", menu))  # no permission: no group
    here = menu_for(world, "hq_operator", reverse("hq:store_map"), menu)
    assert here.current is not None and here.current.key == "commerce"


def test_the_page_draws_groups_the_phone_menu_and_the_current_groups_pages(world: Any) -> None:
    client = english(world.login(Client(), "hq_operator"))
    html = client.get(reverse("hq:import_list")).content.decode()
    groups = re.search(r'<ul class="navgroups">(.*?)</ul>', html, re.S)
    assert groups is not None
    assert re.findall(r'data-group="(\w+)"', groups.group(1)) == [
        "overview",
        "org",
        "customers",
        "commerce",
        "insight",
        "guides",
    ]  # no audit, no tokens
    assert re.search(r'data-group="customers" aria-current="true"', groups.group(1))
    assert '<details class="navmenu">' in html and "<summary>" in html  # collapsible on a phone, keyboard-ready
    subnav = re.search(r'<nav class="subnav" aria-label="Customers">(.*?)</nav>', html, re.S)
    assert subnav is not None
    assert re.findall(r'aria-current="page">([^<]+)<', subnav.group(1)) == ["Imports"]
    assert reverse("hq:merge_list") in subnav.group(1)


def test_the_overview_has_no_second_bar(world: Any) -> None:
    html = world.login(Client(), "hq_operator").get(reverse("hq:home")).content.decode()
    assert 'class="subnav"' not in html
