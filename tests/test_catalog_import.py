"""Importing the catalog from CSV or Excel: a dry run reports every bad row (line, column, reason)
and changes nothing; a real run applies the whole file in one transaction or nothing; running it
again changes nothing; an export imports back unchanged."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import openpyxl
import pytest
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from siyu.catalog import importer
from siyu.catalog import services as catalog
from siyu.catalog.models import CatalogImport, Product, Sku, StorePrice
from siyu.platform.models import AuditEntry
from siyu.platform.sheets import write_xlsx
from tests.catalog_factory import Range, make_range

pytestmark = pytest.mark.django_db

HEAD = "款号,品名,品类,角色,吊牌价,SKU编码,颜色,尺码,条码,在售\n"
GOOD = (
    HEAD
    + "FY-WALK-01,城市健步鞋,SHOES,引流款,399,FY-WALK-01-GRY-40,灰,40,6901000000010,是\n"
    + "FY-WALK-01,城市健步鞋,SHOES,引流款,399,FY-WALK-01-GRY-41,灰,41,,是\n"
    + "FY-TEE-01,速干T恤,TEES,regular,139.00,FY-TEE-01-BLK-M,黑,M,,yes\n"
)


@pytest.fixture
def rng(world: Any, settings: Any, tmp_path: Path) -> Range:
    settings.SIYU_HOME = tmp_path
    settings.LANGUAGE_CODE = "en"
    return make_range(world)


def write(tmp_path: Path, text: str, name: str = "catalog.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def run(rng: Range, path: Path, *, dry_run: bool, kind: str = "products") -> importer.Report:
    return importer.run_import(rng.hq, path, kind=kind, dry_run=dry_run)


def snapshot() -> list[tuple[Any, ...]]:
    return [
        *Product.objects.order_by("pk").values_list("code", "name", "category_id", "role", "price_fen", "active"),
        *Sku.objects.order_by("pk").values_list("code", "product_id", "color", "size", "barcode"),
        *StorePrice.objects.order_by("pk").values_list("store_id", "sku_id", "price_fen"),
    ]


def test_a_dry_run_counts_what_would_change_and_changes_nothing(rng: Range, tmp_path: Path) -> None:
    before = snapshot()
    report = run(rng, write(tmp_path, GOOD), dry_run=True)
    assert (report.status, report.rows_total, report.rows_bad) == ("checked", 3, 0)
    assert report.counts == {
        "products_created": 1,
        "products_updated": 1,  # FY-TEE-01: ¥129 -> ¥139
        "skus_created": 2,
        "skus_updated": 0,
        "rows_unchanged": 0,
    }
    assert snapshot() == before
    assert not AuditEntry.objects.filter(action__startswith="catalog.import").exists()


def test_a_real_run_applies_the_file_and_a_second_run_changes_nothing(world: Any, rng: Range, tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    report = run(rng, path, dry_run=False)
    assert report.status == "done" and report.counts["products_created"] == 1
    walk = Product.objects.get(brand=world.brand, code="FY-WALK-01")
    assert (walk.name, walk.role, walk.price_fen, walk.category_id) == ("城市健步鞋", "traffic", 39900, rng.shoes.pk)
    assert list(walk.skus.values_list("code", "barcode")) == [
        ("FY-WALK-01-GRY-40", "6901000000010"),
        ("FY-WALK-01-GRY-41", ""),
    ]
    rng.tee.refresh_from_db()
    assert rng.tee.price_fen == 13900 and rng.tee.skus.count() == 4  # the SKUs not in the file stay
    entry = AuditEntry.objects.get(action="catalog.import_products")
    assert entry.after["products_created"] == 1 and entry.after["status"] == "done"

    after = snapshot()
    again = run(rng, path, dry_run=False)
    assert again.status == "done" and snapshot() == after
    assert again.counts == {
        "products_created": 0,
        "products_updated": 0,
        "skus_created": 0,
        "skus_updated": 0,
        "rows_unchanged": 3,
    }


BAD = (
    "style_code,name,category,role,price,sku_code,color,size,barcode,on_sale\n"
    "FY-A,甲,SHOES,regular,99,FY-A-1,黑,40,,yes\n"  # line 2: good
    "FY-B,乙,NOPE,regular,99,FY-B-1,黑,40,,yes\n"  # line 3: no such category
    "FY-C,丙,SHOES,vip,12.345,FY-C-1,黑,40,12AB,maybe\n"  # line 4: role, price, barcode, on_sale
    "FY-A,甲,SHOES,regular,109,FY-A-2,黑,41,,yes\n"  # line 5: another price for FY-A
    "FY-D,丁,SHOES,regular,99,FY-A-1,黑,42,,yes\n"  # line 6: SKU code repeated
    "FY-E,戊,SHOES,regular,99,FY-RUN-01-BLK-41,黑,41,,yes\n"  # line 7: the SKU is another style's
    ",,,,,,,,,\n"  # line 8: blank, skipped
    "FY-F,,SHOES,regular,,FY-F-1,,40,,yes\n"  # line 9: name, price and colour missing
)


def test_every_bad_row_is_reported_with_line_column_and_reason(rng: Range, tmp_path: Path) -> None:
    before = snapshot()
    report = run(rng, write(tmp_path, BAD), dry_run=True)
    assert report.rows_total == 7 and report.rows_bad == 6  # line 8 is blank, line 2 good
    found = {(e.line, e.column) for e in report.errors}
    assert found == {
        (3, "category"),
        (4, "role"),
        (4, "price"),
        (4, "barcode"),
        (4, "on_sale"),
        (5, "price"),
        (6, "sku_code"),
        (7, "sku_code"),
        (9, "name"),
        (9, "price"),
        (9, "color"),
    }
    reasons = {(e.line, e.column): e.reason for e in report.errors}
    assert "NOPE" in reasons[(3, "category")]
    assert "line 2" in reasons[(5, "price")] and "line 2" in reasons[(6, "sku_code")]
    assert "FY-RUN-01" in reasons[(7, "sku_code")]
    assert snapshot() == before


def test_a_real_run_with_a_bad_row_is_refused_whole(rng: Range, tmp_path: Path) -> None:
    before = snapshot()
    report = run(rng, write(tmp_path, BAD), dry_run=False)
    assert report.status == "refused" and "nothing was imported" in report.message
    assert snapshot() == before  # not even the good line 2
    assert CatalogImport.objects.get(pk=report.run_id).status == "refused"


def test_an_unreadable_file_fails_with_what_to_do(rng: Range, tmp_path: Path) -> None:
    report = run(rng, write(tmp_path, "款号,品名\nFY-A,甲\n"), dry_run=True)
    assert report.status == "failed" and "Columns missing" in report.message and "sku_code" in report.message
    report = run(rng, write(tmp_path, "x", name="old.xls"), dry_run=True)
    assert report.status == "failed" and ".xlsx" in report.message


def test_gbk_csv_and_excel_are_read(rng: Range, tmp_path: Path) -> None:
    gbk = run(rng, write(tmp_path, GOOD, encoding="gb18030"), dry_run=True)
    assert gbk.rows_bad == 0 and gbk.counts["skus_created"] == 2 and "GBK" in gbk.notices[0]
    rows = [line.split(",") for line in GOOD.strip().splitlines()]
    xlsx = tmp_path / "catalog.xlsx"
    write_xlsx(xlsx, rows[0], [[*r[:4], float(r[4]), *r[5:]] for r in rows[1:]])  # Excel keeps 399 as 399.0
    report = run(rng, xlsx, dry_run=False)
    assert report.status == "done" and report.rows_bad == 0
    assert Product.objects.get(code="FY-WALK-01").price_fen == 39900


def test_an_export_imports_back_unchanged(world: Any, rng: Range, tmp_path: Path, client: Client) -> None:
    world.login(client, "hq_admin")
    response = client.get(reverse("hq:product_export_csv"))
    path = tmp_path / "export.csv"
    path.write_bytes(b"".join(response.streaming_content))  # type: ignore[attr-defined]
    before = snapshot()
    report = run(rng, path, dry_run=False)
    assert report.status == "done" and report.rows_bad == 0
    assert report.counts["rows_unchanged"] == report.rows_total == 9
    assert snapshot() == before


def test_store_prices_are_imported_by_store_and_sku_code(world: Any, rng: Range, tmp_path: Path) -> None:
    text = (
        "门店编码,SKU编码,门店价\n"
        "SH001,FY-RUN-01-BLK-41,549\n"
        "sh002,FY-RUN-01-BLK-41,559.00\n"
        "SH999,FY-RUN-01-BLK-41,1\n"  # line 4: no such store
        "SH001,FY-NOPE,1\n"  # line 5: no such SKU
        "SH001,FY-RUN-01-BLK-41,0\n"  # line 6: not a price (and a repeat)
        "R001,FY-RUN-01-BLK-42,1\n"  # line 7: the rival's store is not ours
    )
    report = run(rng, write(tmp_path, text), dry_run=True, kind="prices")
    assert {(e.line, e.column) for e in report.errors} == {
        (4, "门店编码"),
        (5, "SKU编码"),
        (6, "门店价"),
        (7, "门店编码"),
    }
    good = "\n".join(text.splitlines()[:3]) + "\n"
    assert run(rng, write(tmp_path, good), dry_run=False, kind="prices").counts == {
        "prices_created": 2,
        "prices_updated": 0,
        "rows_unchanged": 0,
    }
    assert dict(StorePrice.objects.values_list("store__code", "price_fen")) == {"SH001": 54900, "SH002": 55900}
    again = run(rng, write(tmp_path, good.replace("549\n", "539\n")), dry_run=False, kind="prices")
    assert again.counts == {"prices_created": 0, "prices_updated": 1, "rows_unchanged": 1}
    card = catalog.product_card(world.brand.pk, rng.runner.pk, store_id=world.flagship.pk)
    assert card is not None and card.min_price_fen == 53900


def test_only_hq_imports(world: Any, rng: Range, tmp_path: Path, scope_of: Any) -> None:
    with pytest.raises(PermissionDenied):
        importer.run_import(scope_of(world.staff["region_manager"]), write(tmp_path, GOOD), kind="products")


def test_the_pages_check_then_import_the_same_file(world: Any, rng: Range, client: Client) -> None:
    world.login(client, "hq_operator")
    upload = SimpleUploadedFile("catalog.csv", GOOD.encode(), content_type="text/csv")
    response = client.post(reverse("hq:catalog_import_list"), {"kind": "products", "file": upload})
    checked = CatalogImport.objects.get()
    assert response["Location"] == reverse("hq:catalog_import_detail", args=[checked.pk]) and checked.dry_run
    page = client.get(response["Location"]).content.decode()
    assert "Products created (would be)" in page and 'id="import-confirm"' in page
    assert not Product.objects.filter(code="FY-WALK-01").exists()
    done = client.post(reverse("hq:catalog_import_confirm", args=[checked.pk]))
    real = CatalogImport.objects.exclude(pk=checked.pk).get()
    assert done["Location"] == reverse("hq:catalog_import_detail", args=[real.pk]) and real.status == "done"
    assert Product.objects.filter(code="FY-WALK-01").exists()

    bad = SimpleUploadedFile("bad.csv", BAD.encode(), content_type="text/csv")
    response = client.post(reverse("hq:catalog_import_list"), {"kind": "products", "file": bad})
    page = client.get(response["Location"]).content.decode()
    assert 'id="import-errors"' in page and 'id="import-confirm"' not in page
    wrong = SimpleUploadedFile("catalog.pdf", b"%PDF", content_type="application/pdf")
    refused = client.post(reverse("hq:catalog_import_list"), {"kind": "products", "file": wrong})
    assert refused.status_code == 400 and refused.context["form"].errors["file"]


def test_sheet_cells_from_excel_read_as_typed(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    book.active.append(["a", "b"])
    book.active.append([12.0, True])
    book.save(tmp_path / "t.xlsx")
    from siyu.platform.sheets import open_sheet

    sheet = open_sheet(tmp_path / "t.xlsx")
    assert sheet.headers == ["a", "b"] and list(sheet.rows) == [(2, ["12", "yes"])]
