"""Gold coins, the reward mall, leaderboards and benchmarks (ADR 0018).

Coins: ``CoinAccount.balance`` changes only together with a ``CoinEntry`` whose ``delta`` it adds
up (for every guide, ``balance = Σ delta``), through one conditional ``UPDATE`` that never takes it
below zero. Entries are never updated or deleted; each carries an idempotency key unique per brand.

Gifts: ``Gift.stock`` changes only together with a ``GiftMovement`` (``stock = Σ delta``), through
the same conditional update, so a gift is never redeemed more times than it is in stock.

Leaderboards: ``Score`` holds one running total per (brand, metric, period, level, subject);
``ScorePoint`` is the idempotency record of each scoring (``record`` adds a key's points once).
"""

from __future__ import annotations

from typing import ClassVar

from django.db import models
from django.utils.translation import gettext_lazy as _

from siyu.platform.tenancy import ScopeRule

OF_GUIDE = ScopeRule(region=("guide__region_id", "guide__store__region_id"), store="guide__store_id", own="guide_id")


class CoinAccount(models.Model):
    """A guide's balance, kept in step with her entries."""

    scope_rule: ClassVar[ScopeRule] = OF_GUIDE

    brand = models.ForeignKey("org.Brand", on_delete=models.PROTECT, related_name="+")
    guide = models.ForeignKey("org.Staff", on_delete=models.PROTECT, related_name="+")
    balance = models.BigIntegerField(_("balance"), default=0)
    updated_at = models.DateTimeField(_("updated at"))

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["brand", "guide"], name="one_coin_account_per_guide"),
            models.CheckConstraint(condition=models.Q(balance__gte=0), name="coin_balance_not_negative"),
        ]
        verbose_name = _("coin account")


class EntryKind(models.TextChoices):
    EARN = "earn", _("Earned")
    SPEND = "spend", _("Spent")
    RETURN = "return", _("Returned")
    REVERSAL = "reversal", _("Reversal")
    ADJUST = "adjust", _("Adjusted by HQ")


class CoinEntry(models.Model):
    """One change of one guide's coins. Never updated or deleted; a mistake is undone by a
    compensating entry (``reverses``)."""

    scope_rule: ClassVar[ScopeRule] = OF_GUIDE

    brand = models.ForeignKey("org.Brand", on_delete=models.PROTECT, related_name="+")
    guide = models.ForeignKey("org.Staff", on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(_("kind"), max_length=10, choices=EntryKind.choices)
    delta = models.BigIntegerField(_("coins"))
    balance_after = models.BigIntegerField(_("balance after"))
    key = models.CharField(max_length=160)
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    source_type = models.CharField(_("source"), max_length=40, blank=True)
    source_id = models.BigIntegerField(null=True, blank=True)
    reverses = models.OneToOneField("self", on_delete=models.PROTECT, null=True, blank=True, related_name="reversed_by")
    actor_label = models.CharField(max_length=120, blank=True)
    at = models.DateTimeField(_("at"))

    class Meta:
        ordering = ["-at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["brand", "key"], name="coin_entry_key_once_per_brand"),
            models.CheckConstraint(condition=~models.Q(delta=0), name="coin_entry_not_zero"),
        ]
        indexes = [models.Index(fields=["guide", "at"]), models.Index(fields=["brand", "source_type", "source_id"])]
        verbose_name = _("coin entry")


# ---- reward mall --------------------------------------------------------------------------------


class Gift(models.Model):
    scope_rule: ClassVar[ScopeRule] = ScopeRule(shared=True)

    brand = models.ForeignKey("org.Brand", on_delete=models.PROTECT, related_name="+")
    name = models.CharField(_("name"), max_length=80)
    description = models.CharField(_("description"), max_length=400, blank=True)
    cost = models.PositiveIntegerField(_("price in coins"))
    stock = models.IntegerField(_("in stock"), default=0)
    active = models.BooleanField(_("on offer"), default=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["cost", "pk"]
        constraints = [
            models.CheckConstraint(condition=models.Q(stock__gte=0), name="gift_stock_not_negative"),
            models.CheckConstraint(condition=models.Q(cost__gt=0), name="gift_cost_positive"),
            models.UniqueConstraint(fields=["brand", "name"], name="gift_name_once_per_brand"),
        ]
        verbose_name = _("gift")

    def __str__(self) -> str:
        return self.name


class GiftMovement(models.Model):
    """One change of a gift's stock (restock, redemption, return). Never updated or deleted."""

    scope_rule: ClassVar[ScopeRule] = ScopeRule()  # HQ only

    brand = models.ForeignKey("org.Brand", on_delete=models.PROTECT, related_name="+")
    gift = models.ForeignKey(Gift, on_delete=models.PROTECT, related_name="movements")
    delta = models.IntegerField(_("change"))
    key = models.CharField(max_length=160)
    note = models.CharField(_("note"), max_length=200, blank=True)
    actor_label = models.CharField(max_length=120, blank=True)
    at = models.DateTimeField(_("at"))

    class Meta:
        ordering = ["-at", "-id"]
        constraints = [models.UniqueConstraint(fields=["brand", "key"], name="gift_movement_key_once_per_brand")]


class Redemption(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("Awaiting approval")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")
        SHIPPED = "shipped", _("Shipped")
        RECEIVED = "received", _("Received")

    scope_rule: ClassVar[ScopeRule] = OF_GUIDE

    brand = models.ForeignKey("org.Brand", on_delete=models.PROTECT, related_name="+")
    guide = models.ForeignKey("org.Staff", on_delete=models.PROTECT, related_name="+")
    gift = models.ForeignKey(Gift, on_delete=models.PROTECT, related_name="redemptions")
    quantity = models.PositiveIntegerField(_("quantity"), default=1)
    coins = models.PositiveIntegerField(_("coins"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    key = models.CharField(max_length=120)
    note = models.CharField(_("note"), max_length=200, blank=True)
    tracking = models.CharField(_("tracking number"), max_length=80, blank=True)
    created_at = models.DateTimeField(_("requested at"))
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.CharField(max_length=120, blank=True)
    shipped_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["brand", "key"], name="redemption_key_once_per_brand"),
            models.CheckConstraint(condition=models.Q(quantity__gt=0), name="redemption_quantity_positive"),
        ]
        indexes = [models.Index(fields=["brand", "status", "created_at"])]
        verbose_name = _("redemption")


# ---- leaderboards -------------------------------------------------------------------------------


class Score(models.Model):
    """A running total: ``period`` is ``d:YYYY-MM-DD``, ``w:YYYY-MM-DD`` (the Monday),
    ``m:YYYY-MM`` or ``b:<board>``; ``level`` guide/store/region; ``subject_id`` that guide's, store's
    or region's id. ``store_id``/``region_id`` say where a guide's or store's row belongs (scoping and
    boards within a store or region). Rank = 1 + the number of higher scores (ties share a place)."""

    scope_rule: ClassVar[ScopeRule] = ScopeRule(region="region_id", store="store_id", own_store="store_id")

    brand = models.ForeignKey("org.Brand", on_delete=models.PROTECT, related_name="+", db_index=False)
    metric = models.CharField(max_length=40)
    period = models.CharField(max_length=80)
    level = models.CharField(max_length=6)
    subject_id = models.BigIntegerField()
    store_id = models.BigIntegerField(null=True)
    region_id = models.BigIntegerField(null=True)
    score = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["brand", "metric", "period", "level", "subject_id"], name="one_score_per_subject"
            )
        ]
        indexes = [
            models.Index(
                fields=["brand", "metric", "period", "level", "score", "subject_id"], name="score_rank_subject"
            ),
            models.Index(fields=["brand", "metric", "period", "level", "region_id", "score"], name="score_rank_region"),
        ]


class ScoreBand(models.Model):
    """How many guides of a whole-brand guide board (``level = 'guide'``, no store or region) stand
    in one band of scores: the kept rank structure of ADR 0018's amendment. With ``u = score + 2**62``,
    tier ``t`` groups the scores by ``u >> 8t``: tier 0 counts each exact score, tier 1 each run of
    256, ... tier 5 everything sharing ``u >> 40``. ``record`` moves a guide's count from her old
    bands to her new ones in the same transaction; a rank sums at most 255 sibling bands per tier.
    Rows whose count falls to 0 are deleted. (No ``CHECK (guides >= 0)``: SQLite checks it on the
    proposed row, before ``ON CONFLICT`` turns a decrement into an update; ``band_drift`` checks.)"""

    scope_rule: ClassVar[ScopeRule] = ScopeRule()

    brand = models.ForeignKey("org.Brand", on_delete=models.PROTECT, related_name="+", db_index=False)
    metric = models.CharField(max_length=40)
    period = models.CharField(max_length=80)
    tier = models.SmallIntegerField()
    band = models.BigIntegerField()
    guides = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["brand", "metric", "period", "tier", "band"], name="one_score_band")
        ]


class ScorePoint(models.Model):
    """That ``key`` was scored (points added once): the idempotency record of :func:`record`."""

    scope_rule: ClassVar[ScopeRule] = ScopeRule()

    brand = models.ForeignKey("org.Brand", on_delete=models.PROTECT, related_name="+", db_index=False)
    key = models.CharField(max_length=160)
    metric = models.CharField(max_length=40)
    guide_id = models.BigIntegerField()
    points = models.BigIntegerField()
    at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["brand", "key"], name="score_point_key_once_per_brand")]


# ---- benchmarks (标杆) ---------------------------------------------------------------------------


class BenchmarkRule(models.Model):
    class Scope(models.TextChoices):
        BRAND = "brand", _("Whole brand")
        REGION = "region", _("Each region")

    scope_rule: ClassVar[ScopeRule] = ScopeRule()  # HQ only

    brand = models.ForeignKey("org.Brand", on_delete=models.PROTECT, related_name="+")
    title = models.CharField(_("title"), max_length=60)
    metric = models.CharField(_("metric"), max_length=40)
    scope = models.CharField(_("scope"), max_length=6, choices=Scope.choices, default=Scope.BRAND)
    how_many = models.PositiveSmallIntegerField(_("how many"), default=3)
    minimum = models.BigIntegerField(_("minimum score"), default=1)
    award_coins = models.PositiveIntegerField(_("coins awarded"), default=0)
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.UniqueConstraint(fields=["brand", "title"], name="benchmark_rule_title_once"),
            models.CheckConstraint(condition=models.Q(how_many__gte=1), name="benchmark_rule_picks_some"),
        ]
        verbose_name = _("benchmark rule")

    def __str__(self) -> str:
        return self.title


class Benchmark(models.Model):
    """A guide picked by a rule for a day; her notes and short video are shown on the wall."""

    scope_rule: ClassVar[ScopeRule] = ScopeRule(shared=True)

    brand = models.ForeignKey("org.Brand", on_delete=models.PROTECT, related_name="+")
    rule = models.ForeignKey(BenchmarkRule, on_delete=models.PROTECT, related_name="picks")
    day = models.DateField(_("day"))
    guide = models.ForeignKey("org.Staff", on_delete=models.PROTECT, related_name="+")
    region_id = models.BigIntegerField(null=True)
    place = models.PositiveSmallIntegerField(_("place"))
    score = models.BigIntegerField(_("score"))
    coins = models.PositiveIntegerField(_("coins awarded"), default=0)
    notes = models.TextField(_("method notes"), blank=True)
    video = models.CharField(max_length=200, blank=True)  # a name under MEDIA_ROOT
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-day", "rule_id", "place"]
        constraints = [models.UniqueConstraint(fields=["rule", "day", "guide"], name="benchmark_once_per_rule_day")]
        indexes = [models.Index(fields=["brand", "day"])]
        verbose_name = _("benchmark")
