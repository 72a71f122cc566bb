"""Progress reads: a guide's work today, completion per guide / store / region / brand (live: from
the assignments' status, which the listeners keep up to date), overdue lists. Every read goes
through ``restrict`` with the viewer's scope."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from siyu.org import services as org
from siyu.org.services import Perm
from siyu.platform import clock
from siyu.platform.tenancy import Scope, restrict
from siyu.tasks import rules
from siyu.tasks.models import Assignment, FollowUp, Submission, Task


def _view(scope: Scope) -> None:
    if not scope.can(Perm.TASKS_VIEW):
        raise PermissionDenied(Perm.TASKS_VIEW)


def day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    tz = timezone.get_current_timezone()
    start = dt.datetime.combine(day, dt.time(0, 0), tzinfo=tz)
    return start, start + dt.timedelta(days=1)


def today(scope: Scope) -> list[Assignment]:
    """Her work now: open assignments that have started, and those finished or missed today."""
    if scope.staff_id is None:
        raise PermissionDenied(Perm.GUIDE_WORKBENCH)
    now = clock.now()
    start, end = day_bounds(timezone.localdate(now))
    qs = restrict(Assignment, scope).filter(guide_id=scope.staff_id)
    qs = qs.filter(
        Q(status=Assignment.Status.OPEN, starts_at__lte=now)
        | Q(status=Assignment.Status.DONE, completed_at__gte=start)
        | Q(status=Assignment.Status.MISSED, due_at__gte=start, due_at__lt=end)
    )
    return list(qs.select_related("task").order_by("status", "due_at", "pk"))


def follow_ups_of(a: Assignment) -> list[FollowUp]:
    return list(a.follow_ups.order_by("contacted_at", "pk"))


def submissions_of(a: Assignment) -> list[Submission]:
    return list(a.submissions.order_by("-submitted_at", "-pk"))


@dataclass(frozen=True)
class Line:
    """Completion of one guide, store, region or the brand."""

    key: int | None
    label: str
    total: int
    done: int
    overdue: int

    @property
    def rate(self) -> float:
        return rules.rate(self.done, self.total)


def assignments(scope: Scope, *, day: dt.date | None = None, task_id: int | None = None) -> QuerySet[Assignment]:
    """The assignments within reach, of rounds due on ``day`` (local) and/or of one task."""
    _view(scope)
    qs = restrict(Assignment, scope)
    if day is not None:
        start, end = day_bounds(day)
        qs = qs.filter(due_at__gte=start, due_at__lt=end)
    if task_id is not None:
        qs = qs.filter(task_id=task_id)
    return qs


def _overdue_q(now: dt.datetime) -> Q:
    return Q(status=Assignment.Status.MISSED) | Q(status=Assignment.Status.OPEN, due_at__lte=now)


def completion(scope: Scope, by: str, *, day: dt.date | None = None, task_id: int | None = None) -> list[Line]:
    """Completion grouped ``by`` ``"guide"``, ``"store"``, ``"region"``, ``"brand"`` or ``"task"``."""
    now = clock.now()
    field = f"{by}_id"
    if by not in ("guide", "store", "region", "brand", "task"):
        raise ValueError(f"no completion by {by!r}")
    rows = (
        assignments(scope, day=day, task_id=task_id)
        .values(field)
        .annotate(
            total=Count("id"),
            done=Count("id", filter=Q(status=Assignment.Status.DONE)),
            overdue=Count("id", filter=_overdue_q(now)),
        )
        .order_by(field)
    )
    labels = _labels(scope, by, [r[field] for r in rows])
    lines = [Line(r[field], labels.get(r[field], "—"), r["total"], r["done"], r["overdue"]) for r in rows]
    return sorted(lines, key=lambda line: (-line.rate, line.label))


def _labels(scope: Scope, by: str, keys: list[Any]) -> dict[Any, str]:
    brand_id = scope.brand_id
    if by == "store":
        return {s.id: s.name for s in org.stores(brand_id)}
    if by == "region":
        return org.region_names(brand_id)
    if by == "brand":
        return {brand_id: org.brand_name(brand_id)}
    if by == "task":
        return dict(Task.objects.filter(brand_id=brand_id, pk__in=keys).values_list("pk", "title"))
    return {pk: name for pk, name in org.staff_names(brand_id, [k for k in keys if k])}


def overdue(scope: Scope, *, limit: int = 100) -> list[Assignment]:
    """Work past its deadline and not done, within reach (newest deadline first)."""
    qs = assignments(scope).filter(_overdue_q(clock.now()))
    return list(qs.select_related("task").order_by("-due_at", "pk")[:limit])


def overdue_count(scope: Scope) -> int:
    return assignments(scope).filter(_overdue_q(clock.now())).count()


def task_counts(scope: Scope, task_ids: list[int]) -> dict[int, tuple[int, int]]:
    """Per task: (assignments, done) within reach."""
    rows = (
        assignments(scope)
        .filter(task_id__in=task_ids)
        .values("task_id")
        .annotate(total=Count("id"), done=Count("id", filter=Q(status=Assignment.Status.DONE)))
    )
    return {r["task_id"]: (r["total"], r["done"]) for r in rows}
