"""Import the catalog from CSV or Excel: products and SKUs (one row per SKU), or store prices
(store code, SKU code, price). ADR 0010.

Every import is checked first, whole: each row is parsed and validated and looked up against the
brand's catalog, and each bad row is reported as ``(line, column, reason)`` with the line a person
sees (the header is line 1). A **dry run** stops there and changes nothing. A **real run** applies
the file only when no row is bad (else it is refused and nothing changes), in **one transaction**: a
catalog file is thousands of rows, not millions, so it is applied whole or not at all. Rows are
keyed by their codes (style code, SKU code; store code + SKU code), so running a file again changes
nothing: rows equal to the catalog are counted ``unchanged``. An import never deletes.

Reading files, mapping columns and keeping uploads are :mod:`siyu.platform.sheets`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import DatabaseError, transaction
from django.db.models import QuerySet
from django.utils import translation
from django.utils.translation import gettext as _

from siyu.catalog.models import CatalogImport, Category, Product, ProductRole, Sku, StorePrice, upsert_store_prices
from siyu.org import services as org
from siyu.org.services import Perm
from siyu.platform import audit, clock, money, sheets
from siyu.platform.sheets import BadRow, SheetError
from siyu.platform.tenancy import Level, Scope, get_scoped, restrict

MAX_BYTES = 20 * 1024 * 1024
MAX_ROWS = 100_000
MAX_STORED_ERRORS = 1000
MAX_PRICE_FEN = 100_000_000

# Column -> the other names it may have (compared as platform.sheets.header_key gives them).
PRODUCT_COLUMNS: dict[str, tuple[str, ...]] = {
    "style_code": ("style", "product_code", "款号", "商品款号", "款式编码"),
    "name": ("product_name", "品名", "商品名称", "名称"),
    "category": ("category_code", "品类", "品类编码", "类目"),
    "role": ("product_role", "角色", "商品角色"),
    "price": ("price_yuan", "brand_price", "吊牌价", "价格", "品牌价"),
    "sku_code": ("sku", "sku编码", "sku码", "sku_编码"),
    "color": ("colour", "颜色"),
    "size": ("尺码",),
    "barcode": ("ean", "条码", "条形码"),
    "on_sale": ("active", "在售", "上架"),
}
PRODUCT_REQUIRED = ("style_code", "name", "category", "price", "sku_code", "color", "size")
PRICE_COLUMNS: dict[str, tuple[str, ...]] = {
    "store_code": ("store", "门店编码", "门店"),
    "sku_code": ("sku", "sku编码", "sku码"),
    "price": ("price_yuan", "store_price", "门店价", "价格"),
}
PRICE_REQUIRED = ("store_code", "sku_code", "price")

_YES = frozenset({"yes", "y", "true", "1", "是", "在售", "上架"})
_NO = frozenset({"no", "n", "false", "0", "否", "停售", "下架"})


def header(kind: str) -> list[str]:
    """The columns of an import file (and of the export, which is such a file)."""
    return list(PRODUCT_COLUMNS if kind == CatalogImport.Kind.PRODUCTS else PRICE_COLUMNS)


@dataclass
class Report:
    run_id: int
    kind: str
    dry_run: bool
    status: str
    file_name: str
    rows_total: int = 0
    rows_bad: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    errors: list[BadRow] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    message: str = ""


# --- Rows ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class StyleRow:
    line: int
    code: str
    name: str
    category_id: int
    role: str
    price_fen: int
    active: bool


@dataclass(frozen=True)
class SkuRow:
    line: int
    style: str
    code: str
    color: str
    size: str
    barcode: str


def _roles() -> dict[str, str]:
    """A role by its code or its label in either language (lower case) -> its code."""
    found = {r.value: r.value for r in ProductRole}
    for language in ("en", "zh-hans"):
        with translation.override(language):
            found.update({str(r.label).lower(): r.value for r in ProductRole})
    return found


def _price(raw: Any) -> int:
    fen = money.yuan_to_fen(str(raw).replace("¥", "").replace("￥", "").strip())
    if fen < 1 or fen > MAX_PRICE_FEN:
        raise ValueError(raw)
    return fen


class ProductChecker:
    """Checks product rows one at a time against the catalog read once per run, remembering what
    the file said of each style and SKU so a contradiction or a repeat is a bad row."""

    def __init__(self, brand_id: int, columns: dict[str, int], headers: Sequence[str]) -> None:
        self.columns, self.headers = columns, headers
        self.categories = {c.code.upper(): c.pk for c in Category.objects.filter(brand_id=brand_id)}
        self.sku_owner = dict(Sku.objects.filter(brand_id=brand_id).values_list("code", "product__code"))
        self.roles = _roles()
        self.styles: dict[str, StyleRow] = {}
        self.skus: dict[str, SkuRow] = {}
        self.seen_skus: dict[str, int] = {}

    def check(self, line: int, cells: Sequence[Any]) -> list[BadRow] | None:
        """The row's problems (empty: a good row, kept in ``styles``/``skus``), ``None`` for a
        blank row."""
        if sheets.blank(cells):
            return None
        cell = sheets.cell_reader(self.columns, cells)
        bad: list[BadRow] = []

        def problem(column: str, reason: str) -> None:
            where = str(self.headers[self.columns[column]]).strip() if column in self.columns else column
            bad.append(BadRow(line, where, reason))

        def text(column: str, max_length: int, label: str) -> str:
            value = str(cell(column))
            if column in PRODUCT_REQUIRED and not value:
                problem(column, _("The %(what)s is missing.") % {"what": label})
            elif len(value) > max_length:
                problem(
                    column, _("The %(what)s is longer than %(max)s characters.") % {"what": label, "max": max_length}
                )
            return value

        style = text("style_code", 32, _("style code"))
        name = text("name", 120, _("name"))
        sku_code = text("sku_code", 40, _("SKU code"))
        color = text("color", 30, _("colour"))
        size = text("size", 10, _("size"))
        barcode = text("barcode", 20, _("barcode"))
        if barcode and not barcode.isdigit():
            problem("barcode", _("A barcode is digits only (EAN-13, UPC), not “%(value)s”.") % {"value": barcode})

        category_id = 0
        raw_category = str(cell("category"))
        if not raw_category:
            problem("category", _("The category code is missing."))
        elif raw_category.upper() not in self.categories:
            problem(
                "category",
                _("There is no category with the code %(value)s; create it first.") % {"value": raw_category},
            )
        else:
            category_id = self.categories[raw_category.upper()]

        role = ProductRole.REGULAR.value
        raw_role = str(cell("role"))
        if raw_role:
            found = self.roles.get(raw_role.lower())
            if found is None:
                problem(
                    "role",
                    _("“%(value)s” is not a product role (%(roles)s).")
                    % {"value": raw_role, "roles": ", ".join(r.value for r in ProductRole)},
                )
            else:
                role = found

        price_fen = 0
        raw_price = cell("price")
        if raw_price in ("", None):
            problem("price", _("The price is missing."))
        else:
            try:
                price_fen = _price(raw_price)
            except ValueError:
                problem(
                    "price",
                    _("“%(value)s” is not a price in yuan (e.g. 599 or 599.00, at most 1,000,000).")
                    % {"value": raw_price},
                )

        active = True
        raw_active = str(cell("on_sale")).lower()
        if raw_active in _NO:
            active = False
        elif raw_active and raw_active not in _YES:
            problem("on_sale", _("“%(value)s” is neither yes nor no (是/否).") % {"value": raw_active})

        if sku_code:
            if sku_code in self.seen_skus:
                problem(
                    "sku_code",
                    _("The SKU code %(value)s appears on line %(line)s already.")
                    % {"value": sku_code, "line": self.seen_skus[sku_code]},
                )
            elif style and self.sku_owner.get(sku_code, style) != style:
                problem(
                    "sku_code",
                    _("The SKU code %(value)s belongs to the style %(style)s.")
                    % {"value": sku_code, "style": self.sku_owner[sku_code]},
                )
            self.seen_skus.setdefault(sku_code, line)
        if bad:
            return bad

        row = StyleRow(line, style, name, category_id, role, price_fen, active)
        first = self.styles.setdefault(style, row)
        for column, mine, theirs in (
            ("name", row.name, first.name),
            ("category", row.category_id, first.category_id),
            ("role", row.role, first.role),
            ("price", row.price_fen, first.price_fen),
            ("on_sale", row.active, first.active),
        ):
            if mine != theirs:
                problem(
                    column,
                    _("The style %(style)s has another value here than on line %(line)s.")
                    % {"style": style, "line": first.line},
                )
        if bad:
            return bad
        self.skus[sku_code] = SkuRow(line, style, sku_code, color, size, barcode)
        return []


@dataclass(frozen=True)
class PriceRow:
    line: int
    store_id: int
    sku_id: int
    price_fen: int


class PriceChecker:
    def __init__(self, brand_id: int, columns: dict[str, int], headers: Sequence[str]) -> None:
        self.columns, self.headers = columns, headers
        self.stores = {s.code.upper(): s for s in org.stores(brand_id)}
        self.skus = dict(Sku.objects.filter(brand_id=brand_id).values_list("code", "pk"))
        self.rows: dict[tuple[int, int], PriceRow] = {}

    def check(self, line: int, cells: Sequence[Any]) -> list[BadRow] | None:
        if sheets.blank(cells):
            return None
        cell = sheets.cell_reader(self.columns, cells)
        bad: list[BadRow] = []

        def problem(column: str, reason: str) -> None:
            bad.append(BadRow(line, str(self.headers[self.columns[column]]).strip(), reason))

        store_code, sku_code, raw_price = str(cell("store_code")), str(cell("sku_code")), cell("price")
        store = self.stores.get(store_code.upper())
        if not store_code:
            problem("store_code", _("The store code is missing."))
        elif store is None:
            problem("store_code", _("There is no store with the code %(value)s.") % {"value": store_code})
        elif store.status == "closed":
            problem("store_code", _("The store %(value)s is closed.") % {"value": store_code})
        sku_id = self.skus.get(sku_code)
        if not sku_code:
            problem("sku_code", _("The SKU code is missing."))
        elif sku_id is None:
            problem("sku_code", _("There is no SKU with the code %(value)s.") % {"value": sku_code})
        price_fen = 0
        try:
            price_fen = _price(raw_price)
        except ValueError:
            problem(
                "price",
                _("“%(value)s” is not a price in yuan (e.g. 599 or 599.00, at most 1,000,000).") % {"value": raw_price},
            )
        if bad or store is None or sku_id is None:
            return bad
        key = (store.id, sku_id)
        if key in self.rows:
            problem(
                "sku_code",
                _("The store %(store)s and the SKU %(sku)s appear on line %(line)s already.")
                % {"store": store_code, "sku": sku_code, "line": self.rows[key].line},
            )
            return bad
        self.rows[key] = PriceRow(line, store.id, sku_id, price_fen)
        return []


# --- Applying --------------------------------------------------------------------------------
def _apply_products(brand_id: int, checker: ProductChecker, *, write: bool) -> dict[str, int]:
    """Create or update the file's styles and SKUs; returns the counts. With ``write`` False it only
    counts (the dry run)."""
    counts = dict.fromkeys(
        ("products_created", "products_updated", "skus_created", "skus_updated", "rows_unchanged"), 0
    )
    existing = {p.code: p for p in Product.objects.filter(brand_id=brand_id, code__in=list(checker.styles))}
    new_products, changed_products = [], []
    for code, row in checker.styles.items():
        p = existing.get(code)
        values = {
            "name": row.name,
            "category_id": row.category_id,
            "role": row.role,
            "price_fen": row.price_fen,
            "active": row.active,
        }
        if p is None:
            new_products.append(Product(brand_id=brand_id, code=code, **values))
        elif any(getattr(p, k) != v for k, v in values.items()):
            for k, v in values.items():
                setattr(p, k, v)
            changed_products.append(p)
    counts["products_created"], counts["products_updated"] = len(new_products), len(changed_products)

    skus = {s.code: s for s in Sku.objects.filter(brand_id=brand_id, code__in=list(checker.skus))}
    new_skus: list[SkuRow] = []
    changed_skus: list[Sku] = []
    changed_styles = {p.code for p in new_products} | {p.code for p in changed_products}
    for code, srow in checker.skus.items():
        s = skus.get(code)
        if s is None:
            new_skus.append(srow)
            continue
        values = {"color": srow.color, "size": srow.size, "barcode": srow.barcode}
        if any(getattr(s, k) != v for k, v in values.items()):
            for k, v in values.items():
                setattr(s, k, v)
            changed_skus.append(s)
        elif srow.style not in changed_styles:
            counts["rows_unchanged"] += 1
    counts["skus_created"], counts["skus_updated"] = len(new_skus), len(changed_skus)
    if not write:
        return counts
    Product.objects.bulk_create(new_products, batch_size=500)
    Product.objects.bulk_update(
        changed_products, ["name", "category_id", "role", "price_fen", "active"], batch_size=500
    )
    ids = dict(Product.objects.filter(brand_id=brand_id, code__in=list(checker.styles)).values_list("code", "pk"))
    Sku.objects.bulk_create(
        [
            Sku(brand_id=brand_id, product_id=ids[r.style], code=r.code, color=r.color, size=r.size, barcode=r.barcode)
            for r in new_skus
        ],
        batch_size=500,
    )
    Sku.objects.bulk_update(changed_skus, ["color", "size", "barcode"], batch_size=500)
    return counts


def _apply_prices(brand_id: int, checker: PriceChecker, *, write: bool) -> dict[str, int]:
    rows = checker.rows
    current = {
        (store_id, sku_id): price
        for store_id, sku_id, price in StorePrice.objects.filter(
            brand_id=brand_id, sku_id__in={k[1] for k in rows}
        ).values_list("store_id", "sku_id", "price_fen")
    }
    created = [r for k, r in rows.items() if k not in current]
    updated = [r for k, r in rows.items() if k in current and current[k] != r.price_fen]
    counts = {
        "prices_created": len(created),
        "prices_updated": len(updated),
        "rows_unchanged": len(rows) - len(created) - len(updated),
    }
    if write and (created or updated):
        now = clock.now()
        upsert_store_prices(
            [
                StorePrice(
                    brand_id=brand_id, store_id=r.store_id, sku_id=r.sku_id, price_fen=r.price_fen, updated_at=now
                )
                for r in created + updated
            ]
        )
    return counts


# --- Running ---------------------------------------------------------------------------------
def _require(scope: Scope) -> None:
    if scope.level is not Level.BRAND or not scope.can(Perm.CATALOG_MANAGE):
        raise PermissionDenied(_("Only HQ may change the catalog."))


def uploads_dir(brand_id: int) -> Path:
    """Where a brand's catalog files are kept: ``SIYU_HOME/imports/catalog/<brand id>/``."""
    return Path(settings.SIYU_HOME) / "imports" / "catalog" / str(int(brand_id))


def store_upload(scope: Scope, chunks: Any, file_name: str) -> tuple[Path, str]:
    _require(scope)
    return sheets.store_upload(chunks, file_name, uploads_dir(scope.brand_id), max_bytes=MAX_BYTES)


def kept_file(run: CatalogImport) -> Path:
    return sheets.stored_path(uploads_dir(run.brand_id), run.file_sha256, run.file_name)


def run_import(
    scope: Scope,
    path: Path,
    *,
    kind: str,
    file_name: str | None = None,
    dry_run: bool = True,
    on_bad: Callable[[BadRow], None] | None = None,
) -> Report:
    """Check (``dry_run``) or import a catalog file for the scope's brand and record the run.

    A file that cannot be read is recorded as failed (its ``message`` says why); a real run with bad
    rows is refused and changes nothing; otherwise the whole file is applied in one transaction."""
    _require(scope)
    if kind not in CatalogImport.Kind.values:
        raise ValueError(f"kind is one of {CatalogImport.Kind.values}")
    path = Path(path)
    file_name = file_name or path.name
    run = CatalogImport(
        brand_id=scope.brand_id,
        kind=kind,
        file_name=file_name[:200],
        file_sha256=sheets.file_sha256(path),
        dry_run=dry_run,
        status=CatalogImport.Status.FAILED,
        actor_label=(scope.label or "system")[:120],
        started_at=clock.now(),
    )
    report = Report(run_id=0, kind=kind, dry_run=dry_run, status=run.status, file_name=file_name)
    try:
        checker = _check(scope.brand_id, path, file_name, kind, report, on_bad)
        if dry_run:
            report.counts = _apply(scope.brand_id, kind, checker, write=False)
            report.status = CatalogImport.Status.CHECKED
        elif report.rows_bad:
            report.status = CatalogImport.Status.REFUSED
            report.message = _("%(bad)s bad rows: nothing was imported. Correct them and import the file again.") % {
                "bad": report.rows_bad
            }
        else:
            with transaction.atomic():
                report.counts = _apply(scope.brand_id, kind, checker, write=True)
                report.status = CatalogImport.Status.DONE
                _save(scope, run, report)
            return report
    except SheetError as exc:
        report.status, report.message = CatalogImport.Status.FAILED, str(exc)
    except DatabaseError as exc:
        report.status = CatalogImport.Status.FAILED
        report.message = _("The file could not be written (%(why)s); nothing was imported.") % {
            "why": str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        }
    _save(scope, run, report)
    return report


def _apply(brand_id: int, kind: str, checker: Any, *, write: bool) -> dict[str, int]:
    if kind == CatalogImport.Kind.PRODUCTS:
        return _apply_products(brand_id, checker, write=write)
    return _apply_prices(brand_id, checker, write=write)


def _check(
    brand_id: int, path: Path, file_name: str, kind: str, report: Report, on_bad: Callable[[BadRow], None] | None
) -> ProductChecker | PriceChecker:
    sheet = sheets.open_sheet(path, file_name)
    products = kind == CatalogImport.Kind.PRODUCTS
    columns, ignored = sheets.map_columns(
        sheet.headers,
        PRODUCT_COLUMNS if products else PRICE_COLUMNS,
        PRODUCT_REQUIRED if products else PRICE_REQUIRED,
    )
    report.notices = list(sheet.notices)
    if ignored:
        report.notices.append(_("These columns were ignored: %(columns)s.") % {"columns": ", ".join(ignored)})
    checker: ProductChecker | PriceChecker = (
        ProductChecker(brand_id, columns, sheet.headers) if products else PriceChecker(brand_id, columns, sheet.headers)
    )
    for line, cells in _rows(sheet):
        result = checker.check(line, cells)
        if result is None:
            continue
        report.rows_total += 1
        if not result:
            continue
        report.rows_bad += 1
        for bad in result:
            if len(report.errors) < MAX_STORED_ERRORS:
                report.errors.append(bad)
            if on_bad is not None:
                on_bad(bad)
    return checker


def _rows(sheet: sheets.Sheet) -> Iterator[tuple[int, Sequence[Any]]]:
    for n, row in enumerate(sheet.rows, start=1):
        if n > MAX_ROWS:
            raise SheetError(_("The file has more than %(max)s rows; split it.") % {"max": f"{MAX_ROWS:,}"})
        yield row


def _save(scope: Scope, run: CatalogImport, report: Report) -> None:
    with transaction.atomic():
        run.status = report.status
        run.rows_total, run.rows_bad, run.counts = report.rows_total, report.rows_bad, report.counts
        run.errors = [{"line": e.line, "column": e.column, "reason": e.reason} for e in report.errors]
        run.notices, run.message = report.notices, report.message
        run.finished_at = clock.now()
        run.save()
        report.run_id = run.pk
        if not run.dry_run:
            audit.record_by(
                scope,
                f"catalog.import_{run.kind}",
                run,
                after={"file": run.file_name, "sha256": run.file_sha256, "status": run.status, **run.counts},
            )


# --- Reading runs ----------------------------------------------------------------------------
def visible_runs(scope: Scope) -> QuerySet[CatalogImport]:
    _require(scope)
    return restrict(CatalogImport, scope)


def get_run(scope: Scope, run_id: int) -> CatalogImport:
    return get_scoped(visible_runs(scope), scope, pk=run_id)


def count_labels(run: CatalogImport) -> list[tuple[str, int]]:
    """A run's counts with their labels, in a fixed order (a dry run: what would happen)."""
    labels = {
        "products_created": _("Products created"),
        "products_updated": _("Products updated"),
        "skus_created": _("SKUs created"),
        "skus_updated": _("SKUs updated"),
        "prices_created": _("Store prices created"),
        "prices_updated": _("Store prices updated"),
        "rows_unchanged": _("Rows unchanged"),
    }
    return [(label, int(run.counts[key])) for key, label in labels.items() if key in run.counts]


def bad_rows(run: CatalogImport) -> list[BadRow]:
    return [BadRow(int(e["line"]), str(e["column"]), str(e["reason"])) for e in run.errors]


def export_rows(products: QuerySet[Product]) -> Iterator[list[Any]]:
    """One row per SKU of ``products`` in the import's columns (a product without SKUs: one row with
    the SKU cells empty), so an export imports back unchanged."""
    for p in products.select_related("category").prefetch_related("skus").order_by("code").iterator(chunk_size=500):
        base = [p.code, p.name, p.category.code, p.role, money.fen_to_yuan(p.price_fen)]
        skus: list[Sku | None] = [*p.skus.all()] or [None]
        for s in skus:
            yield [
                *base,
                s.code if s else "",
                s.color if s else "",
                s.size if s else "",
                s.barcode if s else "",
                "yes" if p.active else "no",
            ]


def export_name(stem: str, suffix: str) -> str:
    """``products-20261123.csv``: the file name of an export made today."""
    return f"{stem}-{clock.today():%Y%m%d}.{suffix}"
