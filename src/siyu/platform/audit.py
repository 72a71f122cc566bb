"""Write audit entries in the same transaction as the change they describe."""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Iterable
from typing import Any

from django.db import models

from siyu.platform import clock
from siyu.platform.models import AuditEntry
from siyu.platform.tenancy import Scope


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, models.Model):
        return value.pk
    return value


def snapshot(instance: models.Model, fields: Iterable[str]) -> dict[str, Any]:
    """The audited fields of a row as JSON-ready values (foreign keys as ids)."""
    data: dict[str, Any] = {}
    for name in fields:
        field = instance._meta.get_field(name)
        attname = getattr(field, "attname", name)
        data[name] = _plain(getattr(instance, attname))
    return data


def record(
    *,
    brand_id: int,
    actor_id: int | None,
    actor_label: str,
    action: str,
    obj: models.Model,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> AuditEntry:
    return AuditEntry.objects.create(
        brand_id=brand_id,
        at=clock.now(),
        actor_id=actor_id,
        actor_label=actor_label[:120],
        action=action,
        object_type=obj._meta.model_name or type(obj).__name__.lower(),
        object_id=str(obj.pk),
        object_label=str(obj)[:200],
        before=before,
        after=after,
    )


def record_by(
    scope: Scope,
    action: str,
    obj: models.Model,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEntry:
    """Record a change made by the viewer ``scope`` (a member of staff, a token or the system)."""
    return record(
        brand_id=scope.brand_id,
        actor_id=scope.staff_id,
        actor_label=scope.label or "system",
        action=action,
        obj=obj,
        before=before,
        after=after,
    )
