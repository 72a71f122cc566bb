"""The events domain's tables: the dedupe index and the retention policy. Events themselves live in
the lake (Parquet and the WAL), not in the database (ADR 0011)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class EventKey(models.Model):
    """One stored event id of a brand, and the day (UTC) of the copy that is kept: an event id is
    stored once, across requests, restarts and resends. Registered after the event is in the WAL
    and before the acknowledgement (ADR 0023).

    Its primary key is the pair itself and it has no other index: on SQLite the table is created
    ``WITHOUT ROWID`` (migration 0002), so registering an id is one entry in one B-tree — the work
    every HTTP batch does one process at a time. Retention's delete by ``day`` walks the key in
    chunks instead (:func:`siyu.events.services.forget_keys_before`)."""

    pk = models.CompositePrimaryKey("brand_id", "event_id")
    brand_id = models.BigIntegerField()
    event_id = models.CharField(max_length=64)
    day = models.DateField()


class RetentionPolicy(models.Model):
    """How many days a brand keeps its events; older day partitions are dropped by a daily job."""

    brand = models.OneToOneField("org.Brand", on_delete=models.CASCADE, related_name="+")
    days = models.PositiveIntegerField(_("keep events for (days)"), default=730)
    updated_at = models.DateTimeField(_("updated at"))
