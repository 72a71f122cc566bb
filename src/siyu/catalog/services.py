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

from siyu.catalog.models import Category, Product, ProductRole, Sku
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
