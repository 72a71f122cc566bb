"""Segments (人群): a named, versioned definition (``siyu.segments.dsl``) and its materialised
audience — the member ids of the last run, who entered and who left at each run, and the size
history (ADR 0012)."""

from __future__ import annotations

from typing import ClassVar

from django.db import models
from django.utils.translation import gettext_lazy as _

from siyu.platform.tenancy import ScopeRule


class Segment(models.Model):
    # HQ's segments: every HQ viewer of the brand sees them (the permission gates the pages)
    scope_rule: ClassVar[ScopeRule] = ScopeRule(shared=True)

    brand = models.ForeignKey("org.Brand", on_delete=models.PROTECT, related_name="+")
    name = models.CharField(_("name"), max_length=80)
    description = models.CharField(_("description"), max_length=300, blank=True)
    version = models.PositiveIntegerField(_("version"), default=1)  # the current version's number
    definition = models.JSONField(_("definition"))  # the current version's definition (a copy)
    shared_with_guides = models.BooleanField(_("shared with guides"), default=False)
    schedule_minutes = models.PositiveIntegerField(
        _("materialise every (minutes)"), default=0, help_text=_("0: only on demand.")
    )
    archived = models.BooleanField(_("archived"), default=False)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    materialised_at = models.DateTimeField(null=True, blank=True)
    size = models.PositiveIntegerField(default=0)  # members at the last run
    # incremental freshness (ADR 0016): the lake snapshot time of the last write to the audience,
    # and how far the expiry of rolling windows has been applied
    fresh_at = models.DateTimeField(null=True, blank=True)
    swept_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(fields=["brand", "name"], name="segment_name_per_brand")]
        verbose_name = _("segment")

    def __str__(self) -> str:
        return self.name


class SegmentVersion(models.Model):
    """Every saved definition of a segment, kept: an edit adds a version, never rewrites one."""

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    definition = models.JSONField()
    created_at = models.DateTimeField()
    created_by = models.CharField(max_length=120)

    class Meta:
        ordering = ["segment", "-number"]
        constraints = [models.UniqueConstraint(fields=["segment", "number"], name="segment_version_once")]


class SegmentRun(models.Model):
    """One materialisation: the size, how many entered and left, how long it took."""

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="runs")
    version = models.PositiveIntegerField()
    at = models.DateTimeField()
    size = models.PositiveIntegerField()
    entered = models.PositiveIntegerField()
    left = models.PositiveIntegerField()
    duration_ms = models.PositiveIntegerField()
    engine = models.CharField(max_length=10)
    facts_version = models.PositiveIntegerField(default=0)
    trigger = models.CharField(max_length=10, default="demand")  # demand, schedule, event, sweep

    class Meta:
        ordering = ["segment", "-at", "-id"]
        indexes = [models.Index(fields=["segment", "at"])]


class SegmentMember(models.Model):
    """A customer in a segment's audience now, since the run that let her in."""

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="+")
    customer_id = models.BigIntegerField()
    since = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["segment", "customer_id"], name="segment_member_once")]
        indexes = [models.Index(fields=["segment", "since"])]


class SegmentChange(models.Model):
    """Who entered (``entered``) or left a segment at a run."""

    run = models.ForeignKey(SegmentRun, on_delete=models.CASCADE, related_name="changes")
    customer_id = models.BigIntegerField()
    entered = models.BooleanField()

    class Meta:
        indexes = [models.Index(fields=["run", "entered"])]
