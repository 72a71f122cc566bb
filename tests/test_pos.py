"""POS systems: stock counts and receipts pushed by API, offline POS orders by API and by CSV (HQ
page and CLI): idempotent by key or document, attributed to the customer's bound guide, the stock
leaving the store through the ledger, bad rows reported and nothing changed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import translation

from siyu.demo import personas as P
from siyu.inventory import services as stock
from siyu.members.models import BindingPolicy, Customer, Identity
from siyu.orders.models import Order
from siyu.org import services as org
from siyu.platform import privacy
from tests.stock_factory import running_shoe


@pytest.fixture
def pos(world: Any) -> dict[str, Any]:
    """A POS token, with the brand's POS declared to check phone numbers (most tests find the customer
    by her number; the default, an untrusted POS, has its own test below)."""
    BindingPolicy.objects.update_or_create(brand_id=world.brand.pk, defaults={"pos_phones_verified": True})
    hq, skus = running_shoe(world)
    _token, secret = org.issue_token(hq, name="POS SH001", perms=["inventory.manage", "orders.import"])
    return {"skus": skus, "auth": {"HTTP_AUTHORIZATION": f"Bearer {secret}"}, "hq": hq}


def post(pos: dict[str, Any], name: str, body: dict[str, Any]) -> Any:
    return Client().post(reverse(f"api:{name}"), json.dumps(body), content_type="application/json", **pos["auth"])


def test_a_pos_pushes_counts_and_receipts_once_per_key(world: Any, pos: dict[str, Any]) -> None:
    body = {"store_code": "SH001", "key": "sync-1", "counts": [{"sku_code": "R100-40", "count": 7}]}
    first = post(pos, "stock_pos_sync", body)
    assert first.status_code == 200 and first.json()["applied"] is True
    assert post(pos, "stock_pos_sync", body).json()["applied"] is False
    receipt = {"store_code": "SH001", "key": "dn-9", "lines": [{"sku_code": "R100-40", "quantity": 3}]}
    assert post(pos, "stock_receipt", receipt).json()["applied"] is True
    sku = pos["skus"]["R100-40"]
    assert stock.store_stock(world.brand.pk, world.flagship.pk, [sku]) == {sku: 10}
    bad = post(pos, "stock_pos_sync", {**body, "key": "x", "counts": [{"sku_code": "NOPE", "count": 1}]})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "sku_code"
    assert stock.check_ledger(world.brand.pk) == []


def test_a_pos_order_is_completed_attributed_to_her_guide_and_takes_the_stock_once(
    world: Any, pos: dict[str, Any]
) -> None:
    stock.receive(pos["hq"], world.flagship.pk, {pos["skus"]["R100-40"]: 3}, key="g")
    body = {
        "store_code": "SH001",
        "document": "POS-0001",
        "phone": P.CUSTOMER_PHONE,
        "at": "2026-11-23T14:05:00+08:00",
        "lines": [{"sku_code": "R100-40", "quantity": 2, "unit_price_fen": 35900}],
    }
    first = post(pos, "pos_order_create", body)
    assert first.status_code == 201, first.content
    out = first.json()
    assert out["status"] == "completed" and out["total_fen"] == 71800
    assert out["guide_id"] == world.staff["guide_a"].pk  # her bound guide
    again = post(pos, "pos_order_create", body)
    assert again.status_code == 200 and again.json()["number"] == out["number"]
    assert Order.objects.filter(channel="pos").count() == 1
    sku = pos["skus"]["R100-40"]
    assert stock.store_stock(world.brand.pk, world.flagship.pk, [sku]) == {sku: 1}
    buyer = Customer.objects.get(pk=out["customer_id"])
    assert buyer.orders_count == 1 and buyer.total_spent_fen == 71800
    short = post(pos, "pos_order_create", {**body, "document": "POS-0002"})  # 1 left, 2 sold
    assert short.status_code == 422 and Order.objects.filter(channel="pos").count() == 1
    assert stock.check_ledger(world.brand.pk) == []


def test_an_untrusted_pos_phone_is_kept_unverified_and_finds_nobody(world: Any, pos: dict[str, Any]) -> None:
    """The default (ADR 0007): a number typed at the till proves nothing, so it neither finds her nor
    becomes anyone's verified phone; her member card still finds her."""
    BindingPolicy.objects.filter(brand_id=world.brand.pk).update(pos_phones_verified=False)
    stock.receive(pos["hq"], world.flagship.pk, {pos["skus"]["R100-40"]: 3}, key="g")
    line = [{"sku_code": "R100-40", "quantity": 1, "unit_price_fen": 35900}]
    at = "2026-11-23T14:05:00+08:00"
    holder = Customer.objects.get(phone_hash=privacy.lookup_hash(P.CUSTOMER_PHONE))
    known = post(
        pos,
        "pos_order_create",
        {"store_code": "SH001", "document": "U-1", "phone": P.CUSTOMER_PHONE, "at": at, "lines": line},
    )
    assert known.status_code == 201 and known.json()["customer_id"] != holder.pk  # she is not found by a typed number
    fresh = post(
        pos,
        "pos_order_create",
        {
            "store_code": "SH001",
            "document": "U-2",
            "phone": "13900007777",
            "pos_card": "VIP-777",
            "at": at,
            "lines": line,
        },
    )
    buyer = Customer.objects.get(pk=fresh.json()["customer_id"])
    assert buyer.phone_hash == ""  # an unverified number is never her primary phone
    phone = Identity.objects.get(customer=buyer, kind="phone")
    assert phone.key == privacy.lookup_hash("13900007777") and not phone.verified
    again = post(
        pos,
        "pos_order_create",
        {"store_code": "SH001", "document": "U-3", "pos_card": "VIP-777", "at": at, "lines": line},
    )
    assert again.json()["customer_id"] == buyer.pk  # the card finds her


def test_a_new_member_card_makes_a_new_customer_of_the_store(world: Any, pos: dict[str, Any]) -> None:
    stock.receive(pos["hq"], world.flagship.pk, {pos["skus"]["R100-41"]: 1}, key="g")
    body = {
        "store_code": "SH001",
        "document": "POS-CARD",
        "pos_card": "VIP-000123",
        "at": "2026-11-23T14:05:00+08:00",
        "lines": [{"sku_code": "R100-41", "quantity": 1, "unit_price_fen": 39900}],
    }
    out = post(pos, "pos_order_create", body).json()
    assert out["guide_id"] is None and Customer.objects.get(pk=out["customer_id"]).store_id == world.flagship.pk


CSV_GOOD = (
    "store_code,document,time,phone,sku_code,quantity,price\n"
    f"SH001,D-1,2026-11-23 10:00,{P.CUSTOMER_PHONE},R100-40,1,359.00\n"
    f"SH001,D-1,2026-11-23 10:00,{P.CUSTOMER_PHONE},R100-41,1,359.00\n"
    "SH002,D-2,2026-11-23 11:00,13900009999,R100-40,1,399\n"
)
CSV_BAD = CSV_GOOD + "SH009,D-3,yesterday,139,NOPE,0,abc\n"


def _stocked(world: Any, pos: dict[str, Any]) -> None:
    s = pos["skus"]
    stock.receive(pos["hq"], world.flagship.pk, {s["R100-40"]: 2, s["R100-41"]: 2}, key="g1")
    stock.receive(pos["hq"], world.sh2.pk, {s["R100-40"]: 2}, key="g2")


def test_the_hq_page_checks_then_imports_a_file_and_a_second_run_records_nothing(
    world: Any, pos: dict[str, Any]
) -> None:
    _stocked(world, pos)
    client = world.login(Client(), "hq_operator")
    page = client.post(reverse("hq:pos_import"), {"file": SimpleUploadedFile("pos.csv", CSV_BAD.encode())})
    report = page.context["report"]
    assert report.dry_run and {(b.line, b.column) for b in report.errors} >= {
        (5, "store_code"),
        (5, "time"),
        (5, "phone"),
        (5, "quantity"),
        (5, "price"),
    }
    assert Order.objects.count() == 0
    page = client.post(reverse("hq:pos_import"), {"file": SimpleUploadedFile("pos.csv", CSV_GOOD.encode())})
    assert page.context["report"].errors == [] and page.context["report"].documents == 2
    kept = page.context["kept"]
    done = client.post(reverse("hq:pos_import"), kept).context["report"]
    assert (done.created, done.existing, done.errors) == (2, 0, [])
    again = client.post(reverse("hq:pos_import"), kept).context["report"]
    assert (again.created, again.existing) == (0, 2)
    assert Order.objects.filter(channel="pos").count() == 2
    d1 = Order.objects.get(external_ref="D-1")
    assert d1.lines.count() == 2 and d1.total_fen == 71800 and d1.guide_id == world.staff["guide_a"].pk
    assert Customer.objects.filter(phone_hash=privacy.lookup_hash("13900009999")).exists()
    assert stock.check_ledger(world.brand.pk) == []


def test_a_file_selling_more_than_a_store_holds_is_refused_on_the_line_that_goes_short(
    world: Any, pos: dict[str, Any]
) -> None:
    client = world.login(Client(), "hq_operator")
    page = client.post(reverse("hq:pos_import"), {"file": SimpleUploadedFile("pos.csv", CSV_GOOD.encode())})
    assert {b.line for b in page.context["report"].errors} == {2, 3, 4}
    done = client.post(reverse("hq:pos_import"), page.context["kept"]).context["report"]
    assert done.refused and Order.objects.count() == 0


def test_the_cli_imports_pos_orders_and_checks_the_ledger(world: Any, pos: dict[str, Any], tmp_path: Path) -> None:
    from siyu.cli import main

    _stocked(world, pos)
    bad, good = tmp_path / "bad.csv", tmp_path / "good.csv"
    bad.write_text(CSV_BAD, encoding="utf-8")
    good.write_text(CSV_GOOD, encoding="utf-8")
    runner = CliRunner()
    with translation.override("en"):  # messages are checked in English; the default language is zh-hans
        result = runner.invoke(main, ["import", "pos-orders", str(bad), "--brand", world.brand.code, "--dry-run"])
        assert result.exit_code == 1 and "SH009" in result.output and Order.objects.count() == 0
        result = runner.invoke(main, ["import", "pos-orders", str(good), "--brand", world.brand.code])
        assert result.exit_code == 0, result.output
        assert "2 POS orders recorded" in result.output
        result = runner.invoke(main, ["import", "pos-orders", str(good), "--brand", world.brand.code])
        assert "0 POS orders recorded, 2 already there" in result.output
        result = runner.invoke(main, ["stock", "check", "--brand", world.brand.code])
        assert result.exit_code == 0 and "balances" in result.output
        from siyu.inventory.models import StockLevel

        StockLevel.objects.filter(store_id=world.flagship.pk).update(on_hand=99)  # a row changed behind the ledger
        result = runner.invoke(main, ["stock", "check", "--brand", world.brand.code])
        assert result.exit_code == 1 and "differ" in result.output
