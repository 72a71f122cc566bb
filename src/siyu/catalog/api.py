"""REST endpoints of the catalog (read-only): products with their SKUs. Prices are integer fen."""

import datetime as dt
from typing import Any

from django.db.models import Q
from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from siyu.catalog.models import Product, ProductRole
from siyu.org.services import Perm  # permissions are org knowledge, reached through its services
from siyu.platform.api import PageQuery, answers, current_scope, page_of, paginate, requires
from siyu.platform.tenancy import get_scoped, restrict

router = Router()


class ProductOut(Schema):
    id: int
    code: str = Field(description="The style code.")
    name: str
    category_id: int
    category_code: str = Field(alias="category.code")
    category_name: str = Field(alias="category.name")
    role: ProductRole
    price_fen: int = Field(description="Tag price in fen (1 CNY = 100 fen).")
    launched_on: dt.date | None
    active: bool = Field(description="On sale.")


class SkuOut(Schema):
    id: int
    code: str
    color: str
    size: str
    barcode: str


class ProductDetailOut(ProductOut):
    skus: list[SkuOut]


class ProductFilter(Schema):
    q: str | None = Field(None, description="Part of the style code or name.")
    category: str | None = Field(None, description="A category code.")
    role: ProductRole | None = None
    active: bool | None = Field(None, description="Only products on sale (true) or off sale (false).")


@router.get(
    "/products",
    response=answers(page_of(ProductOut)),
    summary="List products",
    tags=["products"],
)
@requires(Perm.CATALOG_VIEW)
def product_list(request: HttpRequest, filters: Query[ProductFilter], page: Query[PageQuery]) -> dict[str, Any]:
    qs = restrict(Product, current_scope(request)).select_related("category")
    if filters.q:
        qs = qs.filter(Q(code__icontains=filters.q) | Q(name__icontains=filters.q))
    if filters.category:
        qs = qs.filter(category__code=filters.category)
    if filters.role:
        qs = qs.filter(role=filters.role)
    if filters.active is not None:
        qs = qs.filter(active=filters.active)
    return paginate(qs, page)


@router.get(
    "/products/{product_id}",
    response=answers(ProductDetailOut),
    summary="Get a product with its SKUs",
    tags=["products"],
)
@requires(Perm.CATALOG_VIEW)
def product_detail(request: HttpRequest, product_id: int) -> Product:
    qs = Product.objects.select_related("category").prefetch_related("skus")
    return get_scoped(qs, current_scope(request), pk=product_id)
