"""Tasks HQ hands to guides (ADR 0017).

A :class:`Task` is what HQ designs: its kind, whom it targets, its per-guide target, its schedule
and its reward. Publishing it creates :class:`Occurrence` rows (one for a one-off task, one per day
or week for a repeating one) and, for each occurrence, one :class:`Assignment` per guide it targets.

Progress is never typed in: it is the number of :class:`Credit` rows of the assignment, each with a
key unique within the assignment (``bind:<customer>``, ``event:<event id>``, ``cust:<customer>``,
``own:<share record>``, ``outreach:<customer>``, ``photo:<submission>``, ``learn:<ref>``,
``order:<order id>``). Credits come from what the platform sees (bindings, share events, learning,
paid orders) or from what the guide submits (an outreach outcome, an approved photo). Adding a credit
twice is a no-op, so a live listener, a recompute from the facts and a retried request all agree; only
a refund takes a credit (a sale) away again.
"""

from __future__ import annotations

from typing import ClassVar

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from siyu.platform.tenancy import ScopeRule


class Kind(models.TextChoices):
    FANS = "fans", _("Gain fans")
    FORWARD = "forward", _("Forward content")
    FOLLOW_UP = "follow_up", _("Follow up customers")
    STORE_ACTION = "store_action", _("Store action")
    LEARN = "learn", _("Learn")
    SALES = "sales", _("Make sales")


class Repeat(models.TextChoices):
    ONCE = "once", _("Once")
    DAILY = "daily", _("Every day")
    WEEKLY = "weekly", _("Every week")


class ShareChannel(models.TextChoices):
    ANY = "any", _("Anywhere")
    MOMENTS = "moments", _("Moments")
    GROUP = "group", _("Groups")
    ONE_TO_ONE = "one_to_one", _("One to one")


class CountMode(models.TextChoices):
    TIMES = "times", _("Times shared")
    CUSTOMERS = "customers", _("Customers reached")


class LearnKind(models.TextChoices):
    READ = "read", _("Read an article")
    QUIZ = "quiz", _("Pass a quiz")


class Task(models.Model):
    """What HQ designs. Its targeting and schedule are frozen once it is published."""

    class Status(models.TextChoices):
        DRAFT = "draft", pgettext_lazy("task", "Draft")
        PUBLISHED = "published", pgettext_lazy("task", "Published")
        CLOSED = "closed", pgettext_lazy("task", "Closed")

    # Task definitions are the brand's; every viewer of the brand may read them (pages check perms).
    scope_rule: ClassVar[ScopeRule] = ScopeRule(shared=True)

    brand = models.ForeignKey("org.Brand", on_delete=models.PROTECT, related_name="+")
    title = models.CharField(_("title"), max_length=80)
    description = models.TextField(_("instructions"), max_length=2000, blank=True)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.DRAFT)
    # what counts, by kind
    content_id = models.CharField(_("content to forward"), max_length=64, blank=True)
    share_channel = models.CharField(
        _("where to share"), max_length=12, choices=ShareChannel.choices, default=ShareChannel.ANY
    )
    count_mode = models.CharField(_("count"), max_length=12, choices=CountMode.choices, default=CountMode.TIMES)
    segment_id = models.PositiveIntegerField(_("segment"), null=True, blank=True)
    learn_kind = models.CharField(_("learning"), max_length=8, choices=LearnKind.choices, blank=True)
    learn_ref = models.PositiveIntegerField(_("article or quiz"), null=True, blank=True)
    # sales: orders paid and attributed to her, of at least this amount, with this style among the lines
    min_order_fen = models.PositiveIntegerField(_("minimum order (fen)"), default=0)
    product_code = models.CharField(_("style code"), max_length=32, blank=True)
    # whom it reaches (empty lists: no limit on that axis; all empty and whole_brand: everyone)
    whole_brand = models.BooleanField(_("whole brand"), default=False)
    region_ids = models.JSONField(_("regions"), default=list, blank=True)
    store_ids = models.JSONField(_("stores"), default=list, blank=True)
    roles = models.JSONField(_("roles"), default=list, blank=True)
    guide_ids = models.JSONField(_("named guides"), default=list, blank=True)
    target = models.PositiveIntegerField(_("target per guide"), default=1)
    targets = models.JSONField(_("targets of named guides"), default=dict, blank=True)  # "guide id" -> n
    # when
    repeat = models.CharField(_("repeat"), max_length=8, choices=Repeat.choices, default=Repeat.ONCE)
    starts_at = models.DateTimeField(_("starts at"))
    deadline_at = models.DateTimeField(_("deadline"))  # of the first occurrence
    repeat_until = models.DateField(_("repeat until"), null=True, blank=True)
    auto_close = models.BooleanField(
        _("close at the deadline"), default=True, help_text=_("Unfinished work is marked missed at the deadline.")
    )
    coins = models.PositiveIntegerField(_("coins on completion"), default=0)
    created_by_label = models.CharField(max_length=120, blank=True)
    created_at = models.DateTimeField()
    published_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    last_seq = models.PositiveIntegerField(default=0)  # the latest occurrence created (0: none)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["brand", "status"])]
        verbose_name = _("task")

    def __str__(self) -> str:
        return self.title


class Occurrence(models.Model):
    """One round of a task: the only one of a one-off task, one per day or week otherwise."""

    scope_rule: ClassVar[ScopeRule] = ScopeRule(shared=True)

    brand = models.ForeignKey("org.Brand", on_delete=models.PROTECT, related_name="+")
    task = models.ForeignKey(Task, on_delete=models.PROTECT, related_name="occurrences")
    seq = models.PositiveIntegerField()  # 1, 2, ...
    starts_at = models.DateTimeField()
    due_at = models.DateTimeField()
    assigned = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-starts_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["task", "seq"], name="occurrence_once")]
        indexes = [models.Index(fields=["brand", "due_at"])]


class Assignment(models.Model):
    """One guide's share of one occurrence. Written in bulk by the fan-out (raw inserts)."""

    class Status(models.TextChoices):
        OPEN = "open", pgettext_lazy("assignment", "Open")
        DONE = "done", pgettext_lazy("assignment", "Done")
        MISSED = "missed", pgettext_lazy("assignment", "Missed")

    scope_rule: ClassVar[ScopeRule] = ScopeRule(region="region_id", store="store_id", own="guide_id")

    brand = models.ForeignKey("org.Brand", on_delete=models.PROTECT, related_name="+")
    task = models.ForeignKey(Task, on_delete=models.PROTECT, related_name="+")
    occurrence = models.ForeignKey(Occurrence, on_delete=models.PROTECT, related_name="assignments")
    guide = models.ForeignKey("org.Staff", on_delete=models.PROTECT, related_name="+")
    store = models.ForeignKey("org.Store", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    region = models.ForeignKey("org.Region", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    kind = models.CharField(max_length=16, choices=Kind.choices)  # the task's, copied for the listeners
    starts_at = models.DateTimeField()
    due_at = models.DateTimeField()
    target = models.PositiveIntegerField(default=1)
    progress = models.PositiveIntegerField(default=0)  # credits counted (may pass the target)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)
    completed_at = models.DateTimeField(null=True, blank=True)
    coins = models.PositiveIntegerField(default=0)  # the reward, fixed at fan-out
    paid_at = models.DateTimeField(null=True, blank=True)  # when the coins went to the ledger
    escalated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["due_at", "id"]
        constraints = [models.UniqueConstraint(fields=["occurrence", "guide"], name="assignment_once_per_guide")]
        indexes = [
            models.Index(fields=["guide", "status", "due_at"]),
            models.Index(fields=["brand", "store", "due_at"]),
            models.Index(fields=["brand", "status", "due_at"]),
        ]


THROUGH_ASSIGNMENT = ScopeRule(region="assignment__region_id", store="assignment__store_id", own="assignment__guide_id")


class Credit(models.Model):
    """One thing that counts towards an assignment; unique per (assignment, key)."""

    class Source(models.TextChoices):
        BINDING = "binding", _("New customer bound")
        SHARE = "share", _("Share")
        OUTREACH = "outreach", _("Outreach")
        PHOTO = "photo", _("Approved photo")
        LEARN = "learn", _("Learning")
        SALE = "sale", _("Sale")

    scope_rule: ClassVar[ScopeRule] = THROUGH_ASSIGNMENT

    brand = models.ForeignKey("org.Brand", on_delete=models.PROTECT, related_name="+")
    assignment = models.ForeignKey(Assignment, on_delete=models.PROTECT, related_name="credits")
    key = models.CharField(max_length=80)
    source = models.CharField(max_length=12, choices=Source.choices)
    at = models.DateTimeField()

    class Meta:
        ordering = ["at", "id"]
        constraints = [models.UniqueConstraint(fields=["assignment", "key"], name="credit_once")]


class ShareRecord(models.Model):
    """A share the platform cannot see as an event: to Moments or a group, with no receiver. The
    guide records it with one tap; it counts for forward tasks counted in times."""

    scope_rule: ClassVar[ScopeRule] = ScopeRule(region="store__region_id", store="store_id", own="guide_id")

    brand = models.ForeignKey("org.Brand", on_delete=models.PROTECT, related_name="+")
    guide = models.ForeignKey("org.Staff", on_delete=models.PROTECT, related_name="+")
    store = models.ForeignKey("org.Store", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    content_id = models.CharField(max_length=64, blank=True)
    channel = models.CharField(max_length=12, choices=ShareChannel.choices)
    at = models.DateTimeField()

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["guide", "at"])]


class FollowUp(models.Model):
    """A customer on a guide's follow-up list, with the outcome of her latest outreach."""

    class Outcome(models.TextChoices):
        REACHED = "reached", _("Talked")
        NO_ANSWER = "no_answer", _("No answer")
        DECLINED = "declined", _("Not interested")
        VISIT = "visit", _("Will visit the store")
        BOUGHT = "bought", _("Bought")

    scope_rule: ClassVar[ScopeRule] = THROUGH_ASSIGNMENT

    brand = models.ForeignKey("org.Brand", on_delete=models.PROTECT, related_name="+")
    assignment = models.ForeignKey(Assignment, on_delete=models.PROTECT, related_name="follow_ups")
    customer_id = models.PositiveBigIntegerField()
    outcome = models.CharField(_("outcome"), max_length=12, choices=Outcome.choices, blank=True)
    note = models.CharField(_("note"), max_length=200, blank=True)
    contacted_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["assignment", "customer_id"], name="follow_up_once")]


class Outreach(models.Model):
    """Every outreach a guide records (append-only): who, when, with what outcome."""

    scope_rule: ClassVar[ScopeRule] = ScopeRule(
        region="follow_up__assignment__region_id",
        store="follow_up__assignment__store_id",
        own="follow_up__assignment__guide_id",
    )

    brand = models.ForeignKey("org.Brand", on_delete=models.PROTECT, related_name="+")
    follow_up = models.ForeignKey(FollowUp, on_delete=models.PROTECT, related_name="outreaches")
    outcome = models.CharField(_("outcome"), max_length=12, choices=FollowUp.Outcome.choices)
    note = models.CharField(_("note"), max_length=200, blank=True)
    at = models.DateTimeField()

    class Meta:
        ordering = ["-at", "-id"]


class Submission(models.Model):
    """A photo the guide uploads as evidence of a store action; the store manager decides."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting for approval")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")

    scope_rule: ClassVar[ScopeRule] = THROUGH_ASSIGNMENT

    brand = models.ForeignKey("org.Brand", on_delete=models.PROTECT, related_name="+")
    assignment = models.ForeignKey(Assignment, on_delete=models.PROTECT, related_name="submissions")
    photo = models.FileField(_("photo"), upload_to="tasks/%Y/%m/", max_length=200)
    note = models.CharField(_("note"), max_length=200, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    submitted_at = models.DateTimeField()
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by_label = models.CharField(max_length=120, blank=True)
    reason = models.CharField(_("reason"), max_length=200, blank=True)

    class Meta:
        ordering = ["-submitted_at", "-id"]
        indexes = [models.Index(fields=["brand", "status"])]


class Reminder(models.Model):
    """A reminder sent to a guide through the channel adapter: at most three per guide per 24 h."""

    scope_rule: ClassVar[ScopeRule] = ScopeRule(region="store__region_id", store="store_id", own="guide_id")

    brand = models.ForeignKey("org.Brand", on_delete=models.PROTECT, related_name="+")
    guide = models.ForeignKey("org.Staff", on_delete=models.PROTECT, related_name="+")
    store = models.ForeignKey("org.Store", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    assignment = models.ForeignKey(Assignment, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    text = models.CharField(max_length=300)
    channel_ref = models.CharField(max_length=64, blank=True)  # the adapter's id of the message
    sent_at = models.DateTimeField()

    class Meta:
        ordering = ["-sent_at", "-id"]
        indexes = [models.Index(fields=["guide", "sent_at"])]


class ReminderGate(models.Model):
    """One row per guide that was ever reminded: sending locks it (``SELECT … FOR UPDATE``), so two
    senders never pass the limit together."""

    scope_rule: ClassVar[ScopeRule] = ScopeRule(own="guide_id")

    brand = models.ForeignKey("org.Brand", on_delete=models.PROTECT, related_name="+")
    guide = models.OneToOneField("org.Staff", on_delete=models.PROTECT, related_name="+")


class Escalation(models.Model):
    """A notice to a store's manager: her team has overdue work."""

    scope_rule: ClassVar[ScopeRule] = ScopeRule(region="store__region_id", store="store_id")

    brand = models.ForeignKey("org.Brand", on_delete=models.PROTECT, related_name="+")
    store = models.ForeignKey("org.Store", on_delete=models.PROTECT, related_name="+")
    manager = models.ForeignKey("org.Staff", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    overdue = models.PositiveIntegerField()  # assignments newly overdue in this notice
    text = models.CharField(max_length=300)
    channel_ref = models.CharField(max_length=64, blank=True)
    at = models.DateTimeField()
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["store", "at"])]
