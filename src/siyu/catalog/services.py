"""Use-cases of the catalog. Writes (creating categories and products with their SKUs) belong to
HQ: they need a brand-level scope that may open the HQ console. Each write validates, runs in one
transaction and leaves an audit entry. Prices are integer fen (ADR 0002)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet
from django.utils.translation import gettext as _

from siyu.catalog import pictures, rules
from siyu.catalog.models import Category, Product, ProductImage, ProductRole, Sku, StorePrice, upsert_store_prices
from siyu.org import services as org
from siyu.org.services import Perm, StoreInfo  # permissions are org knowledge, reached through its services
from siyu.platform import audit, clock, validation
from siyu.platform.tenancy import Level, Scope, restrict

CATEGORY_FIELDS = ("code", "name")
SKU_FIELDS = ("code", "color", "size", "barcode")
PRODUCT_FIELDS = ("category", "code", "name", "role", "price_fen", "launched_on", "active", "description")


@dataclass(frozen=True)
class NewSku:
    code: str
    color: str
    size: str
    barcode: str = ""


def _require_hq(scope: Scope) -> None:
    """Catalog writes belong to HQ: a brand-wide scope with ``catalog.manage`` (HQ admins and
    operators, a brand token granted it)."""
    if scope.level is not Level.BRAND or not scope.can(Perm.CATALOG_MANAGE):
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
    description: str = "",
    skus: Iterable[NewSku] = (),
) -> Product:
    """A product (style) and its SKUs (colour × size), all or nothing."""
    _require_hq(scope)
    price_fen = _check_price(price_fen)
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
        description=(description or "").strip(),
    )
    validation.full_clean(product)
    product.save()
    rows = [
        Sku(
            brand_id=scope.brand_id,
            product=product,
            code=s.code.strip(),
            color=s.color.strip(),
            size=s.size.strip(),
            barcode=s.barcode.strip(),
        )
        for s in skus
    ]
    seen: set[str] = set()
    for sku in rows:
        if sku.code in seen:
            raise ValidationError({"skus": _("SKU code %(code)s appears twice.") % {"code": sku.code}})
        seen.add(sku.code)
        _check_barcode(sku.barcode)
        validation.full_clean(sku, exclude=["product"])
    Sku.objects.bulk_create(rows)
    _record(
        scope,
        "product.create",
        product,
        {**audit.snapshot(product, PRODUCT_FIELDS), "skus": [s.code for s in rows]},
    )
    return product


def _changes(instance: Any, data: dict[str, Any], allowed: Iterable[str]) -> dict[str, Any]:
    """Set ``data`` on ``instance`` (only ``allowed`` fields; text stripped); returns the audited
    values before the change."""
    unknown = set(data) - set(allowed)
    if unknown:
        raise ValidationError({name: _("This field cannot be set here.") for name in sorted(unknown)})
    before = audit.snapshot(instance, allowed)
    for name, value in data.items():
        setattr(instance, name, value.strip() if isinstance(value, str) else value)
    return before


@transaction.atomic
def update_category(scope: Scope, category_id: int, **data: Any) -> Category:
    """Rename a category or change its code (``code``, ``name``)."""
    _require_hq(scope)
    category = (
        Category.objects.select_for_update().filter(brand_id=scope.brand_id, pk=_as_int(category_id) or 0).first()
    )
    if category is None:
        raise ValidationError({"category": _("Choose a category of this brand.")})
    before = _changes(category, data, CATEGORY_FIELDS)
    validation.full_clean(category)
    category.save()
    audit.record_by(scope, "category.update", category, before=before, after=audit.snapshot(category, CATEGORY_FIELDS))
    return category


@transaction.atomic
def update_product(scope: Scope, product_id: int, *, skus: Iterable[NewSku] | None = None, **data: Any) -> Product:
    """Change a product's facts (any of ``category`` — an id of the brand's —, ``code``, ``name``,
    ``role``, ``price_fen``, ``launched_on``, ``active``, ``description``) and, with ``skus``, add
    or change its SKUs by code (a SKU not named is left as it is), all in one transaction."""
    _require_hq(scope)
    product = Product.objects.select_for_update().filter(brand_id=scope.brand_id, pk=_as_int(product_id) or 0).first()
    if product is None:
        raise ValidationError({"product": _("Choose a product of this brand.")})
    if "price_fen" in data:
        data["price_fen"] = _check_price(data["price_fen"])
    if "category" in data:
        category = Category.objects.filter(brand_id=scope.brand_id, pk=_as_int(data.pop("category")) or 0).first()
        if category is None:
            raise ValidationError({"category": _("Choose a category of this brand.")})
        data["category"] = category
    before = _changes(product, data, PRODUCT_FIELDS)
    validation.full_clean(product)
    product.save()
    after = audit.snapshot(product, PRODUCT_FIELDS)
    if after != before:
        audit.record_by(scope, "product.update", product, before=before, after=after)
    if skus is not None:
        _upsert_skus(scope, product, list(skus))
    return product


def _upsert_skus(scope: Scope, product: Product, skus: list[NewSku]) -> None:
    codes = [s.code.strip() for s in skus]
    repeated = sorted({c for c in codes if codes.count(c) > 1})
    if repeated:
        raise ValidationError({"skus": _("SKU code %(code)s appears twice.") % {"code": repeated[0]}})
    mine = {s.code: s for s in product.skus.all()}
    for new in skus:
        values = {"code": new.code, "color": new.color, "size": new.size, "barcode": new.barcode}
        current = mine.get(new.code.strip())
        if current is None:
            add_sku(scope, product.pk, **values)
        else:
            update_sku(scope, current.pk, **values)


@transaction.atomic
def add_sku(scope: Scope, product_id: int, *, code: str, color: str, size: str, barcode: str = "") -> Sku:
    """A new SKU (colour × size) of a product; its code is unique in the brand."""
    _require_hq(scope)
    product = Product.objects.filter(brand_id=scope.brand_id, pk=_as_int(product_id) or 0).first()
    if product is None:
        raise ValidationError({"product": _("Choose a product of this brand.")})
    sku = Sku(brand_id=scope.brand_id, product=product)
    _changes(sku, {"code": code, "color": color, "size": size, "barcode": barcode}, SKU_FIELDS)
    _check_barcode(sku.barcode)
    validation.full_clean(sku)
    sku.save()
    audit.record_by(
        scope, "sku.create", sku, before=None, after={"product": product.code, **audit.snapshot(sku, SKU_FIELDS)}
    )
    return sku


@transaction.atomic
def update_sku(scope: Scope, sku_id: int, **data: Any) -> Sku:
    """Change a SKU's ``code``, ``color``, ``size`` or ``barcode``."""
    _require_hq(scope)
    sku = Sku.objects.select_for_update().filter(brand_id=scope.brand_id, pk=_as_int(sku_id) or 0).first()
    if sku is None:
        raise ValidationError({"sku": _("Choose a SKU of this brand.")})
    before = _changes(sku, data, SKU_FIELDS)
    _check_barcode(sku.barcode)
    validation.full_clean(sku)
    sku.save()
    after = audit.snapshot(sku, SKU_FIELDS)
    if after != before:
        audit.record_by(scope, "sku.update", sku, before=before, after=after)
    return sku


def _check_barcode(barcode: str) -> None:
    if barcode and not barcode.isdigit():
        raise ValidationError({"barcode": _("A barcode is digits only (EAN-13, UPC).")})


# --- Pictures: PNG, JPEG or WebP under MEDIA_ROOT; the first by position is the main one --------

MAX_IMAGES = 12


@transaction.atomic
def add_image(scope: Scope, product_id: int, *, data: bytes, alt: str = "") -> ProductImage:
    """Store a picture of a product after the ones it has. Its type and size are read from the
    bytes (``pictures.sniff``), never from the file name: PNG, JPEG or WebP, at most 5 MB, each side
    64–8000 px. The file is written under ``MEDIA_ROOT``; if the transaction fails it is removed."""
    _require_hq(scope)
    product = _locked_product(scope, product_id)
    facts = _check_image(data)
    about = {"type": facts.content_type, "width": facts.width, "height": facts.height}
    return _store_image(scope, product, data, facts.kind, alt, about)


@transaction.atomic
def add_drawn_image(scope: Scope, product_id: int, *, colour: str | None = None) -> ProductImage:
    """A placeholder picture drawn by the catalog itself (``pictures.draw_svg``): the product's
    silhouette in ``colour`` (default: its first SKU's) with its name and style code. For the demo
    and for products still without a photo; no outside bytes are involved."""
    _require_hq(scope)
    product = _locked_product(scope, product_id)
    first = product.skus.order_by("code").values_list("color", flat=True).first()
    colour = colour or first or ""
    svg = pictures.draw_svg(
        name=product.name, code=product.code, colour=colour, kind_text=f"{product.category.name} {product.name}"
    )
    return _store_image(scope, product, svg, "svg", product.name, {"type": "image/svg+xml", "drawn": colour})


def _locked_product(scope: Scope, product_id: Any) -> Product:
    product = (
        Product.objects.select_for_update(of=("self",))
        .select_related("category")
        .filter(brand_id=scope.brand_id, pk=_as_int(product_id) or 0)
        .first()
    )
    if product is None:
        raise ValidationError({"product": _("Choose a product of this brand.")})
    return product


def _store_image(
    scope: Scope, product: Product, data: bytes, ext: str, alt: str, about: dict[str, Any]
) -> ProductImage:
    taken = list(product.images.values_list("position", flat=True))
    if len(taken) >= MAX_IMAGES:
        raise ValidationError({"image": _("A product has at most %(n)d pictures.") % {"n": MAX_IMAGES}})
    image = ProductImage(
        brand_id=scope.brand_id, product=product, alt=(alt or "").strip()[:120], position=max(taken, default=-1) + 1
    )
    validation.full_clean(image, exclude=["image"])
    image.image.save(f"upload.{ext}", ContentFile(data), save=False)
    stored = image.image.name or ""
    try:
        image.save()
        audit.record_by(scope, "product.image_add", product, after={"image": stored, **about})
    except BaseException:
        default_storage.delete(stored)  # no row, no file
        raise
    return image


@transaction.atomic
def reorder_images(scope: Scope, product_id: int, image_ids: Iterable[int]) -> None:
    """Put a product's pictures in the order of ``image_ids`` (every one of them, once); the first
    becomes the main picture."""
    _require_hq(scope)
    product = _locked_product(scope, product_id)
    wanted = [_as_int(i) for i in image_ids]
    current = {i.pk: i for i in product.images.all()}
    if len(wanted) != len(current) or set(wanted) != set(current):
        raise ValidationError({"images": _("List every picture of the product exactly once.")})
    before = list(current)
    for position, pk in enumerate(wanted):
        current[pk or 0].position = position
    ProductImage.objects.bulk_update(current.values(), ["position"])
    audit.record_by(scope, "product.image_order", product, before={"images": before}, after={"images": wanted})


@transaction.atomic
def delete_image(scope: Scope, image_id: int) -> None:
    """Remove a picture; its file goes once the transaction commits."""
    _require_hq(scope)
    image = (
        ProductImage.objects.select_related("product")
        .filter(brand_id=scope.brand_id, pk=_as_int(image_id) or 0)
        .first()
    )
    if image is None:
        raise ValidationError({"image": _("Choose a picture of this brand's products.")})
    name = image.image.name or ""
    image.delete()
    audit.record_by(scope, "product.image_delete", image.product, before={"image": name}, after=None)
    transaction.on_commit(lambda: default_storage.delete(name))


def _check_image(data: bytes) -> pictures.ImageFacts:
    if not data:
        raise ValidationError({"image": _("Choose a picture to upload.")})
    if len(data) > pictures.MAX_BYTES:
        raise ValidationError({"image": _("A picture is at most 5 MB; this one is larger.")})
    facts = pictures.sniff(data)
    if facts is None:
        raise ValidationError({"image": _("A picture must be a PNG, JPEG or WebP file.")})
    low, high = pictures.MIN_SIDE, pictures.MAX_SIDE
    if not (low <= facts.width <= high and low <= facts.height <= high):
        raise ValidationError(
            {
                "image": _("Each side of a picture is %(low)d to %(high)d pixels; this one is %(w)d × %(h)d.")
                % {"low": low, "high": high, "w": facts.width, "h": facts.height}
            }
        )
    return facts


def check_picture(data: bytes) -> pictures.ImageFacts:
    """The platform's one check of an uploaded picture (PNG, JPEG or WebP read from its bytes, at
    most 5 MB, each side 64–8000 px), for other domains that store pictures (the contests' feed)."""
    return _check_image(data)


# --- Store prices: a store's own price per SKU, set by HQ ---------------------------------------


def _target_stores(brand_id: int, *, store_id: int | None, region_id: int | None, city: str | None) -> list[StoreInfo]:
    """The stores a price applies to: one store, every store of a region, or every store of a city
    (exactly one of the three), all of the brand."""
    given = [name for name, v in (("store", store_id), ("region", region_id), ("city", city)) if v not in (None, "")]
    if len(given) != 1:
        raise ValidationError({"store": _("Choose one store, one region or one city.")})
    every = org.stores(brand_id)
    if store_id not in (None, ""):
        found = [s for s in every if s.id == _as_int(store_id)]
        if not found:
            raise ValidationError({"store": _("Choose a store of this brand.")})
        return found
    if region_id not in (None, ""):
        found = [s for s in every if s.region_id == _as_int(region_id)]
        if not found:
            raise ValidationError({"region": _("This region has no stores.")})
        return found
    found = [s for s in every if s.city == (city or "").strip()]
    if not found:
        raise ValidationError({"city": _("The brand has no store in this city.")})
    return found


def _as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _target_skus(brand_id: int, *, sku_id: int | None, product_id: int | None) -> tuple[Product, list[Sku]]:
    """One SKU, or every SKU of one product (exactly one of the two), of the brand."""
    if (sku_id is None) == (product_id is None):
        raise ValidationError({"sku": _("Choose one SKU or one product.")})
    if sku_id is not None:
        sku = Sku.objects.select_related("product").filter(brand_id=brand_id, pk=_as_int(sku_id) or 0).first()
        if sku is None:
            raise ValidationError({"sku": _("Choose a SKU of this brand.")})
        return sku.product, [sku]
    product = Product.objects.filter(brand_id=brand_id, pk=_as_int(product_id) or 0).first()
    if product is None:
        raise ValidationError({"product": _("Choose a product of this brand.")})
    skus = list(product.skus.order_by("code"))
    if not skus:
        raise ValidationError({"product": _("This product has no SKUs to price.")})
    return product, skus


def _check_price(price_fen: Any, field: str = "price_fen") -> int:
    if not isinstance(price_fen, int) or isinstance(price_fen, bool):
        raise ValidationError({field: _("A price is a whole number of fen, e.g. 69900 for ¥699.00.")})
    if price_fen < 1 or price_fen > MAX_PRICE_FEN:
        raise ValidationError({field: _("A price is between ¥0.01 and ¥1,000,000.00.")})
    return price_fen


MAX_PRICE_FEN = 100_000_000  # ¥1,000,000.00: above it a price is a typing mistake


@transaction.atomic
def set_store_prices(
    scope: Scope,
    *,
    price_fen: int,
    sku_id: int | None = None,
    product_id: int | None = None,
    store_id: int | None = None,
    region_id: int | None = None,
    city: str | None = None,
) -> int:
    """Give one SKU (or every SKU of a product) its own price at one store (or at every store of a
    region or a city), replacing the price those stores had; returns how many prices were set.
    One audit entry on the product names the stores, the SKUs and the price."""
    _require_hq(scope)
    price_fen = _check_price(price_fen)
    product, skus = _target_skus(scope.brand_id, sku_id=sku_id, product_id=product_id)
    stores = _target_stores(scope.brand_id, store_id=store_id, region_id=region_id, city=city)
    now = clock.now()
    rows = [
        StorePrice(brand_id=scope.brand_id, store_id=st.id, sku_id=sku.pk, price_fen=price_fen, updated_at=now)
        for st in stores
        for sku in skus
    ]
    replaced = StorePrice.objects.filter(store_id__in=[s.id for s in stores], sku__in=skus).count()
    upsert_store_prices(rows)
    audit.record_by(
        scope,
        "product.store_price",
        product,
        before={"replaced": replaced},
        after={"price_fen": price_fen, "stores": [s.code for s in stores], "skus": [s.code for s in skus]},
    )
    return len(rows)


@transaction.atomic
def clear_store_prices(
    scope: Scope,
    *,
    sku_id: int | None = None,
    product_id: int | None = None,
    store_id: int | None = None,
    region_id: int | None = None,
    city: str | None = None,
) -> int:
    """Remove the stores' own prices of one SKU (or of every SKU of a product) at one store, a
    region's or a city's stores: they sell at the brand price again. Returns how many went."""
    _require_hq(scope)
    product, skus = _target_skus(scope.brand_id, sku_id=sku_id, product_id=product_id)
    stores = _target_stores(scope.brand_id, store_id=store_id, region_id=region_id, city=city)
    gone, _detail = StorePrice.objects.filter(
        brand_id=scope.brand_id, store_id__in=[s.id for s in stores], sku__in=skus
    ).delete()
    if gone:
        audit.record_by(
            scope,
            "product.store_price_clear",
            product,
            before={"cleared": gone},
            after={"stores": [s.code for s in stores], "skus": [s.code for s in skus]},
        )
    return gone


@dataclass(frozen=True)
class StorePriceRow:
    sku_id: int
    sku_code: str
    store_id: int
    store_code: str
    store_name: str
    city: str
    price_fen: int


def store_prices(brand_id: int, product_id: int) -> list[StorePriceRow]:
    """The stores' own prices of one product's SKUs, by store code then SKU code."""
    names = {s.id: s for s in org.stores(brand_id)}
    rows = StorePrice.objects.filter(brand_id=brand_id, sku__product_id=product_id).values_list(
        "sku_id", "sku__code", "store_id", "price_fen"
    )
    out = [
        StorePriceRow(
            sku_id=sku_id,
            sku_code=sku_code,
            store_id=store_id,
            store_code=names[store_id].code,
            store_name=names[store_id].name,
            city=names[store_id].city,
            price_fen=price,
        )
        for sku_id, sku_code, store_id, price in rows
        if store_id in names
    ]
    return sorted(out, key=lambda r: (r.store_code, r.sku_code))


def sku_counts(product_ids: Iterable[int]) -> dict[int, int]:
    """How many SKUs each product has (products without any are left out)."""
    return dict(
        Sku.objects.filter(product_id__in=list(product_ids))
        .values("product_id")
        .annotate(n=Count("pk"))
        .values_list("product_id", "n")
    )


def category_counts(scope: Scope) -> list[tuple[Category, int, int]]:
    """The brand's categories with how many products each has and how many of them are on sale."""
    qs = restrict(Category, scope).annotate(
        n=Count("products"), on_sale=Count("products", filter=Q(products__active=True))
    )
    return [(c, c.n, c.on_sale) for c in qs.order_by("code")]


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
    ids = sorted({int(i) for i in sku_ids})
    if not ids:
        return {}
    # One plain query (every checkout prices its lines): the store's own price comes along by an
    # outer join on the one price a store may have per SKU (``one_store_price_per_sku``).
    qn = connection.ops.quote_name
    sku, product, own = (qn(m._meta.db_table) for m in (Sku, Product, StorePrice))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT s.id, s.code, s.color, s.size, s.product_id, p.code, p.name, p.price_fen, p.active, o.price_fen "
            f"FROM {sku} s JOIN {product} p ON p.id = s.product_id "
            f"LEFT JOIN {own} o ON o.sku_id = s.id AND o.store_id = %s "
            f"WHERE s.brand_id = %s AND s.id IN ({', '.join(['%s'] * len(ids))})",
            [store_id, brand_id, *ids],
        )
        rows = cursor.fetchall()
    return {
        pk: SkuInfo(
            sku_id=pk,
            sku_code=code,
            product_id=product_id,
            product_code=product_code,
            product_name=product_name,
            color=color,
            size=size,
            price_fen=own_price if own_price is not None else price_fen,
            on_sale=bool(active),
        )
        for pk, code, color, size, product_id, product_code, product_name, price_fen, active, own_price in rows
    }


# --- Reads for the mall: search, product cards, product detail ----------------------------------
# Plain dataclasses (models never leave the domain). Prices are fen at one store: a store price set
# by HQ wins over the brand price for its SKU (``rules.price_range``).


@dataclass(frozen=True)
class ProductCard:
    """A product as a list shows it: at ``store_id`` its price runs from ``min_price_fen`` to
    ``max_price_fen`` (both the brand price when the store has no price of its own)."""

    id: int
    code: str
    name: str
    role: str
    category_code: str
    category_name: str
    price_fen: int  # the brand price
    min_price_fen: int
    max_price_fen: int
    image_url: str  # the main picture ("" when the product has none)
    on_sale: bool

    @property
    def one_price(self) -> bool:
        return self.min_price_fen == self.max_price_fen


@dataclass(frozen=True)
class ProductResults:
    total: int  # every match, not only this page
    cards: list[ProductCard]


@dataclass(frozen=True)
class ImageInfo:
    id: int
    url: str
    alt: str


@dataclass(frozen=True)
class SkuDetail:
    id: int
    code: str
    color: str
    size: str
    barcode: str
    price_fen: int  # at the store
    store_price: bool  # the store's own price (else the brand price)


@dataclass(frozen=True)
class ProductDetail:
    card: ProductCard
    description: str
    launched_on: dt.date | None
    images: list[ImageInfo]
    skus: list[SkuDetail]
    colors: list[str]  # in the order of the SKU codes
    sizes: list[str]  # in shop order (rules.ordered_sizes)

    def sku(self, color: str, size: str) -> SkuDetail | None:
        return next((s for s in self.skus if s.color == color and s.size == size), None)


def media_url(name: str) -> str:
    """The URL of a stored file (``MEDIA_URL`` + its name), "" for none."""
    return default_storage.url(name) if name else ""


def search_filter(text: str | None, *, barcode: bool = True) -> Q:
    """Products matching every word of ``text`` in their name, style code, one of their SKU codes
    or (``barcode``) barcodes. Case-insensitive for Latin letters; Chinese matches as written (a
    substring), on SQLite and PostgreSQL alike."""
    condition = Q()
    for word in rules.search_terms(text):
        skus = Q(code__icontains=word) | Q(barcode__icontains=word) if barcode else Q(code__icontains=word)
        condition &= (
            Q(name__icontains=word)
            | Q(code__icontains=word)
            | Q(Exists(Sku.objects.filter(skus, product_id=OuterRef("pk"))))
        )
    return condition


def find_products(
    scope: Scope,
    *,
    q: str | None = None,
    category: Any = None,
    role: str | None = None,
    on_sale: bool | None = None,
) -> QuerySet[Product]:
    """The brand's products as HQ lists them (on sale or not): ``q`` matches every word in the name,
    style code, a SKU code or a barcode; ``category`` is a category id or code. One reader for the
    HQ pages, the exports and the API."""
    qs = restrict(Product, scope).filter(search_filter(q))
    if category not in (None, ""):
        pk = _as_int(category)
        qs = qs.filter(category_id=pk) if pk is not None else qs.filter(category__code=str(category))
    if role:
        qs = qs.filter(role=role)
    if on_sale is not None:
        qs = qs.filter(active=on_sale)
    return qs


def search_products(
    brand_id: int,
    q: str | None,
    *,
    category: str | None = None,
    role: str | None = None,
    limit: int = 20,
    offset: int = 0,
    store_id: int | None = None,
) -> ProductResults:
    """The on-sale products of the brand matching ``q`` (name, style code, SKU code or barcode;
    every word must match), in a category (its code) and with a role, newest first, one page of
    ``limit`` from ``offset``; cards priced at ``store_id``."""
    qs = Product.objects.filter(search_filter(q), brand_id=brand_id, active=True)
    if category:
        qs = qs.filter(category__code=category)
    if role:
        qs = qs.filter(role=role)
    limit, offset = max(0, min(int(limit), 200)), max(0, int(offset))
    ids = list(
        qs.order_by(F("launched_on").desc(nulls_last=True), "code").values_list("pk", flat=True)[
            offset : offset + limit
        ]
    )
    total = qs.count() if (offset or len(ids) == limit) else offset + len(ids)
    return ProductResults(total=total, cards=product_cards(brand_id, ids, store_id=store_id))


def product_cards(brand_id: int, product_ids: Iterable[int], *, store_id: int | None = None) -> list[ProductCard]:
    """Cards of the brand's products in ``product_ids``, in that order (unknown ids left out), priced
    at ``store_id``. Four queries whatever the number of products."""
    ids = list(dict.fromkeys(int(i) for i in product_ids))
    if not ids:
        return []
    products = {
        p.pk: p
        for p in Product.objects.filter(brand_id=brand_id, pk__in=ids)
        .select_related("category")
        .only("pk", "code", "name", "role", "price_fen", "active", "category__code", "category__name")
    }
    counts = sku_counts(products)
    overrides: dict[int, list[int]] = {}
    if store_id is not None and products:
        for product_id, price in StorePrice.objects.filter(
            brand_id=brand_id, store_id=store_id, sku__product_id__in=products
        ).values_list("sku__product_id", "price_fen"):
            overrides.setdefault(product_id, []).append(price)
    main_picture: dict[int, str] = {}
    for product_id, name in ProductImage.objects.filter(product_id__in=products).values_list("product_id", "image"):
        main_picture.setdefault(product_id, name)  # the model's ordering puts the main picture first
    return [
        _card(products[i], counts.get(i, 0), overrides.get(i, []), media_url(main_picture.get(i, "")))
        for i in ids
        if i in products
    ]


def _card(p: Product, sku_count: int, overrides: list[int], image_url: str) -> ProductCard:
    low, high = rules.price_range(p.price_fen, sku_count, overrides)
    return ProductCard(
        id=p.pk,
        code=p.code,
        name=p.name,
        role=p.role,
        category_code=p.category.code,
        category_name=p.category.name,
        price_fen=p.price_fen,
        min_price_fen=low,
        max_price_fen=high,
        image_url=image_url,
        on_sale=p.active,
    )


def product_card(brand_id: int, product_id: int, *, store_id: int | None = None) -> ProductCard | None:
    cards = product_cards(brand_id, [product_id], store_id=store_id)
    return cards[0] if cards else None


def product_detail(brand_id: int, product: int | str, store_id: int | None = None) -> ProductDetail | None:
    """One product of the brand by id (an int) or style code (a str), with its pictures and its SKUs
    priced at ``store_id``; ``None`` when the brand has no such product. An off-sale product is
    returned too (``card.on_sale`` is False): the caller decides whether to show it."""
    lookup = {"pk": product} if isinstance(product, int) else {"code": str(product).strip()}
    p = Product.objects.select_related("category").filter(brand_id=brand_id, **lookup).first()
    if p is None:
        return None
    skus = list(Sku.objects.filter(product=p).order_by("code"))
    overrides: dict[int, int] = {}
    if store_id is not None:
        overrides = dict(
            StorePrice.objects.filter(brand_id=brand_id, store_id=store_id, sku__product=p).values_list(
                "sku_id", "price_fen"
            )
        )
    gallery = [ImageInfo(id=i.pk, url=media_url(i.image.name or ""), alt=i.alt or p.name) for i in p.images.all()]
    return ProductDetail(
        card=_card(p, len(skus), list(overrides.values()), gallery[0].url if gallery else ""),
        description=p.description,
        launched_on=p.launched_on,
        images=gallery,
        skus=[
            SkuDetail(
                id=s.pk,
                code=s.code,
                color=s.color,
                size=s.size,
                barcode=s.barcode,
                price_fen=overrides.get(s.pk, p.price_fen),
                store_price=s.pk in overrides,
            )
            for s in skus
        ],
        colors=rules.ordered_colors(s.color for s in skus),
        sizes=rules.ordered_sizes(s.size for s in skus),
    )


def sku_ids_by_code(brand_id: int, codes: Iterable[str]) -> dict[str, int]:
    """SKU code → SKU id for the codes of ``codes`` that belong to the brand (POS feeds and stock
    forms name SKUs by code). Unknown codes are left out."""
    wanted = {str(c).strip() for c in codes if str(c).strip()}
    if not wanted:
        return {}
    return dict(Sku.objects.filter(brand_id=brand_id, code__in=wanted).values_list("code", "pk"))


def sku_ids_matching(brand_id: int, text: str, *, limit: int = 500) -> list[int]:
    """The ids of the brand's SKUs whose SKU code or style code contains ``text`` (stock search)."""
    text = (text or "").strip()
    if not text:
        return []
    return list(
        Sku.objects.filter(Q(code__icontains=text) | Q(product__code__icontains=text), brand_id=brand_id)
        .order_by("code")
        .values_list("pk", flat=True)[:limit]
    )
