"""PK contests and the performance feed.

A :class:`Contest` is designed by HQ (draft), started (running: its entrants are frozen and every
qualifying event or finished task scores), and settled (its results copied into
:class:`ContestResult` and never changed again). Scores are append-only rows with a dedupe key that
is unique per contest (:class:`ContestScore`): the key is what makes a replayed event score once and
what caps a customer at one point a day. :class:`ContestTally` keeps each guide's and each team's
points per day in step, under a row lock, so a target is seen crossed exactly once;
:class:`ContestReward` is the coins paid for it (one row per target, subject, day and guide).
"""

from __future__ import annotations

import uuid
from typing import ClassVar

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from siyu.platform.tenancy import ScopeRule

# Contests are the brand's own competitions: every viewer of the brand may read their boards
# (a ranking shows the names of the others); who may design, start or settle is a permission.
SHARED = ScopeRule(shared=True)


class Metric(models.TextChoices):
    SALES = "sales_fen", _("Attributed sales")
    FANS = "new_fans", _("New fans")
    FORWARDS = "forwards", _("Forwards")
    CONVERSIONS = "conversions", _("Conversions")
    TASKS = "tasks_done", _("Tasks done")


class Contest(models.Model):
    class Kind(models.TextChoices):
        INDIVIDUAL = "individual", _("Individual PK")
        TEAM = "team", _("Team PK")

    class TeamBy(models.TextChoices):
        REGION = "region", _("Branch companies")
        STORE = "store", _("Stores")
        CUSTOM = "custom", _("Custom groups")

    class State(models.TextChoices):
        DRAFT = "draft", pgettext_lazy("contest", "Draft")
        RUNNING = "running", pgettext_lazy("contest", "Running")
        SETTLED = "settled", pgettext_lazy("contest", "Settled")

    scope_rule: ClassVar[ScopeRule] = SHARED

    brand = models.ForeignKey("org.Brand", on_delete=models.PROTECT, related_name="+")
    name = models.CharField(_("name"), max_length=80)
    description = models.TextField(_("description"), blank=True, max_length=2000)
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices, default=Kind.INDIVIDUAL)
    team_by = models.CharField(_("teams"), max_length=8, choices=TeamBy.choices, blank=True)
    metric = models.CharField(_("metric"), max_length=16, choices=Metric.choices)
    starts_on = models.DateField(_("first day"))
    ends_on = models.DateField(_("last day"))
    # Who takes part: guides of these regions / stores (both empty: the whole brand).
    region_ids = models.JSONField(default=list, blank=True)
    store_ids = models.JSONField(default=list, blank=True)
    state = models.CharField(_("state"), max_length=8, choices=State.choices, default=State.DRAFT)
    created_at = models.DateTimeField(_("created at"))
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    settled_at = models.DateTimeField(_("settled at"), null=True, blank=True)

    class Meta:
        ordering = ["-starts_on", "-id"]
        indexes = [models.Index(fields=["brand", "state"])]
        constraints = [
            models.CheckConstraint(condition=models.Q(ends_on__gte=models.F("starts_on")), name="contest_days_ordered")
        ]
        verbose_name = _("contest")

    def __str__(self) -> str:
        return self.name

    @property
    def board(self) -> str:
        """The contest's board and metric in the leaderboards (``incentives``)."""
        return f"contest:{self.pk}"


class ContestTeam(models.Model):
    """A team of a team PK: a branch company, a store or a custom group (``member_ids``)."""

    scope_rule: ClassVar[ScopeRule] = SHARED

    brand = models.ForeignKey("org.Brand", on_delete=models.PROTECT, related_name="+")
    contest = models.ForeignKey(Contest, on_delete=models.CASCADE, related_name="teams")
    name = models.CharField(_("name"), max_length=60)
    region_id = models.BigIntegerField(null=True, blank=True)
    store_id = models.BigIntegerField(null=True, blank=True)
    member_ids = models.JSONField(default=list, blank=True)  # custom groups: the guides chosen

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["contest", "name"], name="contest_team_name_once")]
        verbose_name = _("team")

    def __str__(self) -> str:
        return self.name


class ContestTarget(models.Model):
    """A daily target: whoever (a guide, or a team) reaches ``threshold`` points in one day is paid
    ``coins`` at that moment (for a team: every member of it)."""

    class Level(models.TextChoices):
        GUIDE = "guide", _("Each guide")
        TEAM = "team", _("Each team")

    scope_rule: ClassVar[ScopeRule] = SHARED

    brand = models.ForeignKey("org.Brand", on_delete=models.PROTECT, related_name="+")
    contest = models.ForeignKey(Contest, on_delete=models.CASCADE, related_name="targets")
    level = models.CharField(_("for"), max_length=6, choices=Level.choices, default=Level.GUIDE)
    threshold = models.BigIntegerField(_("daily target"))
    coins = models.PositiveIntegerField(_("coins"))

    class Meta:
        ordering = ["level", "threshold", "id"]
        constraints = [
            models.UniqueConstraint(fields=["contest", "level", "threshold"], name="contest_target_once"),
            models.CheckConstraint(condition=models.Q(threshold__gt=0), name="contest_target_positive"),
            models.CheckConstraint(condition=models.Q(coins__gt=0), name="contest_target_pays"),
        ]
        verbose_name = _("daily target")


class ContestEntrant(models.Model):
    """A guide taking part, frozen when the contest starts (with her team, store and region then)."""

    scope_rule: ClassVar[ScopeRule] = SHARED

    brand = models.ForeignKey("org.Brand", on_delete=models.PROTECT, related_name="+")
    contest = models.ForeignKey(Contest, on_delete=models.CASCADE, related_name="entrants")
    guide_id = models.BigIntegerField()
    name = models.CharField(max_length=60)
    team = models.ForeignKey(ContestTeam, on_delete=models.CASCADE, null=True, blank=True, related_name="entrants")
    store_id = models.BigIntegerField(null=True, blank=True)
    region_id = models.BigIntegerField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["contest", "guide_id"], name="contest_entrant_once")]
        indexes = [models.Index(fields=["brand", "guide_id"])]


class ContestScore(models.Model):
    """Points scored (negative for a refund). Append-only; ``dedupe`` is unique per contest."""

    scope_rule: ClassVar[ScopeRule] = SHARED

    brand = models.ForeignKey("org.Brand", on_delete=models.PROTECT, related_name="+")
    contest = models.ForeignKey(Contest, on_delete=models.CASCADE, related_name="scores")
    guide_id = models.BigIntegerField()
    team_id = models.BigIntegerField(null=True, blank=True)
    day = models.DateField()
    points = models.BigIntegerField()
    dedupe = models.CharField(max_length=160)
    source = models.CharField(max_length=80)  # the event id, or "task:<assignment>"
    customer_id = models.BigIntegerField(null=True, blank=True)
    order_ref = models.CharField(max_length=64, blank=True)  # sales: the order, so a refund finds it
    at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["contest", "dedupe"], name="contest_score_once")]
        indexes = [
            models.Index(fields=["contest", "order_ref"]),
            models.Index(fields=["contest", "guide_id", "day"]),
        ]


class ContestTally(models.Model):
    """A guide's (``subject`` "g") or a team's ("t") points on one day, kept in step with the
    scores in the same transaction, under the row's lock."""

    scope_rule: ClassVar[ScopeRule] = SHARED

    brand = models.ForeignKey("org.Brand", on_delete=models.PROTECT, related_name="+")
    contest = models.ForeignKey(Contest, on_delete=models.CASCADE, related_name="tallies")
    subject = models.CharField(max_length=1)
    subject_id = models.BigIntegerField()
    day = models.DateField()
    points = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["contest", "subject", "subject_id", "day"], name="contest_tally_once")
        ]


class ContestReward(models.Model):
    """Coins paid to one guide for a daily target reached (by her, or by her team). One row per
    target, subject, day and guide; the coin ledger's key is ``key``."""

    scope_rule: ClassVar[ScopeRule] = ScopeRule(
        region="region_id", store="store_id", own_store="store_id", own="guide_id"
    )

    brand = models.ForeignKey("org.Brand", on_delete=models.PROTECT, related_name="+")
    contest = models.ForeignKey(Contest, on_delete=models.CASCADE, related_name="rewards")
    target = models.ForeignKey(ContestTarget, on_delete=models.PROTECT, related_name="+")
    subject = models.CharField(max_length=1)
    subject_id = models.BigIntegerField()
    day = models.DateField()
    guide_id = models.BigIntegerField()
    store_id = models.BigIntegerField(null=True, blank=True)
    region_id = models.BigIntegerField(null=True, blank=True)
    coins = models.PositiveIntegerField()
    key = models.CharField(max_length=120)
    at = models.DateTimeField()

    class Meta:
        ordering = ["-at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["contest", "target", "subject", "subject_id", "day", "guide_id"], name="contest_reward_once"
            ),
            models.UniqueConstraint(fields=["brand", "key"], name="contest_reward_key_once"),
        ]


class ContestResult(models.Model):
    """The frozen final standing of a guide ("g") or a team ("t"), written when the contest is
    settled and never changed after."""

    scope_rule: ClassVar[ScopeRule] = SHARED

    brand = models.ForeignKey("org.Brand", on_delete=models.PROTECT, related_name="+")
    contest = models.ForeignKey(Contest, on_delete=models.CASCADE, related_name="results")
    subject = models.CharField(max_length=1)
    subject_id = models.BigIntegerField()
    label = models.CharField(max_length=80)
    team_id = models.BigIntegerField(null=True, blank=True)
    rank = models.PositiveIntegerField()
    points = models.BigIntegerField()
    coins = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["subject", "rank", "label"]
        constraints = [models.UniqueConstraint(fields=["contest", "subject", "subject_id"], name="contest_result_once")]


# --- The performance feed ------------------------------------------------------------------------
class FeedPolicy(models.Model):
    """Who a guide sees in the feed: her store, her region, or the whole brand (HQ decides)."""

    class Audience(models.TextChoices):
        STORE = "store", _("Her store")
        REGION = "region", _("Her branch company")
        BRAND = "brand", _("The whole brand")

    scope_rule: ClassVar[ScopeRule] = SHARED

    brand = models.OneToOneField("org.Brand", on_delete=models.CASCADE, related_name="+")
    audience = models.CharField(_("guides see"), max_length=8, choices=Audience.choices, default=Audience.REGION)


def _picture_path(instance: FeedPost, filename: str) -> str:
    ext = (filename.rsplit(".", 1)[-1] if "." in filename else "png").lower()[:5]
    return f"feed/{instance.brand_id}/{uuid.uuid4().hex}.{ext}"


class FeedPost(models.Model):
    """A guide's report of her day: text and an optional picture; HQ may hide it."""

    scope_rule: ClassVar[ScopeRule] = ScopeRule(
        region="region_id", store="store_id", own_store="store_id", own="author_id"
    )

    brand = models.ForeignKey("org.Brand", on_delete=models.PROTECT, related_name="+")
    author = models.ForeignKey("org.Staff", on_delete=models.PROTECT, related_name="+")
    store_id = models.BigIntegerField(null=True, blank=True)
    region_id = models.BigIntegerField(null=True, blank=True)
    day = models.DateField(_("day"))
    text = models.TextField(_("report"), max_length=2000)
    picture = models.FileField(_("picture"), upload_to=_picture_path, max_length=200, blank=True)
    likes = models.PositiveIntegerField(default=0)
    comments = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(_("posted at"))
    hidden_at = models.DateTimeField(null=True, blank=True)
    hidden_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["brand", "created_at"]), models.Index(fields=["brand", "region_id"])]
        verbose_name = _("feed post")

    def __str__(self) -> str:
        return self.text[:40]


class FeedLike(models.Model):
    scope_rule: ClassVar[ScopeRule] = SHARED

    brand = models.ForeignKey("org.Brand", on_delete=models.PROTECT, related_name="+")
    post = models.ForeignKey(FeedPost, on_delete=models.CASCADE, related_name="like_rows")
    staff_id = models.BigIntegerField()
    at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["post", "staff_id"], name="feed_like_once")]


class FeedComment(models.Model):
    scope_rule: ClassVar[ScopeRule] = SHARED

    brand = models.ForeignKey("org.Brand", on_delete=models.PROTECT, related_name="+")
    post = models.ForeignKey(FeedPost, on_delete=models.CASCADE, related_name="comment_rows")
    author = models.ForeignKey("org.Staff", on_delete=models.PROTECT, related_name="+")
    text = models.CharField(_("comment"), max_length=500)
    at = models.DateTimeField()

    class Meta:
        ordering = ["at", "id"]
