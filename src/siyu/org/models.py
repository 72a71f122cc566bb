"""Organisation tables. Every business row carries its brand (row-level tenancy, ADR 0001)."""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from siyu.org.rules import LEVEL_OF_ROLE, ROLE_LABELS, ROLE_PERMS, Role
from siyu.platform.tenancy import Level, Scope, ScopeRule

code_validator = RegexValidator(
    r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$",
    _("Use 1–32 letters, digits, '-' or '_', starting with a letter or digit."),
)


contact_phone_validator = RegexValidator(
    r"^\+?[0-9][0-9 ()-]{4,18}[0-9]$",
    _("A phone number: digits, with optional +, spaces, dashes or brackets, e.g. 021-62881234."),
)


class Brand(models.Model):
    """The tenant: a chain brand. Nobody sees another brand's rows."""

    code = models.CharField(_("code"), max_length=32, unique=True, validators=[code_validator])
    name = models.CharField(_("name"), max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("brand")

    def __str__(self) -> str:
        return self.name


class Status(models.TextChoices):
    ACTIVE = "active", pgettext_lazy("status", "Active")
    INACTIVE = "inactive", pgettext_lazy("status", "Inactive")


class Region(models.Model):
    """A region or branch company (分公司) that oversees stores."""

    scope_rule: ClassVar[ScopeRule] = ScopeRule(region="id", store="stores__id", own_store="stores__id", distinct=True)

    brand = models.ForeignKey(Brand, on_delete=models.PROTECT, related_name="regions")
    code = models.CharField(_("code"), max_length=32, validators=[code_validator])
    name = models.CharField(_("name"), max_length=100)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.ACTIVE)

    class Meta:
        ordering = ["code"]
        constraints = [models.UniqueConstraint(fields=["brand", "code"], name="region_code_per_brand")]
        verbose_name = _("region")

    def __str__(self) -> str:
        return self.name


class Franchisee(models.Model):
    """The legal entity that owns stores and receives their settlement money: the brand's own
    company for direct stores, a dealer (经销商), an agent (代理商) or a franchisee (加盟商)."""

    class Kind(models.TextChoices):
        DIRECT = "direct", _("Direct (brand-operated)")
        DEALER = "dealer", _("Dealer")
        AGENT = "agent", _("Agent")
        FRANCHISEE = "franchisee", _("Franchisee")

    scope_rule: ClassVar[ScopeRule] = ScopeRule(region="stores__region_id", store="stores__id", distinct=True)

    brand = models.ForeignKey(Brand, on_delete=models.PROTECT, related_name="franchisees")
    code = models.CharField(_("code"), max_length=32, validators=[code_validator])
    name = models.CharField(_("legal name"), max_length=150)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices, default=Kind.FRANCHISEE)
    credit_code = models.CharField(
        _("unified social credit code"),
        max_length=18,
        blank=True,
        validators=[RegexValidator(r"^[0-9A-HJ-NPQRTUWXY]{18}$", _("18 characters: digits and capital letters"))],
    )
    contact_name = models.CharField(_("contact"), max_length=60, blank=True)
    contact_phone = models.CharField(
        _("contact phone"), max_length=20, blank=True, validators=[contact_phone_validator]
    )
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.ACTIVE)

    class Meta:
        ordering = ["code"]
        constraints = [models.UniqueConstraint(fields=["brand", "code"], name="franchisee_code_per_brand")]
        verbose_name = _("franchisee")

    def __str__(self) -> str:
        return self.name


class Store(models.Model):
    """A physical store: a page of the shared mall and a team compared with the others."""

    class State(models.TextChoices):
        OPEN = "open", _("Open")
        PAUSED = "paused", _("Paused")
        CLOSED = "closed", _("Closed")

    scope_rule: ClassVar[ScopeRule] = ScopeRule(region="region_id", store="id", own_store="id")

    brand = models.ForeignKey(Brand, on_delete=models.PROTECT, related_name="stores")
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="stores", verbose_name=_("region"))
    franchisee = models.ForeignKey(Franchisee, on_delete=models.PROTECT, related_name="stores", verbose_name=_("owner"))
    code = models.CharField(_("code"), max_length=32, validators=[code_validator])
    name = models.CharField(_("name"), max_length=100)
    city = models.CharField(_("city"), max_length=40, db_index=True)
    district = models.CharField(_("district"), max_length=40, blank=True)
    address = models.CharField(_("address"), max_length=200)
    latitude = models.DecimalField(
        _("latitude"),
        max_digits=9,
        decimal_places=6,
        validators=[MinValueValidator(3), MaxValueValidator(54)],
    )
    longitude = models.DecimalField(
        _("longitude"),
        max_digits=9,
        decimal_places=6,
        validators=[MinValueValidator(73), MaxValueValidator(136)],
    )
    opening_hours = models.CharField(_("opening hours"), max_length=11, default="10:00-22:00")
    phone = models.CharField(_("phone"), max_length=20, blank=True, validators=[contact_phone_validator])
    status = models.CharField(_("status"), max_length=16, choices=State.choices, default=State.OPEN)
    opened_on = models.DateField(_("opened on"), null=True, blank=True)

    class Meta:
        ordering = ["code"]
        constraints = [models.UniqueConstraint(fields=["brand", "code"], name="store_code_per_brand")]
        indexes = [models.Index(fields=["brand", "city"])]
        verbose_name = _("store")

    def __str__(self) -> str:
        return self.name


class StaffManager(BaseUserManager["Staff"]):
    def create_user(self, username: str, password: str | None = None, **extra: Any) -> Staff:
        staff = self.model(username=username, **extra)
        staff.set_password(password)
        staff.save(using=self._db)
        return staff


class Staff(AbstractBaseUser):
    """A member of the brand's staff; signs in with username or phone and a password."""

    class Employment(models.TextChoices):
        ACTIVE = "active", pgettext_lazy("employment", "Active")
        LEFT = "left", pgettext_lazy("employment", "Left")

    scope_rule: ClassVar[ScopeRule] = ScopeRule(region=("region_id", "store__region_id"), store="store_id", own="id")

    brand = models.ForeignKey(Brand, on_delete=models.PROTECT, related_name="staff")
    username = models.CharField(
        _("username"),
        max_length=40,
        unique=True,
        validators=[RegexValidator(r"^[A-Za-z0-9_.-]{3,40}$", _("3–40 letters, digits, '.', '-' or '_'."))],
    )
    phone = models.CharField(
        _("mobile"),
        max_length=11,
        unique=True,
        null=True,
        blank=True,
        validators=[RegexValidator(r"^1[3-9]\d{9}$", _("11 digits starting with 13–19, e.g. 13812345678."))],
    )
    name = models.CharField(pgettext_lazy("person", "name"), max_length=60)
    role = models.CharField(_("role"), max_length=20, choices=[(r.value, ROLE_LABELS[r]) for r in Role])
    region = models.ForeignKey(
        Region, on_delete=models.PROTECT, null=True, blank=True, related_name="staff", verbose_name=_("region")
    )
    store = models.ForeignKey(
        Store, on_delete=models.PROTECT, null=True, blank=True, related_name="staff", verbose_name=_("store")
    )
    employment = models.CharField(_("employment"), max_length=10, choices=Employment.choices, default=Employment.ACTIVE)
    joined_on = models.DateField(_("joined on"), null=True, blank=True)
    left_on = models.DateField(_("left on"), null=True, blank=True)
    is_active = models.BooleanField(default=True)  # Django's sign-in flag; False once she has left

    objects = StaffManager()

    USERNAME_FIELD = "username"
    REQUIRED_FIELDS = ["name"]

    class Meta:
        ordering = ["username"]
        indexes = [models.Index(fields=["brand", "role", "employment"])]
        verbose_name = _("staff member")
        verbose_name_plural = _("staff")

    def __str__(self) -> str:
        return f"{self.name} ({self.username})"

    @property
    def role_enum(self) -> Role:
        return Role(self.role)

    @property
    def scope(self) -> Scope:
        role = self.role_enum
        perms = ROLE_PERMS[role] if self.employment == self.Employment.ACTIVE else frozenset()
        region_id = self.region_id
        if role in (Role.STORE_MANAGER, Role.GUIDE) and self.store is not None:
            region_id = self.store.region_id
        return Scope(
            brand_id=self.brand_id,
            level=LEVEL_OF_ROLE[role],
            region_id=region_id,
            store_id=self.store_id,
            staff_id=self.pk,
            perms=perms,
            label=str(self),
        )


class Posting(models.Model):
    """Where a member of staff worked and when: the history of moves between stores."""

    scope_rule: ClassVar[ScopeRule] = ScopeRule(
        region=("region_id", "store__region_id"), store="store_id", own="staff_id"
    )

    brand = models.ForeignKey(Brand, on_delete=models.PROTECT)
    staff = models.ForeignKey(Staff, on_delete=models.PROTECT, related_name="postings")
    store = models.ForeignKey(Store, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    region = models.ForeignKey(Region, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["staff"], condition=models.Q(ended_at__isnull=True), name="one_open_posting_per_staff"
            )
        ]


class ApiToken(models.Model):
    """A token for a system (POS, ERP, callbacks). Only its hash is kept; the secret is shown once."""

    scope_rule: ClassVar[ScopeRule] = ScopeRule()  # HQ only

    brand = models.ForeignKey(Brand, on_delete=models.PROTECT, related_name="api_tokens")
    name = models.CharField(_("name"), max_length=80)
    prefix = models.CharField(max_length=12, db_index=True)
    key_hash = models.CharField(max_length=64, unique=True)
    store = models.ForeignKey(
        Store,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        verbose_name=_("limited to store"),
        help_text=_("A POS token can be limited to one store."),
    )
    perms = models.JSONField(_("permissions"), default=list)
    created_by = models.ForeignKey(Staff, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("API token")

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def scope(self) -> Scope:
        level = Level.STORE if self.store_id else Level.BRAND
        region_id = self.store.region_id if self.store is not None else None
        return Scope(
            brand_id=self.brand_id,
            level=level,
            region_id=region_id,
            store_id=self.store_id,
            staff_id=None,
            perms=frozenset(self.perms) if self.revoked_at is None else frozenset(),
            label=f"token:{self.name}",
        )
