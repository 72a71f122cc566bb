"""The filtered customer list as Excel (.xlsx): the same people, columns and masking as the CSV,
within each role's reach; written by openpyxl's write-only workbook. The tests open the file."""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from openpyxl import load_workbook

from siyu.members import services as members
from siyu.members.models import Customer
from siyu.org import services as org

pytestmark = pytest.mark.django_db
MASKED_PHONE = re.compile(r"^1\d{2}\*{4}\d{4}$")


def workbook_rows(response: Any) -> list[tuple[Any, ...]]:
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert 'filename="customers.xlsx"' in response["Content-Disposition"]
    book = load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    return list(book.active.iter_rows(values_only=True))


def export(world: Any, persona: str, **query: Any) -> list[tuple[Any, ...]]:
    client = world.login(Client(), persona)
    return workbook_rows(client.get(reverse("hq:customer_export_xlsx"), query))


@pytest.mark.parametrize(
    ("persona", "guides"),
    [
        ("hq_admin", ["chen.guide", "liu.guide", "sun.guide", "he.guide"]),
        ("hq_operator", ["chen.guide", "liu.guide", "sun.guide", "he.guide"]),
        ("region_manager", ["chen.guide", "liu.guide", "sun.guide"]),  # East only
        ("store_manager", ["chen.guide", "liu.guide"]),  # her store only
    ],
)
def test_each_role_gets_her_reach_masked(world: Any, persona: str, guides: list[str]) -> None:
    rows = export(world, persona)
    header, body = rows[0], rows[1:]
    assert header[:3] == ("ID", "姓名", "手机号")
    assert {r[0] for r in body} == {pk for g in guides for pk in world.customers[g]}
    assert all(MASKED_PHONE.match(r[2]) for r in body)
    names = {r[1] for r in body}
    assert all(n.endswith("*") for n in names)
    assert not {n for n in names if "*" not in n}  # nobody's full name
    rival = set(world.customers["rival.guide"])
    assert not rival & {r[0] for r in body}


def test_a_guide_has_no_export(world: Any) -> None:
    client = world.login(Client(), "guide_a")
    assert client.get(reverse("hq:customer_export_xlsx")).status_code == 403


def test_filters_apply_and_the_rows_match_the_csv(world: Any) -> None:
    client = world.login(Client(), "hq_operator")
    query = {"store": world.sh2.pk}
    rows = workbook_rows(client.get(reverse("hq:customer_export_xlsx"), query))
    assert {r[0] for r in rows[1:]} == set(world.customers["sun.guide"])
    csv_body = b"".join(client.get(reverse("hq:customer_export"), query).streaming_content).decode("utf-8-sig")
    csv_rows = list(csv.reader(io.StringIO(csv_body)))
    assert [str(h) for h in rows[0]] == csv_rows[0]
    # the same people, in the same order, with the same masked contact data
    assert [(str(r[0]), r[1], r[2]) for r in rows[1:]] == [tuple(r[:3]) for r in csv_rows[1:]]


def test_money_is_a_number_with_two_decimals_and_dates_are_dates(world: Any) -> None:
    pk = world.customers["chen.guide"][0]
    Customer.objects.filter(pk=pk).update(total_spent_fen=428_650, orders_count=6)
    rows = export(world, "hq_operator")
    row = next(r for r in rows[1:] if r[0] == pk)
    assert Decimal(str(row[11])) == Decimal("4286.50") and row[10] == 6
    assert row[8].year == 2026  # joined_at: a real date and time (local, as Excel knows no time zones)


def test_text_that_looks_like_a_formula_stays_text(world: Any) -> None:
    hq = org.hq_scope(world.brand.pk, "test")
    list(
        members.bulk_add_customers(
            world.brand.pk,
            [
                members.NewCustomer(
                    phone="13711112222",
                    name="=HYPERLINK(1)",
                    store_id=world.flagship.pk,
                    guide_id=None,
                    joined_at=members.visible_customers(hq).first().joined_at,
                )
            ],
        )
    )
    client = world.login(Client(), "hq_operator")
    response = client.get(reverse("hq:customer_export_xlsx"), {"q": "13711112222"})
    book = load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    cell = book.active["B2"]
    assert cell.value.startswith("'=") and cell.data_type == "s"  # neutralised as in the CSV, never evaluated
