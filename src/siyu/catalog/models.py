"""Products (SPU) and SKUs. Prices are integer fen (ADR 0002). The catalog is brand-wide."""

from __future__ import annotations

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
