"""Products (SPU) and SKUs. Prices are integer fen (ADR 0002). The catalog is brand-wide."""

from __future__ import annotations

import uuid
from typing import ClassVar

from django.core.validators import MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from siyu.platform.tenancy import ScopeRule


class ProductRole(models.TextChoices):
    TRAFFIC = "traffic", _("Traffic-drawing")
    REGULAR = "regular", _("Regular")
    MEMBER = "member", _("Member benefit")
    FISSION = "fission", _("Fission")


class Category(models.Model):
    scope_rule: ClassVar[ScopeRule] = ScopeRule(shared=True)

    brand = models.ForeignKey("org.Brand", on_delete=models.PROTECT, related_name="+")
    code = models.CharField(_("code"), max_length=32)
    name = models.CharField(_("name"), max_length=60)

    class Meta:
        ordering = ["code"]
        constraints = [models.UniqueConstraint(fields=["brand", "code"], name="category_code_per_brand")]
        verbose_name = _("category")
        verbose_name_plural = _("categories")

    def __str__(self) -> str:
        return self.name


class Product(models.Model):
    scope_rule: ClassVar[ScopeRule] = ScopeRule(shared=True)

    brand = models.ForeignKey("org.Brand", on_delete=models.PROTECT, related_name="+")
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="products")
    code = models.CharField(_("style code"), max_length=32)
    name = models.CharField(_("name"), max_length=120)
    role = models.CharField(_("role"), max_length=12, choices=ProductRole.choices, default=ProductRole.REGULAR)
    price_fen = models.PositiveIntegerField(_("price (fen)"), validators=[MinValueValidator(1)])
    launched_on = models.DateField(_("launched on"), null=True, blank=True)
    active = models.BooleanField(_("on sale"), default=True)
    description = models.TextField(_("description"), blank=True)

    class Meta:
        ordering = ["code"]
        constraints = [models.UniqueConstraint(fields=["brand", "code"], name="product_code_per_brand")]
        verbose_name = _("product")

    def __str__(self) -> str:
        return self.name


class Sku(models.Model):
    scope_rule: ClassVar[ScopeRule] = ScopeRule(shared=True)

    brand = models.ForeignKey("org.Brand", on_delete=models.PROTECT, related_name="+")
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="skus")
    code = models.CharField(_("SKU code"), max_length=40)
    color = models.CharField(_("colour"), max_length=30)
    size = models.CharField(_("size"), max_length=10)
    barcode = models.CharField(_("barcode"), max_length=20, blank=True)

    class Meta:
        ordering = ["code"]
        constraints = [models.UniqueConstraint(fields=["brand", "code"], name="sku_code_per_brand")]
        verbose_name = _("SKU")

    def __str__(self) -> str:
        return self.code


def _image_path(instance: ProductImage, filename: str) -> str:
    ext = (filename.rsplit(".", 1)[-1] if "." in filename else "png").lower()[:5]
    return f"catalog/{instance.brand_id}/{instance.product_id}/{uuid.uuid4().hex}.{ext}"


class ProductImage(models.Model):
    """A picture of a product, stored by the platform under ``MEDIA_ROOT``. The first by
    ``position`` is the product's main picture."""

    scope_rule: ClassVar[ScopeRule] = ScopeRule(shared=True)

    brand = models.ForeignKey("org.Brand", on_delete=models.PROTECT, related_name="+")
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="images")
    image = models.FileField(_("image"), upload_to=_image_path, max_length=200)
    alt = models.CharField(_("description"), max_length=120, blank=True)
    position = models.PositiveSmallIntegerField(_("position"), default=0)

    class Meta:
        ordering = ["position", "id"]
        verbose_name = _("product image")


class StorePrice(models.Model):
    """A store's own price for one SKU, set by HQ over the brand price (``Product.price_fen``)."""

    scope_rule: ClassVar[ScopeRule] = ScopeRule(shared=True)

    brand = models.ForeignKey("org.Brand", on_delete=models.PROTECT, related_name="+")
    store = models.ForeignKey("org.Store", on_delete=models.CASCADE, related_name="+")
    sku = models.ForeignKey(Sku, on_delete=models.CASCADE, related_name="store_prices")
    price_fen = models.PositiveIntegerField(_("store price (fen)"), validators=[MinValueValidator(1)])
    updated_at = models.DateTimeField(_("updated at"))

    class Meta:
        constraints = [models.UniqueConstraint(fields=["store", "sku"], name="one_store_price_per_sku")]
        verbose_name = _("store price")


def upsert_store_prices(rows: list[StorePrice]) -> None:
    """Write store prices, replacing the price a store already had for the SKU (one statement per
    500 rows: ``INSERT … ON CONFLICT (store, sku) DO UPDATE`` on SQLite and PostgreSQL)."""
    StorePrice.objects.bulk_create(
        rows,
        batch_size=500,
        update_conflicts=True,
        unique_fields=["store", "sku"],
        update_fields=["price_fen", "updated_at"],
    )


class PageTemplate(models.Model):
    """A store-page layout HQ writes once and pushes to many stores: its banners and featured
    products appear on every store page that uses it, under the store's own."""

    scope_rule: ClassVar[ScopeRule] = ScopeRule(shared=True)

    brand = models.ForeignKey("org.Brand", on_delete=models.PROTECT, related_name="+")
    name = models.CharField(_("name"), max_length=80)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["brand", "name"], name="page_template_name_per_brand")]
        verbose_name = _("page template")

    def __str__(self) -> str:
        return self.name


class StorePage(models.Model):
    """One store's page in the mall: the template it follows (pushed by HQ) and its own headline."""

    scope_rule: ClassVar[ScopeRule] = ScopeRule(region="store__region_id", store="store_id", own_store="store_id")

    brand = models.ForeignKey("org.Brand", on_delete=models.PROTECT, related_name="+")
    store = models.OneToOneField("org.Store", on_delete=models.CASCADE, related_name="+")
    template = models.ForeignKey(PageTemplate, on_delete=models.SET_NULL, null=True, blank=True, related_name="pages")
    headline = models.CharField(_("headline"), max_length=120, blank=True)
    pushed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField()

    class Meta:
        verbose_name = _("store page")


class Placement(models.Model):
    """A banner or a featured product on a template (HQ) or on one store's page (its own, shown
    first). Exactly one of ``template`` and ``page`` is set."""

    class Kind(models.TextChoices):
        BANNER = "banner", _("Banner")
        FEATURED = "featured", _("Featured product")

    scope_rule: ClassVar[ScopeRule] = ScopeRule(shared=True)

    brand = models.ForeignKey("org.Brand", on_delete=models.PROTECT, related_name="+")
    template = models.ForeignKey(
        PageTemplate, on_delete=models.CASCADE, null=True, blank=True, related_name="placements"
    )
    page = models.ForeignKey(StorePage, on_delete=models.CASCADE, null=True, blank=True, related_name="placements")
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    product = models.ForeignKey(Product, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    title = models.CharField(_("title"), max_length=80, blank=True)
    subtitle = models.CharField(_("subtitle"), max_length=120, blank=True)
    image = models.FileField(_("image"), upload_to="catalog/banners/", max_length=200, blank=True)
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    starts_at = models.DateTimeField(_("shown from"), null=True, blank=True)
    ends_at = models.DateTimeField(_("shown until"), null=True, blank=True)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(template__isnull=False, page__isnull=True)
                | models.Q(template__isnull=True, page__isnull=False),
                name="placement_on_template_or_page",
            )
        ]
        verbose_name = _("placement")


class CatalogImport(models.Model):
    """One import of a catalog file (products and SKUs, or store prices): a dry run that checked it,
    or a real run that applied it whole or refused it. Kept so HQ sees what was imported, by whom,
    and the bad rows of a check; the file itself is kept under ``SIYU_HOME/imports/catalog/``."""

    scope_rule: ClassVar[ScopeRule] = ScopeRule()  # HQ only

    class Kind(models.TextChoices):
        PRODUCTS = "products", _("Products and SKUs")
        PRICES = "prices", _("Store prices")

    class Status(models.TextChoices):
        CHECKED = "checked", _("Dry run checked")
        DONE = "done", _("Imported")
        REFUSED = "refused", _("Refused: bad rows")
        FAILED = "failed", _("Failed")

    brand = models.ForeignKey("org.Brand", on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    file_name = models.CharField(_("file"), max_length=200)
    file_sha256 = models.CharField(max_length=64)
    dry_run = models.BooleanField(_("dry run"), default=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices)
    rows_total = models.PositiveIntegerField(default=0)
    rows_bad = models.PositiveIntegerField(default=0)
    counts = models.JSONField(default=dict)  # e.g. {"products_created": 3, "skus_updated": 2, "rows_unchanged": 40}
    errors = models.JSONField(default=list)  # [{"line", "column", "reason"}], the first 1,000
    notices = models.JSONField(default=list)
    message = models.TextField(blank=True)
    actor_label = models.CharField(max_length=120)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        verbose_name = _("catalog import")

    def __str__(self) -> str:
        return self.file_name
