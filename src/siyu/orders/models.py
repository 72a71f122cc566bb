"""Carts, orders, their lines and fulfilments, payments (sandbox for now), returns and the
notifications they send. Money is integer fen (ADR 0002); the recipient's name, phone and street
address are sealed like every personal field (ADR 0005). The state machine is in ``rules.py`` and
in this app's README; stock is held and sold through ``siyu.inventory.services`` (ADR 0009)."""

from __future__ import annotations

from typing import ClassVar

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from siyu.platform.tenancy import ScopeRule


class Status(models.TextChoices):
    CREATED = "created", pgettext_lazy("order status", "Awaiting payment")
    PAID = "paid", pgettext_lazy("order status", "Paid")
    ALLOCATED = "allocated", pgettext_lazy("order status", "With the store")
    SHIPPED = "shipped", pgettext_lazy("order status", "Shipped")
    READY = "ready", pgettext_lazy("order status", "Ready for pickup")
    COMPLETED = "completed", pgettext_lazy("order status", "Completed")
    CANCELLED = "cancelled", pgettext_lazy("order status", "Cancelled")
    RETURN_REQUESTED = "return_requested", pgettext_lazy("order status", "Return requested")
    RETURNED = "returned", pgettext_lazy("order status", "Returned")


class Mode(models.TextChoices):
    DELIVERY = "delivery", _("Delivery")
    PICKUP = "pickup", _("Store pickup")


class Channel(models.TextChoices):
    MALL = "mall", _("Store mall")
    API = "api", _("API")
    POS = "pos", _("Offline POS")


# Staff reach an order through the store it was placed at or a store that fulfils it, and a guide
# also through being its guide.
ORDER_RULE = ScopeRule(
    region=("store__region_id", "fulfilments__store__region_id"),
    store=("store_id", "fulfilments__store_id"),
    own_store="fulfilments__store_id",
    own="guide_id",
    distinct=True,
)


class Order(models.Model):
    scope_rule: ClassVar[ScopeRule] = ORDER_RULE

    brand = models.ForeignKey("org.Brand", on_delete=models.PROTECT, related_name="+")
    number = models.CharField(_("order number"), max_length=24)
    client_key = models.CharField(max_length=80, blank=True)  # the caller's idempotency key
    external_ref = models.CharField(_("POS document"), max_length=60, blank=True)
    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices, default=Channel.MALL)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.CREATED)
    mode = models.CharField(_("fulfilment"), max_length=8, choices=Mode.choices, default=Mode.DELIVERY)
    customer = models.ForeignKey("members.Customer", on_delete=models.PROTECT, related_name="+")
    store = models.ForeignKey(
        "org.Store", on_delete=models.PROTECT, related_name="+", verbose_name=_("store")
    )  # the store page it was placed on (or the POS store): attribution
    guide = models.ForeignKey(
        "org.Staff", on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("guide")
    )
    code = models.ForeignKey(
        "members.Code", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )  # the code or share link that brought it
    pickup_store = models.ForeignKey(
        "org.Store", on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("pickup store")
    )
    recipient_sealed = models.TextField(blank=True)
    phone_sealed = models.TextField(blank=True)
    address_sealed = models.TextField(blank=True)  # street and number
    city = models.CharField(_("city"), max_length=40, blank=True)
    district = models.CharField(_("district"), max_length=40, blank=True)
    latitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    items_fen = models.BigIntegerField(_("items (fen)"), default=0)
    shipping_fen = models.BigIntegerField(_("shipping (fen)"), default=0)
    total_fen = models.BigIntegerField(_("total (fen)"), default=0)
    note = models.CharField(_("note"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("placed at"))
    pay_by = models.DateTimeField(_("pay by"), null=True, blank=True)
    paid_at = models.DateTimeField(_("paid at"), null=True, blank=True)
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["brand", "number"], name="order_number_per_brand"),
            models.UniqueConstraint(
                fields=["brand", "client_key"], condition=~models.Q(client_key=""), name="order_client_key_once"
            ),
            models.UniqueConstraint(
                fields=["brand", "external_ref"], condition=~models.Q(external_ref=""), name="order_pos_ref_once"
            ),
            models.CheckConstraint(
                condition=models.Q(total_fen=models.F("items_fen") + models.F("shipping_fen")),
                name="order_total_is_items_plus_shipping",
            ),
        ]
        indexes = [
            models.Index(fields=["brand", "status", "created_at"]),
            models.Index(fields=["customer", "created_at"]),
            models.Index(fields=["store", "created_at"]),
            models.Index(fields=["guide", "created_at"]),
            models.Index(fields=["status", "pay_by"]),
        ]
        verbose_name = _("order")

    def __str__(self) -> str:
        return self.number


class Fulfilment(models.Model):
    """The part of an order one store ships or hands over, with the distance it was chosen at."""

    class Status(models.TextChoices):
        PENDING = "pending", pgettext_lazy("fulfilment", "Awaiting payment")
        TO_PICK = "to_pick", pgettext_lazy("fulfilment", "To pick")
        PACKED = "packed", pgettext_lazy("fulfilment", "Packed")
        SHIPPED = "shipped", pgettext_lazy("fulfilment", "Shipped")
        READY = "ready", pgettext_lazy("fulfilment", "Ready for pickup")
        DONE = "done", pgettext_lazy("fulfilment", "Delivered / picked up")
        CANCELLED = "cancelled", pgettext_lazy("fulfilment", "Cancelled")

    scope_rule: ClassVar[ScopeRule] = ScopeRule(region="store__region_id", store="store_id", own_store="store_id")

    brand = models.ForeignKey("org.Brand", on_delete=models.PROTECT, related_name="+")
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="fulfilments")
    store = models.ForeignKey("org.Store", on_delete=models.PROTECT, related_name="+", verbose_name=_("store"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    distance_m = models.PositiveIntegerField(_("distance (m)"), null=True, blank=True)
    carrier = models.CharField(_("carrier"), max_length=40, blank=True)
    tracking_no = models.CharField(_("tracking number"), max_length=40, blank=True)
    pickup_code = models.CharField(_("pickup code"), max_length=8, blank=True)
    updated_at = models.DateTimeField()
    shipped_at = models.DateTimeField(null=True, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["order", "store"], name="one_fulfilment_per_order_store")]
        indexes = [models.Index(fields=["store", "status", "updated_at"])]
        verbose_name = _("fulfilment")


class OrderLine(models.Model):
    scope_rule: ClassVar[ScopeRule] = ScopeRule(
        region=("order__store__region_id", "fulfilment__store__region_id"),
        store=("order__store_id", "fulfilment__store_id"),
        own_store="fulfilment__store_id",
        own="order__guide_id",
        distinct=True,
    )

    brand = models.ForeignKey("org.Brand", on_delete=models.PROTECT, related_name="+")
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="lines")
    fulfilment = models.ForeignKey(Fulfilment, on_delete=models.PROTECT, null=True, blank=True, related_name="lines")
    sku = models.ForeignKey("catalog.Sku", on_delete=models.PROTECT, related_name="+")
    product_code = models.CharField(_("style code"), max_length=32)
    product_name = models.CharField(_("product"), max_length=120)
    sku_code = models.CharField(_("SKU code"), max_length=40)
    color = models.CharField(_("colour"), max_length=30, blank=True)
    size = models.CharField(_("size"), max_length=10, blank=True)
    quantity = models.PositiveIntegerField(_("quantity"))
    unit_price_fen = models.PositiveIntegerField(_("unit price (fen)"))
    amount_fen = models.BigIntegerField(_("amount (fen)"))

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(quantity__gt=0), name="order_line_quantity_positive"),
            models.CheckConstraint(
                condition=models.Q(amount_fen=models.F("unit_price_fen") * models.F("quantity")),
                name="order_line_amount_is_price_times_quantity",
            ),
        ]


class OrderEvent(models.Model):
    """The order's history, one row per change of state (what the tracking page shows)."""

    scope_rule: ClassVar[ScopeRule] = ScopeRule(
        region="order__store__region_id", store="order__store_id", own="order__guide_id"
    )

    brand = models.ForeignKey("org.Brand", on_delete=models.PROTECT, related_name="+")
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="events")
    fulfilment = models.ForeignKey(Fulfilment, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    status = models.CharField(_("status"), max_length=16)
    note = models.CharField(_("note"), max_length=200, blank=True)
    actor_label = models.CharField(max_length=120, blank=True)
    at = models.DateTimeField(_("at"))

    class Meta:
        ordering = ["at", "id"]


class Payment(models.Model):
    """A charge or a refund through the payment adapter (the sandbox for now). ``key`` makes a
    retried payment call the same payment."""

    class Kind(models.TextChoices):
        CHARGE = "charge", _("Charge")
        REFUND = "refund", _("Refund")

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")

    scope_rule: ClassVar[ScopeRule] = ScopeRule()  # HQ; others see it on the order

    brand = models.ForeignKey("org.Brand", on_delete=models.PROTECT, related_name="+")
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="payments")
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices, default=Kind.CHARGE)
    provider = models.CharField(_("provider"), max_length=20, default="sandbox")
    key = models.CharField(max_length=80)
    amount_fen = models.BigIntegerField(_("amount (fen)"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    provider_ref = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField()
    settled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["brand", "key"], name="payment_key_once_per_brand"),
            models.CheckConstraint(condition=models.Q(amount_fen__gt=0), name="payment_amount_positive"),
        ]


class ReturnRequest(models.Model):
    class Status(models.TextChoices):
        REQUESTED = "requested", _("Requested")
        REFUSED = "refused", _("Refused")
        RECEIVED = "received", _("Received and restocked")

    scope_rule: ClassVar[ScopeRule] = ScopeRule(
        region=("order__store__region_id", "order__fulfilments__store__region_id"),
        store=("order__store_id", "order__fulfilments__store_id"),
        own_store="order__fulfilments__store_id",
        own="order__guide_id",
        distinct=True,
    )

    brand = models.ForeignKey("org.Brand", on_delete=models.PROTECT, related_name="+")
    order = models.OneToOneField(Order, on_delete=models.PROTECT, related_name="return_request")
    reason = models.CharField(_("reason"), max_length=200)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.REQUESTED)
    refund_fen = models.BigIntegerField(_("refund (fen)"), default=0)
    requested_at = models.DateTimeField()
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.CharField(max_length=120, blank=True)


class Notification(models.Model):
    """A message about an order to the customer or to a store (the outbox the channel adapters send
    from; shown in the mall and on the store's screens)."""

    class Audience(models.TextChoices):
        CUSTOMER = "customer", _("Customer")
        STORE = "store", _("Store")

    scope_rule: ClassVar[ScopeRule] = ScopeRule(region="store__region_id", store="store_id", own_store="store_id")

    brand = models.ForeignKey("org.Brand", on_delete=models.PROTECT, related_name="+")
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="notifications")
    audience = models.CharField(max_length=8, choices=Audience.choices)
    customer = models.ForeignKey("members.Customer", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    store = models.ForeignKey("org.Store", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    kind = models.CharField(max_length=24)  # the order status or event it tells of
    created_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["store", "read_at"]), models.Index(fields=["customer", "created_at"])]


class Cart(models.Model):
    """A customer's cart in the mall (one per customer and brand)."""

    scope_rule: ClassVar[ScopeRule] = ScopeRule()

    brand = models.ForeignKey("org.Brand", on_delete=models.PROTECT, related_name="+")
    customer = models.ForeignKey("members.Customer", on_delete=models.CASCADE, related_name="+")
    store = models.ForeignKey("org.Store", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["brand", "customer"], name="one_cart_per_customer")]


class CartLine(models.Model):
    scope_rule: ClassVar[ScopeRule] = ScopeRule()

    cart = models.ForeignKey(Cart, on_delete=models.CASCADE, related_name="lines")
    sku = models.ForeignKey("catalog.Sku", on_delete=models.CASCADE, related_name="+")
    quantity = models.PositiveIntegerField(_("quantity"))
    added_at = models.DateTimeField()

    class Meta:
        ordering = ["added_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["cart", "sku"], name="cart_line_once_per_sku"),
            models.CheckConstraint(condition=models.Q(quantity__gt=0), name="cart_line_quantity_positive"),
        ]


class Address(models.Model):
    """A delivery address in the customer's address book (sealed like every personal field)."""

    scope_rule: ClassVar[ScopeRule] = ScopeRule()

    brand = models.ForeignKey("org.Brand", on_delete=models.PROTECT, related_name="+")
    customer = models.ForeignKey("members.Customer", on_delete=models.CASCADE, related_name="+")
    recipient_sealed = models.TextField()
    phone_sealed = models.TextField()
    address_sealed = models.TextField()
    city = models.CharField(_("city"), max_length=40)
    district = models.CharField(_("district"), max_length=40, blank=True)
    latitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    is_default = models.BooleanField(default=False)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-is_default", "-created_at"]
