"""Use-cases of the catalog. Writes (creating categories and products with their SKUs) belong to
HQ: they need a brand-level scope that may open the HQ console. Each write validates, runs in one
transaction and leaves an audit entry. Prices are integer fen (ADR 0002)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from siyu.catalog.models import Category, Product, ProductRole, Sku, StorePrice
from siyu.org.services import Perm  # permissions are org knowledge, reached through its services
from siyu.platform import audit, validation
from siyu.platform.tenancy import Level, Scope

CATEGORY_FIELDS = ("code", "name")
PRODUCT_FIELDS = ("category", "code", "name", "role", "price_fen", "launched_on", "active")


@dataclass(frozen=True)
class NewSku:
    code: str
    color: str
    size: str
    barcode: str = ""


def _require_hq(scope: Scope) -> None:
    if scope.level is not Level.BRAND or not scope.can(Perm.HQ_CONSOLE):
        raise PermissionDenied(_("Only HQ may change the catalog."))


def _record(scope: Scope, action: str, obj: Any, after: dict[str, Any]) -> None:
    audit.record_by(scope, action, obj, after=after)


@transaction.atomic
def create_category(scope: Scope, *, code: str, name: str) -> Category:
    _require_hq(scope)
    category = Category(brand_id=scope.brand_id, code=(code or "").strip(), name=(name or "").strip())
    validation.full_clean(category)
    category.save()
    _record(scope, "category.create", category, audit.snapshot(category, CATEGORY_FIELDS))
    return category


@transaction.atomic
def create_product(
    scope: Scope,
    *,
    category_id: int,
    code: str,
    name: str,
    price_fen: int,
    role: str = ProductRole.REGULAR,
    launched_on: dt.date | None = None,
    active: bool = True,
    skus: Iterable[NewSku] = (),
) -> Product:
    """A product (style) and its SKUs (colour × size), all or nothing."""
    _require_hq(scope)
    if not isinstance(price_fen, int) or isinstance(price_fen, bool):
        raise ValidationError({"price_fen": _("A price is a whole number of fen, e.g. 69900 for ¥699.00.")})
    category = Category.objects.filter(brand_id=scope.brand_id, pk=category_id).first()
    if category is None:
        raise ValidationError({"category": _("Choose a category of this brand.")})
    product = Product(
        brand_id=scope.brand_id,
        category=category,
        code=(code or "").strip(),
        name=(name or "").strip(),
        role=role,
        price_fen=price_fen,
        launched_on=launched_on,
        active=active,
    )
    validation.full_clean(product)
    product.save()
    rows = [
        Sku(brand_id=scope.brand_id, product=product, code=s.code, color=s.color, size=s.size, barcode=s.barcode)
        for s in skus
    ]
    seen: set[str] = set()
    for sku in rows:
        if sku.code in seen:
            raise ValidationError({"skus": _("SKU code %(code)s appears twice.") % {"code": sku.code}})
        seen.add(sku.code)
        validation.full_clean(sku, exclude=["product"])
    Sku.objects.bulk_create(rows)
    _record(
        scope,
        "product.create",
        product,
        {**audit.snapshot(product, PRODUCT_FIELDS), "skus": [s.code for s in rows]},
    )
    return product


def count_products(brand_id: int) -> int:
    return Product.objects.filter(brand_id=brand_id).count()


def count_skus(brand_id: int) -> int:
    return Sku.objects.filter(brand_id=brand_id).count()


@dataclass(frozen=True)
class PriceInfo:
    product_id: int
    code: str
    role: str
    price_fen: int


def price_list(brand_id: int, *, active_only: bool = True) -> list[PriceInfo]:
    """Every product's tag price, for other domains (orders, loyalty, the demo generator)."""
    qs = Product.objects.filter(brand_id=brand_id)
    if active_only:
        qs = qs.filter(active=True)
    return [
        PriceInfo(product_id=p.pk, code=p.code, role=p.role, price_fen=p.price_fen)
        for p in qs.order_by("code").only("pk", "code", "role", "price_fen")
    ]


@dataclass(frozen=True)
class SkuInfo:
    """One SKU as orders and the mall see it: what it is and what it costs at a store."""

    sku_id: int
    sku_code: str
    product_id: int
    product_code: str
    product_name: str
    color: str
    size: str
    price_fen: int  # the store's own price where HQ set one, else the brand price
    on_sale: bool


def sku_prices(brand_id: int, sku_ids: Iterable[int], *, store_id: int | None = None) -> dict[int, SkuInfo]:
    """The SKUs of ``sku_ids`` that belong to the brand, priced at ``store_id`` (a store price set
    by HQ wins over the brand price). Unknown ids are left out."""
    ids = {int(i) for i in sku_ids}
    if not ids:
        return {}
    overrides: dict[int, int] = {}
    if store_id is not None:
        overrides = dict(
            StorePrice.objects.filter(brand_id=brand_id, store_id=store_id, sku_id__in=ids).values_list(
                "sku_id", "price_fen"
            )
        )
    rows = Sku.objects.filter(brand_id=brand_id, pk__in=ids).values_list(
        "pk",
        "code",
        "color",
        "size",
        "product_id",
        "product__code",
        "product__name",
        "product__price_fen",
        "product__active",
    )
    return {
        pk: SkuInfo(
            sku_id=pk,
            sku_code=code,
            product_id=product_id,
            product_code=product_code,
            product_name=product_name,
            color=color,
            size=size,
            price_fen=overrides.get(pk, price_fen),
            on_sale=active,
        )
        for pk, code, color, size, product_id, product_code, product_name, price_fen, active in rows
    }
