"""REST endpoints of the catalog (``/api/v1/catalog/...``): products with their SKUs and pictures,
search with prices at a store, categories; HQ and brand-wide systems (ERP) with ``catalog.manage``
create and change products and SKUs, set store prices and upload pictures. Prices are integer fen.
Every write is a verb of :mod:`siyu.catalog.services` (validated, one transaction, audited)."""

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, File, Form, Query, Router, Schema
from ninja.files import UploadedFile

from siyu.catalog import pictures, services
from siyu.catalog.models import Category, Product, ProductImage, ProductRole
from siyu.org import services as org
from siyu.org.services import Perm  # permissions are org knowledge, reached through its services
from siyu.platform.api import (
    Created,
    Input,
    PageQuery,
    answers,
    created,
    current_scope,
    fields_named,
    page_of,
    paginate,
    requires,
)
from siyu.platform.tenancy import get_scoped, restrict

router = Router()
FEN = "in fen (1 CNY = 100 fen)"


# --- Schemas -----------------------------------------------------------------------------------
class ProductOut(Schema):
    id: int
    code: str = Field(description="The style code.")
    name: str
    category_id: int
    category_code: str = Field(alias="category.code")
    category_name: str = Field(alias="category.name")
    role: ProductRole
    price_fen: int = Field(description=f"The brand (tag) price {FEN}.")
    launched_on: dt.date | None
    active: bool = Field(description="On sale.")


class SkuOut(Schema):
    id: int
    code: str
    color: str
    size: str
    barcode: str


class ImageOut(Schema):
    id: int
    url: str = Field(description="Where the picture is served (MEDIA_URL + its name).")
    alt: str
    position: int = Field(description="0 is the main picture.")

    @staticmethod
    def resolve_url(obj: ProductImage) -> str:
        return services.media_url(obj.image.name or "")


class ProductDetailOut(ProductOut):
    description: str
    skus: list[SkuOut]
    images: list[ImageOut]


class ProductFilter(Schema):
    q: str | None = Field(None, description="Words that must all be in the name, style code, a SKU code or a barcode.")
    category: str | None = Field(None, description="A category code.")
    role: ProductRole | None = None
    active: bool | None = Field(None, description="Only products on sale (true) or off sale (false).")


class CardOut(Schema):
    id: int
    code: str
    name: str
    role: str
    category_code: str
    price_fen: int = Field(description=f"The brand price {FEN}.")
    min_price_fen: int = Field(description=f"The lowest price of its SKUs at the store {FEN}.")
    max_price_fen: int = Field(description=f"The highest price of its SKUs at the store {FEN}.")
    image_url: str = Field(description="The main picture ('' when none).")
    on_sale: bool


class SearchOut(Schema):
    count: int = Field(description="Every match, not only this page.")
    limit: int
    offset: int
    items: list[CardOut]


class SearchQuery(Schema):
    q: str | None = Field(None, description="Words that must all be in the name, style code, a SKU code or a barcode.")
    category: str | None = Field(None, description="A category code.")
    role: ProductRole | None = None
    store: int | None = Field(None, description="Price the cards at this store (its own prices win).")


class SkuIn(Input):
    code: str
    color: str
    size: str
    barcode: str = ""


class ProductIn(Input):
    category: str = Field(description="A category code of the brand.")
    code: str = Field(description="The style code, unique in the brand.")
    name: str
    role: ProductRole = ProductRole.REGULAR
    price_fen: int = Field(description=f"The brand price {FEN}.")
    launched_on: dt.date | None = None
    active: bool = True
    description: str = ""
    skus: list[SkuIn] = Field(default_factory=list)


class ProductPatch(Input):
    category: str | None = Field(None, description="A category code of the brand.")
    code: str | None = None
    name: str | None = None
    role: ProductRole | None = None
    price_fen: int | None = Field(None, description=FEN)
    launched_on: dt.date | None = None
    active: bool | None = None
    description: str | None = None
    skus: list[SkuIn] | None = Field(
        None, description="SKUs to add or change, by code; SKUs not named are left as they are."
    )


class StorePriceIn(Input):
    price_fen: int | None = Field(None, description=f"The store price {FEN}; leave out to clear the stores' prices.")
    sku_id: int | None = Field(None, description="One SKU…")
    product_id: int | None = Field(None, description="…or every SKU of one product.")
    store_id: int | None = Field(None, description="At one store…")
    region_id: int | None = Field(None, description="…or at every store of a region…")
    city: str | None = Field(None, description="…or at every store of a city.")


class StorePriceResult(Schema):
    changed: int = Field(description="How many store prices were set (or cleared).")


class CategoryOut(Schema):
    id: int
    code: str
    name: str


class CategoryIn(Input):
    code: str
    name: str


def _detail(scope: Any, product_id: int) -> Product:
    qs = Product.objects.select_related("category").prefetch_related("skus", "images")
    return get_scoped(qs, scope, pk=product_id)


def _category_id(scope: Any, code: str) -> int:
    found = restrict(Category, scope).filter(code=code).values_list("pk", flat=True).first()
    if found is None:
        raise ValidationError({"category": _("There is no category with the code %(value)s.") % {"value": code}})
    return found


def _skus(rows: list[SkuIn]) -> list[services.NewSku]:
    return [services.NewSku(code=s.code, color=s.color, size=s.size, barcode=s.barcode) for s in rows]


# --- Products ----------------------------------------------------------------------------------
@router.get(
    "/catalog/products",
    response=answers(page_of(ProductOut)),
    summary="List products",
    tags=["catalog"],
)
@requires(Perm.CATALOG_VIEW)
def product_list(request: HttpRequest, filters: Query[ProductFilter], page: Query[PageQuery]) -> dict[str, Any]:
    qs = services.find_products(
        current_scope(request), q=filters.q, category=filters.category, role=filters.role, on_sale=filters.active
    )
    return paginate(qs.select_related("category").order_by("code"), page)


@router.get(
    "/catalog/products/{product_id}",
    response=answers(ProductDetailOut),
    summary="Get a product with its SKUs and pictures",
    tags=["catalog"],
)
@requires(Perm.CATALOG_VIEW)
def product_detail(request: HttpRequest, product_id: int) -> Product:
    return _detail(current_scope(request), product_id)


@router.get(
    "/catalog/search",
    response=answers(SearchOut),
    summary="Search the products on sale, priced at a store",
    description="What the mall shows: products on sale matching every word, newest first, each with its "
    "price range at `store` (a store price set by HQ wins over the brand price).",
    tags=["catalog"],
)
@requires(Perm.CATALOG_VIEW)
def product_search(request: HttpRequest, filters: Query[SearchQuery], page: Query[PageQuery]) -> dict[str, Any]:
    scope = current_scope(request)
    store_id = filters.store
    if store_id is not None and org.store_info(scope.brand_id, store_id) is None:
        raise ValidationError({"store": _("Choose a store of this brand.")})
    found = services.search_products(
        scope.brand_id,
        filters.q,
        category=filters.category,
        role=filters.role,
        limit=page.limit,
        offset=page.offset,
        store_id=store_id,
    )
    return {"count": found.total, "limit": page.limit, "offset": page.offset, "items": found.cards}


@router.post(
    "/catalog/products",
    response=answers(ProductDetailOut, 201),
    summary="Create a product with its SKUs",
    tags=["catalog"],
)
@requires(Perm.CATALOG_MANAGE)
def product_create(request: HttpRequest, payload: ProductIn) -> Created[Product]:
    scope = current_scope(request)
    data = payload.dict(exclude={"skus", "category"})
    product = services.create_product(
        scope, category_id=_category_id(scope, payload.category), skus=_skus(payload.skus), **data
    )
    return created(_detail(scope, product.pk))


@router.patch(
    "/catalog/products/{product_id}",
    response=answers(ProductDetailOut),
    summary="Change a product and add or change its SKUs",
    tags=["catalog"],
)
@requires(Perm.CATALOG_MANAGE)
def product_update(request: HttpRequest, product_id: int, payload: ProductPatch) -> Product:
    scope = current_scope(request)
    data = payload.dict(exclude_unset=True, exclude={"skus"})
    if data.get("category") is not None:
        data["category"] = _category_id(scope, data["category"])
    for name in [k for k, v in data.items() if v is None and k != "launched_on"]:
        raise ValidationError({name: _("This field cannot be empty.")})
    skus = _skus(payload.skus) if payload.skus is not None else None
    services.update_product(scope, _detail(scope, product_id).pk, skus=skus, **data)
    return _detail(scope, product_id)


@router.post(
    "/catalog/products/{product_id}/images",
    response=answers(ImageOut, 201),
    summary="Upload a picture of a product",
    description="Multipart field `file`: PNG, JPEG or WebP (read from its bytes), at most 5 MB, each side "
    "64–8000 px; it goes after the product's other pictures (the first is the main one).",
    tags=["catalog"],
)
@requires(Perm.CATALOG_MANAGE)
def image_upload(
    request: HttpRequest,
    product_id: int,
    file: UploadedFile | None = File(None),  # noqa: B008  (django-ninja's way to declare a parameter)
    alt: Form[str] = "",
) -> Created[ProductImage]:
    scope = current_scope(request)
    product = _detail(scope, product_id)
    if file is None:
        raise ValidationError({"file": _("Send the picture as the multipart field 'file'.")})
    if (file.size or 0) > pictures.MAX_BYTES:
        raise ValidationError({"file": _("A picture is at most 5 MB; this one is larger.")})
    with fields_named({"image": "file"}):
        return created(services.add_image(scope, product.pk, data=file.read(), alt=alt))


# --- Store prices ------------------------------------------------------------------------------
@router.post(
    "/catalog/store-prices",
    response=answers(StorePriceResult),
    summary="Set or clear store prices",
    description="Give one SKU (`sku_id`) or every SKU of a product (`product_id`) its own price at one store "
    "(`store_id`), every store of a region (`region_id`) or of a city (`city`). Without `price_fen` the "
    "stores' own prices are removed and they sell at the brand price again.",
    tags=["catalog"],
)
@requires(Perm.CATALOG_MANAGE)
def store_price_set(request: HttpRequest, payload: StorePriceIn) -> dict[str, int]:
    scope = current_scope(request)
    target = payload.dict(exclude={"price_fen"})
    names = {"sku": "sku_id", "product": "product_id", "store": "store_id", "region": "region_id"}
    with fields_named(names):
        if payload.price_fen is None:
            return {"changed": services.clear_store_prices(scope, **target)}
        return {"changed": services.set_store_prices(scope, price_fen=payload.price_fen, **target)}


# --- Categories --------------------------------------------------------------------------------
@router.get(
    "/catalog/categories",
    response=answers(list[CategoryOut]),
    summary="List categories",
    tags=["catalog"],
)
@requires(Perm.CATALOG_VIEW)
def category_list(request: HttpRequest) -> list[Category]:
    return list(restrict(Category, current_scope(request)).order_by("code"))


@router.post(
    "/catalog/categories",
    response=answers(CategoryOut, 201),
    summary="Create a category",
    tags=["catalog"],
)
@requires(Perm.CATALOG_MANAGE)
def category_create(request: HttpRequest, payload: CategoryIn) -> Created[Category]:
    return created(services.create_category(current_scope(request), **payload.dict()))
