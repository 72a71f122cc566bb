"""Offline POS orders in: one document from a POS by the API, or a CSV/Excel file of them (one row
per line, rows of one document grouped by its number).

A document names its store by code, the customer by mobile number or POS member card (resolved
through ``members.services.resolve``: a customer met for the first time is created, source POS),
and its lines by SKU code with the unit price paid; :func:`record` turns it into
``orders.services.record_pos_order`` (a completed ``pos`` order at that store, attributed to the
customer's bound guide, the units leaving the store's stock), all in one transaction.

A file is checked first, whole: every bad row is reported as (line, column, reason) with the line a
person sees (the header is line 1). A **dry run** stops there and changes nothing. A **real run**
is refused while any row is bad; otherwise each document is recorded in its own transaction. The
document number makes it idempotent: a file run again records nothing twice (those documents are
counted ``existing``). Reading files, mapping columns and keeping uploads are
:mod:`siyu.platform.sheets`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from siyu.catalog import services as catalog
from siyu.inventory import services as stock
from siyu.members import services as members
from siyu.orders import services
from siyu.org import services as org
from siyu.org.services import Perm
from siyu.platform import money, privacy, sheets
from siyu.platform.sheets import BadRow, SheetError
from siyu.platform.tenancy import Scope

MAX_BYTES = 20 * 1024 * 1024
MAX_ROWS = 200_000

COLUMNS: dict[str, tuple[str, ...]] = {
    "store_code": ("store", "门店编码", "门店"),
    "document": ("document_no", "doc", "单据号", "小票号", "pos_document"),
    "time": ("sold_at", "at", "销售时间", "时间"),
    "phone": ("mobile", "手机号", "手机"),
    "pos_card": ("card", "会员卡号", "卡号"),
    "sku_code": ("sku", "sku编码", "sku码"),
    "quantity": ("qty", "数量"),
    "price": ("unit_price", "price_yuan", "单价", "成交价"),
}
REQUIRED = ("store_code", "document", "time", "sku_code", "quantity", "price")
TIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M")


@dataclass(frozen=True)
class PosDoc:
    store_code: str
    document: str
    at: dt.datetime
    lines: Sequence[tuple[str, int, int]]  # (SKU code, quantity, unit price in fen)
    phone: str = ""
    pos_card: str = ""


def _customer(scope: Scope, doc: PosDoc, store_id: int) -> int:
    identities = []
    if doc.phone:
        # a number typed at the till is verified only when the brand declares its POS checks it (ADR 0007)
        identities.append(
            members.IdentityIn(kind="phone", key=doc.phone, verified=members.pos_phones_verified(scope.brand_id))
        )
    if doc.pos_card:
        identities.append(members.IdentityIn(kind="pos_card", key=doc.pos_card))
    if not identities:
        raise ValidationError({"customer": _("Name the customer by her mobile number or POS member card.")})
    customer, _created = members.resolve(scope.brand_id, identities, source="pos", store_id=store_id, at=doc.at)
    return int(customer.pk)


def record(scope: Scope, doc: PosDoc) -> tuple[services.OrderInfo, bool]:
    """Record one POS document (all or nothing). Returns the order and whether it is new. Raises
    ``ValidationError`` (an unknown store, SKU or customer; stock short at the store)."""
    if not scope.can(Perm.ORDERS_IMPORT):
        raise PermissionDenied(_("You may not import POS orders."))
    stores = {s.code: s.id for s in org.visible_stores(scope)}
    store_id = stores.get(doc.store_code.strip())
    if store_id is None:
        raise ValidationError(
            {"store_code": _("No store of your reach has the code %(code)s.") % {"code": doc.store_code}}
        )
    ids = catalog.sku_ids_by_code(scope.brand_id, [code for code, _q, _p in doc.lines])
    unknown = sorted({code for code, _q, _p in doc.lines} - set(ids))
    if unknown:
        raise ValidationError({"sku_code": _("Unknown SKU code(s): %(codes)s.") % {"codes": ", ".join(unknown)}})
    try:
        with transaction.atomic():
            customer_id = _customer(scope, doc, store_id)
            return services.record_pos_order(
                scope,
                store_id=store_id,
                document=doc.document,
                customer_id=customer_id,
                lines=[services.PosLine(ids[code], qty, price) for code, qty, price in doc.lines],
                at=doc.at,
            )
    except stock.StockError as exc:
        raise ValidationError({"quantity": str(exc)}) from exc


# ---- files ---------------------------------------------------------------------------------------


@dataclass
class Report:
    dry_run: bool
    file_name: str
    rows_total: int = 0
    documents: int = 0
    created: int = 0
    existing: int = 0
    errors: list[BadRow] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    refused: bool = False


def uploads_dir(brand_id: int) -> Path:
    return Path(settings.SIYU_HOME) / "imports" / "pos-orders" / str(int(brand_id))


def store_upload(scope: Scope, chunks: Iterable[bytes], file_name: str) -> tuple[Path, str]:
    return sheets.store_upload(chunks, file_name, uploads_dir(scope.brand_id), max_bytes=MAX_BYTES)


def stored(scope: Scope, sha256: str, file_name: str) -> Path:
    path = sheets.stored_path(uploads_dir(scope.brand_id), sha256, file_name)
    if not path.exists():
        raise SheetError(_("The checked file is no longer kept: upload it again."))
    return path


def parse_time(raw: Any) -> dt.datetime:
    if isinstance(raw, dt.datetime):
        value = raw
    else:
        text = str(raw).strip()
        for fmt in TIME_FORMATS:
            try:
                value = dt.datetime.strptime(text, fmt)
                break
            except ValueError:
                continue
        else:
            raise ValueError(text)
    return timezone.make_aware(value) if timezone.is_naive(value) else value


@dataclass
class _Doc:
    line: int
    store_code: str
    at: dt.datetime
    phone: str
    card: str
    lines: list[tuple[str, int, int]] = field(default_factory=list)
    line_numbers: list[int] = field(default_factory=list)


def check(scope: Scope, path: Path, file_name: str) -> tuple[Report, dict[str, _Doc]]:
    """Read and check the whole file: every bad row, and the documents it holds."""
    report = Report(dry_run=True, file_name=file_name)
    sheet = sheets.open_sheet(path, file_name)
    report.notices += sheet.notices
    columns, ignored = sheets.map_columns(sheet.headers, COLUMNS, REQUIRED)
    if "phone" not in columns and "pos_card" not in columns:
        raise SheetError(_("Columns missing: phone or pos_card. Each order names its customer by one of them."))
    if ignored:
        report.notices.append(_("Columns ignored: %(names)s.") % {"names": ", ".join(ignored)})
    head = {c: sheet.headers[i] for c, i in columns.items()}
    stores = {s.code for s in org.visible_stores(scope)}
    docs: dict[str, _Doc] = {}
    rows: list[tuple[int, str, str, int]] = []  # line, document, SKU code, quantity (for the stock check)
    for line, cells in sheet.rows:
        if sheets.blank(cells):
            continue
        report.rows_total += 1
        if report.rows_total > MAX_ROWS:
            raise SheetError(_("The file has more than %(n)d rows; split it.") % {"n": MAX_ROWS})
        cell = sheets.cell_reader(columns, cells)
        bad: list[BadRow] = []

        def problem(column: str, reason: str, line: int = line, bad: list[BadRow] = bad) -> None:
            bad.append(BadRow(line, head.get(column, column), reason))

        store_code, document, sku_code = str(cell("store_code")), str(cell("document")), str(cell("sku_code"))
        if store_code not in stores:
            problem("store_code", _("No store of your reach has the code “%(code)s”.") % {"code": store_code})
        if not document or len(document) > 60:
            problem("document", _("Give the POS document number (up to 60 characters)."))
        qty_raw = str(cell("quantity"))
        qty = int(qty_raw) if qty_raw.isdigit() else 0
        if not 1 <= qty <= 9999:
            problem("quantity", _("“%(value)s” is not a quantity from 1 to 9999.") % {"value": qty_raw})
        try:
            price = money.yuan_to_fen(str(cell("price")).replace("¥", "").replace("￥", "").strip())
            if price < 0:
                raise ValueError(price)
        except (ValueError, ArithmeticError):
            price = -1
            problem("price", _("“%(value)s” is not a price in yuan, e.g. 299.00.") % {"value": cell("price")})
        try:
            at = parse_time(cell("time"))
        except ValueError:
            at = None
            problem("time", _("“%(value)s” is not a time like 2026-11-23 14:05.") % {"value": cell("time")})
        phone, card = str(cell("phone")), str(cell("pos_card"))
        if phone:
            try:
                phone = privacy.normalize_phone(phone)
            except ValueError:
                problem("phone", _("“%(value)s” is not a mobile number.") % {"value": phone})
        if not phone and not card:
            problem("phone", _("Name the customer by her mobile number or POS member card."))
        doc = docs.get(document)
        if (
            doc is not None
            and not bad
            and (doc.store_code, doc.at, doc.phone, doc.card) != (store_code, at, phone, card)
        ):
            problem(
                "document",
                _("Document %(doc)s has other store, time or customer on line %(line)d.")
                % {"doc": document, "line": doc.line},
            )
        if bad:
            report.errors += bad
            continue
        assert at is not None
        if doc is None:
            doc = docs[document] = _Doc(line, store_code, at, phone, card)
        doc.lines.append((sku_code, qty, price))
        doc.line_numbers.append(line)
        rows.append((line, document, sku_code, qty))
    known = catalog.sku_ids_by_code(scope.brand_id, {code for _l, _d, code, _q in rows})
    head_sku = head.get("sku_code", "sku_code")
    report.errors += [
        BadRow(line, head_sku, _("Unknown SKU code “%(code)s”.") % {"code": code})
        for line, _d, code, _q in rows
        if code not in known
    ]
    done = services.pos_documents(scope.brand_id, list(docs))
    _check_stock(scope, docs, known, done, report, head.get("quantity", "quantity"))
    report.documents = len(docs)
    report.existing = len(done)
    report.errors.sort(key=lambda b: b.line)
    return report, docs


def _check_stock(
    scope: Scope, docs: dict[str, _Doc], known: dict[str, int], done: set[str], report: Report, column: str
) -> None:
    """Each store must hold what the file's new documents sell from it (else the line that goes short)."""
    stores = {s.code: s.id for s in org.visible_stores(scope)}
    need: dict[tuple[int, int], list[tuple[int, int]]] = {}
    for number, doc in docs.items():
        if number in done:
            continue
        for (code, qty, _p), line in zip(doc.lines, doc.line_numbers, strict=True):
            if code in known:
                need.setdefault((stores[doc.store_code], known[code]), []).append((line, qty))
    by_store: dict[int, set[int]] = {}
    for store_id, sku_id in need:
        by_store.setdefault(store_id, set()).add(sku_id)
    for store_id, sku_ids in by_store.items():
        have = stock.store_stock(scope.brand_id, store_id, sku_ids)
        for sku_id in sku_ids:
            left = have.get(sku_id, 0)
            for line, qty in need[(store_id, sku_id)]:
                left -= qty
                if left < 0:
                    report.errors.append(
                        BadRow(line, column, _("The store holds too little of this SKU: sync its stock first."))
                    )


def import_file(scope: Scope, path: Path, file_name: str, *, dry_run: bool) -> Report:
    """Check the file; on a real run with no bad row, record each new document."""
    if not scope.can(Perm.ORDERS_IMPORT):
        raise PermissionDenied(_("You may not import POS orders."))
    report, docs = check(scope, path, file_name)
    report.dry_run = dry_run
    if dry_run:
        return report
    if report.errors:
        report.refused = True
        return report
    for number, doc in docs.items():
        try:
            _info, new = record(
                scope, PosDoc(doc.store_code, number, doc.at, doc.lines, phone=doc.phone, pos_card=doc.card)
            )
        except ValidationError as exc:
            reason = (
                " ".join(m for msgs in exc.message_dict.values() for m in msgs)
                if hasattr(exc, "message_dict")
                else str(exc)
            )
            report.errors.append(BadRow(doc.line, "", reason))
            continue
        if new:
            report.created += 1
    report.existing = report.documents - report.created - len(report.errors)
    return report
