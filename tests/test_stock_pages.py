"""The HQ stock pages: a store's stock with its city's totals, the ledger, receipts, stock-takes and
transfers (a form sent twice moves stock once), the allocation policy and the ledger check."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from siyu.inventory import services as stock
from siyu.org import services as org
from tests.stock_factory import running_shoe


@pytest.fixture
def skus(world: Any) -> dict[str, int]:
    return running_shoe(world)[1]


def test_a_receipt_form_sent_twice_receives_once_and_the_list_shows_city_totals(
    world: Any, skus: dict[str, int]
) -> None:
    client = world.login(Client(), "hq_operator")
    form = client.get(reverse("hq:stock_receive"))
    key = form.context["form"].initial["key"]
    data = {"key": key, "store": world.flagship.pk, "lines": "R100-40, 3\nR100-41\t2", "reference": "DN-1"}
    assert client.post(reverse("hq:stock_receive"), data).status_code == 302
    assert client.post(reverse("hq:stock_receive"), data).status_code == 302  # the same form again
    assert stock.store_stock(world.brand.pk, world.flagship.pk, skus.values()) == {
        skus["R100-40"]: 3,
        skus["R100-41"]: 2,
    }
    stock.receive(org.hq_scope(world.brand.pk), world.sh2.pk, {skus["R100-40"]: 4}, key="other")
    page = client.get(reverse("hq:stock_list"), {"store": world.flagship.pk, "q": "R100-40"})
    rows = page.context["rows"]
    assert [(r["sku"].sku_code, r["level"].on_hand, r["city"]) for r in rows] == [("R100-40", 3, 7)]
    ledger = client.get(reverse("hq:stock_ledger"), {"store": world.flagship.pk, "sku": "R100-40"})
    assert [(m.kind, m.on_hand_delta, m.reference) for m, _s in ledger.context["rows"]] == [("receipt", 3, "DN-1")]


def test_a_bad_line_or_an_unknown_sku_is_refused_and_changes_nothing(world: Any, skus: dict[str, int]) -> None:
    client = world.login(Client(), "hq_operator")
    for lines in ("R100-40 three", "NOPE-1, 2", "R100-40, 0"):
        page = client.post(
            reverse("hq:stock_receive"), {"key": "k-" + lines, "store": world.flagship.pk, "lines": lines}
        )
        assert page.status_code == 200 and page.context["form"].errors
    assert stock.levels(world.brand.pk, world.flagship.pk) == []


def test_a_stock_take_and_a_transfer_move_stock_and_the_ledger_balances(world: Any, skus: dict[str, int]) -> None:
    stock.receive(org.hq_scope(world.brand.pk), world.flagship.pk, {skus["R100-40"]: 5}, key="g")
    client = world.login(Client(), "store_manager")  # the flagship's manager
    client.post(
        reverse("hq:stock_adjust"),
        {"key": "a1", "store": world.flagship.pk, "sku": "R100-40", "counted": 4, "reason": "盘点"},
    )
    client.post(
        reverse("hq:stock_transfer"),
        {"key": "t1", "store": world.flagship.pk, "to_store": world.sh2.pk, "lines": "R100-40, 3"},
    )
    assert stock.store_stock(world.brand.pk, world.flagship.pk, [skus["R100-40"]]) == {skus["R100-40"]: 1}
    assert stock.store_stock(world.brand.pk, world.sh2.pk, [skus["R100-40"]]) == {skus["R100-40"]: 3}
    too_many = client.post(
        reverse("hq:stock_transfer"),
        {"key": "t2", "store": world.flagship.pk, "to_store": world.sh2.pk, "lines": "R100-40, 9"},
    )
    assert too_many.status_code == 200 and too_many.context["form"].non_field_errors()
    # a store manager cannot send from another store: it is not among her choices
    other = client.post(
        reverse("hq:stock_transfer"),
        {"key": "t3", "store": world.sh2.pk, "to_store": world.flagship.pk, "lines": "R100-40, 1"},
    )
    assert other.status_code == 200 and "store" in other.context["form"].errors
    check = world.login(Client(), "hq_admin").get(reverse("hq:stock_check"))
    assert check.context["rows"] == [] and 'id="ledger-status"' in check.content.decode()


def test_hq_sets_the_allocation_policy(world: Any) -> None:
    client = world.login(Client(), "hq_operator")
    client.post(reverse("hq:stock_policy"), {"split": "nearest", "hold_minutes": 20, "beyond_city": "on"})
    assert stock.allocation_policy(world.brand.pk) == stock.PolicyInfo("nearest", 20, True)
    bad = client.post(reverse("hq:stock_policy"), {"split": "nearest", "hold_minutes": 500})
    assert bad.status_code == 200 and stock.allocation_policy(world.brand.pk).hold_minutes == 20
    assert world.login(Client(), "region_manager").get(reverse("hq:stock_policy")).status_code == 403
