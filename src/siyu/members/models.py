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

    # No single-column index on brand, store or guide: every read is scoped by brand first (restrict),
    # and the (brand, store, joined_at) / (brand, guide, joined_at) indexes below serve it (ADR 0008).
    brand = models.ForeignKey("org.Brand", on_delete=models.PROTECT, related_name="+", db_index=False)
    store = models.ForeignKey(
        "org.Store",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("store"),
        db_index=False,
    )
    guide = models.ForeignKey(
        "org.Staff",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("guide"),
        db_index=False,
    )
    phone_sealed = models.TextField(blank=True)
    phone_hash = models.CharField(max_length=64, blank=True)
    name_sealed = models.TextField(blank=True)
    gender = models.CharField(_("gender"), max_length=1, blank=True, choices=[("f", _("Female")), ("m", _("Male"))])
    birthday = models.DateField(_("birthday"), null=True, blank=True)
    source = models.CharField(_("source"), max_length=20, choices=Source.choices, default=Source.STORE_CODE)
    tier = models.CharField(_("tier"), max_length=20, default="regular")
    lifecycle = models.CharField(_("lifecycle"), max_length=12, choices=Lifecycle.choices, default=Lifecycle.NEW)
    joined_at = models.DateTimeField(_("joined at"))  # indexed with the brand, below
    last_purchase_at = models.DateTimeField(_("last purchase"), null=True, blank=True)
    orders_count = models.PositiveIntegerField(_("orders"), default=0)
    total_spent_fen = models.BigIntegerField(_("total spent (fen)"), default=0)
    erased_at = models.DateTimeField(null=True, blank=True)
    # --- identity & binding (customers issue) ---
    name_hash = models.CharField(max_length=64, blank=True, db_index=True)  # keyed hash of the full name
    # Rarely set: indexed by the partial indexes below, which cost nothing for the rows without them.
    merged_into = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="absorbed",
        verbose_name=_("merged into"),
        db_index=False,
    )
    first_code = models.ForeignKey(
        "Code",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("first code"),
        db_index=False,
    )
    bound_at = models.DateTimeField(_("bound at"), null=True, blank=True)
    protected_until = models.DateTimeField(_("binding protected until"), null=True, blank=True)
    preferences = models.JSONField(_("preferences"), default=dict, blank=True)
    # --- knowing the customer ---
    rfm_r = models.PositiveSmallIntegerField(_("R score"), default=0)
    rfm_f = models.PositiveSmallIntegerField(_("F score"), default=0)
    rfm_m = models.PositiveSmallIntegerField(_("M score"), default=0)
    lifecycle_changed_at = models.DateTimeField(null=True, blank=True)
    tier_changed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-joined_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["brand", "phone_hash"], condition=~models.Q(phone_hash=""), name="one_customer_per_phone"
            )
        ]
        indexes = [
            # a store's or a guide's customers, newest first, read in index order (member-search, ADR 0008)
            models.Index(fields=["brand", "joined_at"], name="customer_brand_joined"),  # the HQ list, in order
            models.Index(fields=["brand", "store", "joined_at"]),
            models.Index(fields=["brand", "guide", "joined_at"]),
            models.Index(fields=["brand", "lifecycle"]),
            models.Index(fields=["brand", "tier"]),
            models.Index(fields=["brand", "source"]),
            models.Index(
                fields=["merged_into"], condition=models.Q(merged_into__isnull=False), name="customer_merged_into"
            ),
            models.Index(
                fields=["first_code"], condition=models.Q(first_code__isnull=False), name="customer_first_code"
            ),
        ]
        verbose_name = _("customer")

    def __str__(self) -> str:
        return f"customer #{self.pk}"


# --- Identity graph ------------------------------------------------------------------------------
THROUGH_CUSTOMER = ScopeRule(region="customer__store__region_id", store="customer__store_id", own="customer__guide_id")


class IdentityKind(models.TextChoices):
    PHONE = "phone", _("Mobile number")
    UNIONID = "unionid", _("WeChat unionid")
    OPENID = "openid", _("WeChat openid")
    WECOM = "wecom", _("WeCom external contact")
    POS_CARD = "pos_card", _("POS member card")
    APP = "app", _("App account")


class Identity(models.Model):
    """One identifier of a customer at one touchpoint. ``(brand, kind, app_id, key)`` is unique, so
    an identity never points to two customers. For a phone, ``key`` is the keyed hash (ADR 0005).
    ``origin`` is the customer the identity was first attached to: unmerging gives it back."""

    scope_rule: ClassVar[ScopeRule] = THROUGH_CUSTOMER

    # brand: the unique (brand, kind, app_id, key) index leads with it; customer: Meta.indexes
    brand = models.ForeignKey("org.Brand", on_delete=models.PROTECT, related_name="+", db_index=False)
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="identities", db_index=False)
    origin = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(_("kind"), max_length=12, choices=IdentityKind.choices)
    app_id = models.CharField(_("app"), max_length=64, blank=True, help_text=_("For an openid: which app issued it."))
    key = models.CharField(max_length=128)
    verified = models.BooleanField(_("verified"), default=False)
    source = models.CharField(_("source"), max_length=20, blank=True)
    created_at = models.DateTimeField(_("added at"))

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["brand", "kind", "app_id", "key"], name="identity_points_to_one_customer")
        ]
        indexes = [models.Index(fields=["customer"])]
        verbose_name = _("identity")
        verbose_name_plural = _("identities")

    def __str__(self) -> str:
        return f"{self.kind}:{self.app_id}"


class Merge(models.Model):
    """A merge of ``absorbed`` into ``survivor``; undone by setting ``undone_at``. Histories are
    never moved: reads gather the survivor and everything merged into it."""

    class Rule(models.TextChoices):
        UNIONID = "unionid", _("Same unionid")
        PHONE = "phone", _("Same verified phone")
        MANUAL = "manual", _("Manual, by HQ")

    scope_rule: ClassVar[ScopeRule] = ScopeRule()  # HQ only

    brand = models.ForeignKey("org.Brand", on_delete=models.PROTECT, related_name="+")
    survivor = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="merges_kept")
    absorbed = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="merges_absorbed")
    rule = models.CharField(_("rule"), max_length=10, choices=Rule.choices)
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    moved_identities = models.JSONField(default=list)  # identity ids moved to the survivor
    absorbed_guide_id = models.BigIntegerField(null=True, blank=True)  # to restore on unmerge
    absorbed_store_id = models.BigIntegerField(null=True, blank=True)
    actor_id = models.BigIntegerField(null=True, blank=True)
    actor_label = models.CharField(max_length=120)
    at = models.DateTimeField()
    undone_at = models.DateTimeField(null=True, blank=True)
    undone_by = models.CharField(max_length=120, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["absorbed"], condition=models.Q(undone_at__isnull=True), name="absorbed_once_at_a_time"
            )
        ]


# --- Codes and touches ------------------------------------------------------------------------
class CodeKind(models.TextChoices):
    STORE = "store", _("Store code")
    GUIDE = "guide", _("Guide code")
    CAMPAIGN = "campaign", _("Campaign code (渠道活码)")
    PRODUCT = "product", _("Product code (一物一码)")
    SHARE = "share", _("Share link")
    LIVE = "live", _("Live session")
    POS = "pos", _("Offline POS")


class Code(models.Model):
    """A scannable code or link. Scanning ``/c/<token>`` finds or creates the customer, binds her per
    the brand's rules and records the touch."""

    scope_rule: ClassVar[ScopeRule] = ScopeRule(
        region="store__region_id", store="store_id", own_store="store_id", own="guide_id"
    )

    brand = models.ForeignKey("org.Brand", on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(_("kind"), max_length=10, choices=CodeKind.choices)
    token = models.CharField(max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=100)
    store = models.ForeignKey("org.Store", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    guide = models.ForeignKey("org.Staff", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    campaign = models.CharField(_("campaign"), max_length=60, blank=True)
    sku_code = models.CharField(_("SKU code"), max_length=40, blank=True)
    serial = models.CharField(_("item serial"), max_length=40, blank=True)  # one code per item
    shared_by = models.ForeignKey(
        Customer, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )  # a share link of a customer (referral)
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    scans = models.PositiveIntegerField(_("scans"), default=0)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["brand", "kind"])]
        constraints = [
            # one code per item (一物一码): a product code's (SKU, serial) is the brand's once
            models.UniqueConstraint(
                fields=["brand", "sku_code", "serial"],
                condition=models.Q(kind="product") & ~models.Q(serial=""),
                name="one_code_per_item",
            )
        ]
        verbose_name = _("code")

    def __str__(self) -> str:
        return self.name


class TouchKind(models.TextChoices):
    SCAN = "scan", _("Scanned a code")
    WECOM_ADD = "wecom_add", _("Added the guide on WeCom")
    PURCHASE = "purchase", _("Purchase")
    SHARE_VISIT = "share_visit", _("Opened a share link")
    LIVE = "live", _("Live session")
    POS = "pos", _("In-store POS")
    IMPORT = "import", _("Imported")
    REGISTER = "register", _("Registered")


class Touch(models.Model):
    """A moment the brand reached the customer or she reached it. The first one is her source."""

    scope_rule: ClassVar[ScopeRule] = THROUGH_CUSTOMER

    brand = models.ForeignKey("org.Brand", on_delete=models.PROTECT, related_name="+")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="touches")
    kind = models.CharField(_("kind"), max_length=12, choices=TouchKind.choices)
    code = models.ForeignKey(Code, on_delete=models.SET_NULL, null=True, blank=True, related_name="touches")
    store = models.ForeignKey("org.Store", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    guide = models.ForeignKey("org.Staff", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    campaign = models.CharField(max_length=60, blank=True)
    at = models.DateTimeField(db_index=True)
    properties = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["customer", "at"])]


# --- Binding to guides ------------------------------------------------------------------------
class BindingSource(models.TextChoices):
    STORE_CODE = "store_code", _("Scanned a store code")
    GUIDE_CODE = "guide_code", _("Scanned a guide code")
    WECOM = "wecom", _("Added the guide on WeCom")
    FIRST_PURCHASE = "first_purchase", _("First purchase with the guide")
    HQ = "hq", _("Assigned by HQ")
    TRANSFER = "transfer", _("In-service transfer")
    INHERITANCE = "inheritance", _("Inherited from a guide who left")
    IMPORT = "import", _("Import")
    MERGE = "merge", _("Merge / unmerge")


class Binding(models.Model):
    """The history of a customer's primary guide and store: one row per change, append-only."""

    scope_rule: ClassVar[ScopeRule] = THROUGH_CUSTOMER

    # Read by customer (the (customer, at) index), guide or store; never by brand alone. The previous
    # guide and the code are rarely set: partial indexes.
    brand = models.ForeignKey("org.Brand", on_delete=models.PROTECT, related_name="+", db_index=False)
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="bindings", db_index=False)
    guide = models.ForeignKey("org.Staff", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    store = models.ForeignKey("org.Store", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    previous_guide = models.ForeignKey(
        "org.Staff", on_delete=models.PROTECT, null=True, blank=True, related_name="+", db_index=False
    )
    source = models.CharField(_("source"), max_length=16, choices=BindingSource.choices)
    code = models.ForeignKey(Code, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", db_index=False)
    actor_label = models.CharField(max_length=120, blank=True)
    at = models.DateTimeField()

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["customer", "at"]),
            models.Index(
                fields=["previous_guide"],
                condition=models.Q(previous_guide__isnull=False),
                name="binding_previous_guide",
            ),
            models.Index(fields=["code"], condition=models.Q(code__isnull=False), name="binding_code"),
        ]


class SecondaryGuide(models.Model):
    scope_rule: ClassVar[ScopeRule] = ScopeRule(
        region="customer__store__region_id", store="customer__store_id", own=("customer__guide_id", "guide_id")
    )

    brand = models.ForeignKey("org.Brand", on_delete=models.PROTECT, related_name="+")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="secondary_guides")
    guide = models.ForeignKey("org.Staff", on_delete=models.PROTECT, related_name="+")
    since = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["customer", "guide"], name="secondary_guide_once")]


class BindingPolicy(models.Model):
    """What happens when a bound customer is reached by another guide (one row per brand)."""

    class Conflict(models.TextChoices):
        FIRST_COME = "first_come", _("First come: she stays with her guide")
        LAST_TOUCH = "last_touch", _("Last touch: she moves to the guide who reached her")

    scope_rule: ClassVar[ScopeRule] = ScopeRule()

    brand = models.OneToOneField("org.Brand", on_delete=models.PROTECT, related_name="+")
    conflict = models.CharField(
        _("conflict rule"), max_length=12, choices=Conflict.choices, default=Conflict.FIRST_COME
    )
    protection_days = models.PositiveIntegerField(
        _("protection period (days)"),
        default=30,
        help_text=_("During this period after a binding, no other guide can take the customer."),
    )
    add_secondary = models.BooleanField(
        _("keep the other guide as secondary"),
        default=True,
        help_text=_("When the customer stays, the guide who reached her becomes a secondary guide."),
    )
    receiver_limit = models.PositiveIntegerField(
        _("customers per guide at most"),
        default=50000,
        help_text=_("WeCom's limit of external contacts per member of staff."),
    )
    # Identity rule of the brand's POS (ADR 0007, amendment): a number typed at the till proves nothing
    # unless the brand declares that its POS confirms every number by an SMS code before sending it.
    pos_phones_verified = models.BooleanField(
        _("POS phone numbers are verified"),
        default=False,
        help_text=_(
            "Tick only if your POS confirms every mobile number by an SMS code before it sends a sale. "
            "Then a POS sale finds the customer by her number; otherwise the number is kept unverified "
            "and only her member card finds her."
        ),
    )


# --- Transfers (WeCom rules) ------------------------------------------------------------------
class TransferKind(models.TextChoices):
    IN_SERVICE = "in_service", _("In-service transfer")
    INHERITANCE = "inheritance", _("Inheritance (guide left)")


class TransferStatus(models.TextChoices):
    WAITING = "waiting", _("Waiting for takeover")
    DONE = "done", _("Done")
    REFUSED = "refused", _("Refused by the customer")
    RECEIVER_AT_LIMIT = "receiver_full", _("Receiver at limit")


class Transfer(models.Model):
    """One customer handed from one guide to another. Waiting transfers are taken over 24 hours after
    the request unless the customer refuses (in-service only). See ADR 0007."""

    scope_rule: ClassVar[ScopeRule] = ScopeRule(
        region="customer__store__region_id", store="customer__store_id", own=("from_guide_id", "to_guide_id")
    )

    brand = models.ForeignKey("org.Brand", on_delete=models.PROTECT, related_name="+")
    batch = models.CharField(max_length=32, db_index=True)  # one request of up to 100 customers
    kind = models.CharField(_("kind"), max_length=12, choices=TransferKind.choices)
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="transfers")
    from_guide = models.ForeignKey("org.Staff", on_delete=models.PROTECT, related_name="+")
    to_guide = models.ForeignKey("org.Staff", on_delete=models.PROTECT, related_name="+")
    status = models.CharField(
        _("status"), max_length=14, choices=TransferStatus.choices, default=TransferStatus.WAITING
    )
    requested_at = models.DateTimeField()
    takeover_at = models.DateTimeField()
    decided_at = models.DateTimeField(null=True, blank=True)
    actor_label = models.CharField(max_length=120)

    class Meta:
        ordering = ["-requested_at", "-id"]
        indexes = [
            models.Index(fields=["brand", "status", "takeover_at"]),
            models.Index(fields=["customer", "requested_at"]),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["customer"], condition=models.Q(status="waiting"), name="one_waiting_transfer_per_customer"
            )
        ]


# --- Tags, notes, consent ---------------------------------------------------------------------
class TagGroup(models.Model):
    scope_rule: ClassVar[ScopeRule] = ScopeRule(shared=True)

    brand = models.ForeignKey("org.Brand", on_delete=models.PROTECT, related_name="+")
    name = models.CharField(_("name"), max_length=40)
    exclusive = models.BooleanField(_("one tag at a time"), default=False)
    guides_may_tag = models.BooleanField(_("guides may use these tags"), default=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["brand", "name"], name="tag_group_name_per_brand")]

    def __str__(self) -> str:
        return self.name


class Tag(models.Model):
    scope_rule: ClassVar[ScopeRule] = ScopeRule(shared=True)

    brand = models.ForeignKey("org.Brand", on_delete=models.PROTECT, related_name="+")
    group = models.ForeignKey(TagGroup, on_delete=models.PROTECT, related_name="tags")
    name = models.CharField(_("name"), max_length=40)
    color = models.CharField(_("colour"), max_length=7, default="#4f6bed")

    class Meta:
        ordering = ["group__name", "name"]
        constraints = [models.UniqueConstraint(fields=["group", "name"], name="tag_name_per_group")]

    def __str__(self) -> str:
        return self.name


class CustomerTag(models.Model):
    scope_rule: ClassVar[ScopeRule] = THROUGH_CUSTOMER

    # (customer, tag) is unique and (tag, customer) indexed: no single-column index is needed
    brand = models.ForeignKey("org.Brand", on_delete=models.PROTECT, related_name="+", db_index=False)
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="tag_links", db_index=False)
    tag = models.ForeignKey(Tag, on_delete=models.PROTECT, related_name="links", db_index=False)
    added_by_label = models.CharField(max_length=120, blank=True)
    source = models.CharField(max_length=10, default="manual")  # manual, bulk, import, rule
    at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["customer", "tag"], name="tag_once_per_customer")]
        indexes = [models.Index(fields=["tag", "customer"])]


class Note(models.Model):
    """A guide's note or follow-up about a customer. The text is sealed: notes often hold personal
    details, and erasure must be able to remove them."""

    class Kind(models.TextChoices):
        NOTE = "note", _("Note")
        FOLLOW_UP = "follow_up", _("Follow-up")

    scope_rule: ClassVar[ScopeRule] = THROUGH_CUSTOMER

    brand = models.ForeignKey("org.Brand", on_delete=models.PROTECT, related_name="+")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="notes")
    author = models.ForeignKey("org.Staff", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.NOTE)
    text_sealed = models.TextField()
    due_on = models.DateField(_("due on"), null=True, blank=True)
    done_at = models.DateTimeField(_("done at"), null=True, blank=True)
    at = models.DateTimeField()

    class Meta:
        ordering = ["-at", "-id"]


class Channel(models.TextChoices):
    WECOM = "wecom", _("WeCom")
    SMS = "sms", _("SMS")
    MINI_PROGRAM = "mini_program", _("Mini-program messages")


class Consent(models.Model):
    """Append-only consent history per channel; the latest row of a channel is in force."""

    scope_rule: ClassVar[ScopeRule] = THROUGH_CUSTOMER

    # read by customer: the (customer, channel, at) index
    brand = models.ForeignKey("org.Brand", on_delete=models.PROTECT, related_name="+", db_index=False)
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="consents", db_index=False)
    channel = models.CharField(_("channel"), max_length=14, choices=Channel.choices)
    granted = models.BooleanField(_("granted"))
    source = models.CharField(_("source"), max_length=40)
    at = models.DateTimeField()

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["customer", "channel", "at"])]


# --- Lifecycle, tiers -------------------------------------------------------------------------
class LifecyclePolicy(models.Model):
    """Thresholds HQ sets for lifecycle stages (days since joining / since the last purchase)."""

    scope_rule: ClassVar[ScopeRule] = ScopeRule()

    brand = models.OneToOneField("org.Brand", on_delete=models.PROTECT, related_name="+")
    new_days = models.PositiveIntegerField(_("new for (days after joining)"), default=30)
    dormant_days = models.PositiveIntegerField(_("dormant after (days without purchase)"), default=90)
    churned_days = models.PositiveIntegerField(_("churned after (days without purchase)"), default=180)


class TierLevel(models.Model):
    scope_rule: ClassVar[ScopeRule] = ScopeRule(shared=True)

    brand = models.ForeignKey("org.Brand", on_delete=models.PROTECT, related_name="+")
    code = models.CharField(_("code"), max_length=20)
    name = models.CharField(_("name"), max_length=40)
    rank = models.PositiveSmallIntegerField(_("rank"))
    min_spend_fen = models.BigIntegerField(_("spend in the window at least (fen)"), default=0)

    class Meta:
        ordering = ["rank"]
        constraints = [
            models.UniqueConstraint(fields=["brand", "code"], name="tier_code_per_brand"),
            models.UniqueConstraint(fields=["brand", "rank"], name="tier_rank_per_brand"),
        ]

    def __str__(self) -> str:
        return self.name


class TierPolicy(models.Model):
    class Downgrade(models.TextChoices):
        NEVER = "never", _("Never downgrade")
        IMMEDIATE = "immediate", _("Downgrade as soon as spend falls")
        GRACE = "grace", _("Downgrade after a grace period")

    scope_rule: ClassVar[ScopeRule] = ScopeRule()

    brand = models.OneToOneField("org.Brand", on_delete=models.PROTECT, related_name="+")
    window_days = models.PositiveIntegerField(_("rolling window (days)"), default=365)
    downgrade = models.CharField(_("downgrade"), max_length=10, choices=Downgrade.choices, default=Downgrade.GRACE)
    grace_days = models.PositiveIntegerField(_("grace period (days)"), default=30)


class TierChange(models.Model):
    scope_rule: ClassVar[ScopeRule] = THROUGH_CUSTOMER

    brand = models.ForeignKey("org.Brand", on_delete=models.PROTECT, related_name="+")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="tier_changes")
    from_tier = models.CharField(max_length=20)
    to_tier = models.CharField(max_length=20)
    reason = models.CharField(max_length=120)
    at = models.DateTimeField()

    class Meta:
        ordering = ["-at", "-id"]


# --- Imports ----------------------------------------------------------------------------------
class ImportRun(models.Model):
    scope_rule: ClassVar[ScopeRule] = ScopeRule()  # HQ only

    class Status(models.TextChoices):
        CHECKED = "checked", _("Dry run checked")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    brand = models.ForeignKey("org.Brand", on_delete=models.PROTECT, related_name="+")
    file_name = models.CharField(max_length=200)
    file_sha256 = models.CharField(max_length=64)
    dry_run = models.BooleanField(default=True)
    skip_bad = models.BooleanField(default=False)  # a real run that skips bad rows instead of refusing
    status = models.CharField(max_length=10, choices=Status.choices)
    rows_total = models.PositiveIntegerField(default=0)
    rows_added = models.PositiveIntegerField(default=0)
    rows_unchanged = models.PositiveIntegerField(default=0)
    rows_bad = models.PositiveIntegerField(default=0)
    rows_done = models.PositiveIntegerField(default=0)  # progress of a real run, committed with each batch
    errors = models.JSONField(default=list)  # [{"line", "column", "reason"}], the first 1,000
    notices = models.JSONField(default=list)  # e.g. "read as GBK", "columns ignored"
    message = models.TextField(blank=True)  # why a run failed or was refused
    actor_label = models.CharField(max_length=120)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return self.file_name
