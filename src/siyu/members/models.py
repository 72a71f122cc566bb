"""Customer tables. Phone and name are personal data: sealed (encrypted) at rest with a keyed
hash for lookup (ADR 0005); pages show them masked unless the viewer is the bound guide."""

from __future__ import annotations

from typing import ClassVar

from django.db import models
from django.utils.translation import gettext_lazy as _

from siyu.platform.tenancy import ScopeRule


class Lifecycle(models.TextChoices):
    NEW = "new", _("New")
    ACTIVE = "active", _("Active")
    DORMANT = "dormant", _("Dormant")
    CHURNED = "churned", _("Churned")
    RECALLED = "recalled", _("Recalled")


class Source(models.TextChoices):
    STORE_CODE = "store_code", _("Store code")
    GUIDE_CODE = "guide_code", _("Guide code")
    CAMPAIGN = "campaign", _("Campaign code")
    PRODUCT_CODE = "product_code", _("Product code")
    SHARE_LINK = "share_link", _("Share link")
    WECOM = "wecom", _("WeCom")
    POS = "pos", _("In-store POS")
    MINI_PROGRAM = "mini_program", _("Mini-program")
    IMPORT = "import", _("Import")


class Customer(models.Model):
    scope_rule: ClassVar[ScopeRule] = ScopeRule(region="store__region_id", store="store_id", own="guide_id")

    brand = models.ForeignKey("org.Brand", on_delete=models.PROTECT, related_name="+")
    store = models.ForeignKey(
        "org.Store", on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("store")
    )
    guide = models.ForeignKey(
        "org.Staff", on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("guide")
    )
    phone_sealed = models.TextField(blank=True)
    phone_hash = models.CharField(max_length=64, blank=True)
    name_sealed = models.TextField(blank=True)
    gender = models.CharField(_("gender"), max_length=1, blank=True, choices=[("f", _("Female")), ("m", _("Male"))])
    birthday = models.DateField(_("birthday"), null=True, blank=True)
    source = models.CharField(_("source"), max_length=20, choices=Source.choices, default=Source.STORE_CODE)
    tier = models.CharField(_("tier"), max_length=20, default="regular")
    lifecycle = models.CharField(_("lifecycle"), max_length=12, choices=Lifecycle.choices, default=Lifecycle.NEW)
    joined_at = models.DateTimeField(_("joined at"), db_index=True)
    last_purchase_at = models.DateTimeField(_("last purchase"), null=True, blank=True)
    orders_count = models.PositiveIntegerField(_("orders"), default=0)
    total_spent_fen = models.BigIntegerField(_("total spent (fen)"), default=0)
    erased_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-joined_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["brand", "phone_hash"], condition=~models.Q(phone_hash=""), name="one_customer_per_phone"
            )
        ]
        indexes = [
            models.Index(fields=["brand", "store"]),
            models.Index(fields=["brand", "guide"]),
            models.Index(fields=["brand", "lifecycle"]),
        ]
        verbose_name = _("customer")

    def __str__(self) -> str:
        return f"customer #{self.pk}"
