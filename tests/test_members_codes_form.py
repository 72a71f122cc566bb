"""The code form reports every problem at once: the form's own (a malformed date, a too-long name)
beside the service's (a store code without a store, an item that already has its code). The API
answers every problem of one request in one 422. One code per item (一物一码)."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from siyu.members import codes
from siyu.members.models import Code
from siyu.org import services as org
from siyu.platform import clock

pytestmark = pytest.mark.django_db


def errors_on(html: str) -> dict[str, int]:
    """Field name -> how many error messages the form shows on it."""
    found: dict[str, int] = {}
    for field, body in re.findall(r'data-field="(\w+)">(.*?)</div>\s*(?=<div class="field|<p class)', html, re.S):
        n = body.count('class="field-error"')
        if n:
            found[field] = n
    return found


def test_every_problem_of_the_form_is_shown_in_one_round(world: Any) -> None:
    client = world.login(Client(), "hq_operator")
    past = (clock.now() - dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    answer = client.post(reverse("hq:code_create"), {"kind": "store", "name": "x" * 101, "expires_at": past})
    assert answer.status_code == 400
    html = answer.content.decode()
    # the name is refused by the form, the missing store and the past expiry by the service: together
    assert errors_on(html) == {"name": 1, "store": 1, "expires_at": 1}
    assert not Code.objects.exists()


def test_a_malformed_date_and_a_missing_campaign_come_together(world: Any) -> None:
    client = world.login(Client(), "hq_operator")
    answer = client.post(reverse("hq:code_create"), {"kind": "campaign", "expires_at": "next tuesday"})
    assert answer.status_code == 400
    assert errors_on(answer.content.decode()) == {"campaign": 1, "expires_at": 1}


def test_an_item_that_has_its_code_is_refused_with_the_other_problems(world: Any) -> None:
    hq = org.hq_scope(world.brand.pk, "test")
    codes.create_code(hq, kind="product", sku_code="FY-RUN-01", serial="000007")
    client = world.login(Client(), "hq_operator")
    answer = client.post(
        reverse("hq:code_create"),
        {"kind": "product", "sku_code": "FY-RUN-01", "serial": "000007", "store": "999999", "name": "y" * 101},
    )
    assert answer.status_code == 400
    html = answer.content.decode()
    assert errors_on(html) == {"serial": 1, "name": 1, "store": 1}
    assert "000007" in html and "FY-RUN-01" in html
    assert Code.objects.filter(kind="product").count() == 1


def test_a_serial_and_a_count_together_are_refused(world: Any) -> None:
    client = world.login(Client(), "hq_operator")
    answer = client.post(
        reverse("hq:code_create"), {"kind": "product", "sku_code": "FY-RUN-02", "serial": "1", "count": "5"}
    )
    assert answer.status_code == 400 and "serial" in errors_on(answer.content.decode())
    assert not Code.objects.exists()


def test_a_valid_form_still_makes_its_code(world: Any) -> None:
    client = world.login(Client(), "hq_operator")
    answer = client.post(reverse("hq:code_create"), {"kind": "product", "sku_code": "FY-RUN-03", "serial": "A-1"})
    made = Code.objects.get(sku_code="FY-RUN-03")
    assert answer.status_code == 302 and answer["Location"] == reverse("hq:code_detail", args=[made.pk])
    assert made.serial == "A-1"


def test_a_batch_is_numbered_after_the_highest_serial_so_no_item_gets_two_codes(world: Any) -> None:
    hq = org.hq_scope(world.brand.pk, "test")
    codes.create_code(hq, kind="product", sku_code="FY-TEE", serial="000004")
    made = codes.create_product_codes(hq, sku_code="FY-TEE", count=3)
    assert [c.serial for c in made] == ["000005", "000006", "000007"]
    serials = list(Code.objects.filter(sku_code="FY-TEE").values_list("serial", flat=True))
    assert len(serials) == len(set(serials)) == 4


def test_the_api_answers_every_problem_of_a_code_in_one_422(world: Any) -> None:
    hq = org.hq_scope(world.brand.pk, "test")
    codes.create_code(hq, kind="product", sku_code="FY-CAP", serial="9")
    client = world.login(Client(), "hq_operator")
    past = (clock.now() - dt.timedelta(hours=1)).isoformat()
    answer = client.post(
        reverse("api:code_create"),
        json.dumps({"kind": "product", "sku_code": "FY-CAP", "serial": "9", "expires_at": past, "store_id": 999999}),
        content_type="application/json",
    )
    assert answer.status_code == 422
    assert sorted(e["field"] for e in answer.json()["errors"]) == ["expires_at", "serial", "store_id"]
    assert Code.objects.filter(sku_code="FY-CAP").count() == 1


def test_a_store_manager_sees_only_the_fields_of_the_codes_she_may_make(world: Any) -> None:
    html = world.login(Client(), "store_manager").get(reverse("hq:code_create")).content.decode()
    fields = set(re.findall(r'data-field="(\w+)"', html))
    assert {"kind", "store", "guide"} <= fields
    assert not fields & {"campaign", "sku_code", "serial", "count"}
