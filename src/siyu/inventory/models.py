"""Stock per store and SKU, kept by an append-only ledger of movements (ADR 0009).

``StockLevel`` holds two quantities per store and SKU: ``on_hand`` (in the store) and ``reserved``
(held for checkouts not yet paid). They change only together with a ``Movement`` whose deltas they
add up: for every store and SKU, ``on_hand`` is the sum of ``on_hand_delta`` and ``reserved`` the
sum of ``reserved_delta`` over its movements. What a store can still sell is ``on_hand - reserved``,
never negative (database check constraints, and every reservation is a conditional update)."""

from __future__ import annotations

from typing import ClassVar

from django.db import models
from django.utils.translation import gettext_lazy as _

from siyu.platform.tenancy import ScopeRule

IN_STORE = ScopeRule(region="store__region_id", store="store_id", own_store="store_id")


class StockLevel(models.Model):
    scope_rule: ClassVar[ScopeRule] = IN_STORE

    brand = models.ForeignKey("org.Brand", on_delete=models.PROTECT, related_name="+")
    store = models.ForeignKey("org.Store", on_delete=models.PROTECT, related_name="+")
    sku = models.ForeignKey("catalog.Sku", on_delete=models.PROTECT, related_name="+")
    on_hand = models.IntegerField(_("on hand"), default=0)
    reserved = models.IntegerField(_("reserved"), default=0)
    updated_at = models.DateTimeField(_("updated at"))

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["store", "sku"], name="one_stock_level_per_store_sku"),
            models.CheckConstraint(condition=models.Q(on_hand__gte=0), name="stock_on_hand_not_negative"),
            models.CheckConstraint(condition=models.Q(reserved__gte=0), name="stock_reserved_not_negative"),
            models.CheckConstraint(
                condition=models.Q(reserved__lte=models.F("on_hand")), name="stock_reserved_within_on_hand"
            ),
        ]
        indexes = [models.Index(fields=["brand", "sku"])]
        verbose_name = _("stock level")

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved


class MovementKind(models.TextChoices):
    RECEIPT = "receipt", _("Receipt")
    SALE = "sale", _("Sale")
    RESERVATION = "reservation", _("Reservation")
    RELEASE = "release", _("Release")
    TRANSFER_OUT = "transfer_out", _("Transfer out")
    TRANSFER_IN = "transfer_in", _("Transfer in")
    ADJUSTMENT = "adjustment", _("Adjustment")
    POS_SYNC = "pos_sync", _("POS sync")
    RETURN = "return", _("Return to stock")


class Movement(models.Model):
    """One change of one store's stock of one SKU. Never updated or deleted. ``key`` is the
    idempotency key: the same key twice is the same movement (a retried request moves nothing)."""

    scope_rule: ClassVar[ScopeRule] = IN_STORE

    brand = models.ForeignKey("org.Brand", on_delete=models.PROTECT, related_name="+")
    store = models.ForeignKey("org.Store", on_delete=models.PROTECT, related_name="+")
    sku = models.ForeignKey("catalog.Sku", on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(_("kind"), max_length=12, choices=MovementKind.choices)
    on_hand_delta = models.IntegerField(_("on hand change"), default=0)
    reserved_delta = models.IntegerField(_("reserved change"), default=0)
    key = models.CharField(max_length=120)
    reference = models.CharField(_("reference"), max_length=60, blank=True)  # order number, transfer id, POS doc
    note = models.CharField(_("note"), max_length=200, blank=True)
    actor_label = models.CharField(max_length=120, blank=True)
    at = models.DateTimeField(_("at"))

    class Meta:
        ordering = ["-at", "-id"]
        constraints = [models.UniqueConstraint(fields=["brand", "key"], name="movement_key_once_per_brand")]
        indexes = [models.Index(fields=["store", "sku", "at"]), models.Index(fields=["brand", "reference"])]
        verbose_name = _("stock movement")


class Reservation(models.Model):
    """Stock held for a checkout until ``expires_at``: committed (sold) when paid, released when
    cancelled or expired. ``key`` (per brand) is the caller's reference, e.g. the order number."""

    class Status(models.TextChoices):
        HELD = "held", _("Held")
        COMMITTED = "committed", _("Sold")
        RELEASED = "released", _("Released")
        EXPIRED = "expired", _("Expired")

    scope_rule: ClassVar[ScopeRule] = ScopeRule()  # HQ only; stores see their lines through movements

    brand = models.ForeignKey("org.Brand", on_delete=models.PROTECT, related_name="+")
    key = models.CharField(max_length=60)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.HELD)
    expires_at = models.DateTimeField(_("expires at"))
    created_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["brand", "key"], name="reservation_key_once_per_brand")]
        indexes = [models.Index(fields=["status", "expires_at"])]
        verbose_name = _("reservation")


class ReservationLine(models.Model):
    scope_rule: ClassVar[ScopeRule] = IN_STORE

    reservation = models.ForeignKey(Reservation, on_delete=models.PROTECT, related_name="lines")
    brand = models.ForeignKey("org.Brand", on_delete=models.PROTECT, related_name="+")
    store = models.ForeignKey("org.Store", on_delete=models.PROTECT, related_name="+")
    sku = models.ForeignKey("catalog.Sku", on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveIntegerField(_("quantity"))

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["reservation", "store", "sku"], name="reservation_line_once"),
            models.CheckConstraint(condition=models.Q(quantity__gt=0), name="reservation_line_positive"),
        ]


class SplitPolicy(models.TextChoices):
    FEWEST_SHIPMENTS = "fewest", _("Fewest shipments")
    NEAREST_FIRST = "nearest", _("Nearest store first, line by line")


class AllocationPolicy(models.Model):
    """How a brand allocates order lines to stores (ADR 0009). One row per brand; defaults apply
    while there is none."""

    scope_rule: ClassVar[ScopeRule] = ScopeRule()

    brand = models.OneToOneField("org.Brand", on_delete=models.CASCADE, related_name="+")
    split = models.CharField(
        _("when no single store can fill an order"),
        max_length=10,
        choices=SplitPolicy.choices,
        default=SplitPolicy.FEWEST_SHIPMENTS,
    )
    hold_minutes = models.PositiveSmallIntegerField(_("hold stock during checkout (minutes)"), default=15)
    beyond_city = models.BooleanField(
        _("ship from other cities when the customer's city cannot fill a line"), default=False
    )
    updated_at = models.DateTimeField()

    class Meta:
        verbose_name = _("allocation policy")
