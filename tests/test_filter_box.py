"""Filter boxes fold on a phone behind a "Filters (n)" toggle that counts the filters set; hidden
fields are not drawn as labelled inputs (the browser test checks the fold at 390 px)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db


def customer_list(world: Any, **query: Any) -> str:
    client = world.login(Client(), "hq_operator")
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    response = client.get(reverse("hq:customer_list"), query)
    return response.content.decode()


def toggle(html: str) -> str:
    found = re.search(r'<summary class="button filter-toggle">([^<]*)</summary>', html)
    assert found is not None
    return found.group(1).strip()


def test_the_toggle_counts_the_filters_that_are_set(world: Any) -> None:
    assert toggle(customer_list(world)) == "Filters (0)"
    assert toggle(customer_list(world, lifecycle="active", tier="gold", q="")) == "Filters (2)"
    assert toggle(customer_list(world, store=world.flagship.pk, page=2)) == "Filters (1)"  # paging is no filter


def test_the_box_folds_on_a_phone_only_and_stays_open_on_errors(world: Any) -> None:
    html = customer_list(world)
    assert '<details class="filter-box" open>' in html and 'matchMedia("(max-width: 720px)")' in html
    refused = customer_list(world, joined_from="2026-05-02", joined_to="2026-05-01")
    assert "The end comes before the start." in refused
    assert "matchMedia" not in refused  # the error stays in view


def test_a_hidden_field_has_no_visible_label(world: Any) -> None:
    html = customer_list(world, phone="13800138000")
    form = re.search(r'<form method="get" class="filters".*?</form>', html, re.S)
    assert form is not None
    assert '<input type="hidden" name="phone" value="13800138000"' in form.group(0)
    assert "<span>Phone</span>" not in form.group(0)
