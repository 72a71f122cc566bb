"""HQ's task designer: create and edit a draft, preview who receives it, publish, close."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from siyu.org import services as org
from siyu.org.services import Perm
from siyu.platform import audit, clock
from siyu.platform.tenancy import Scope, get_scoped
from siyu.tasks import fanout, rules
from siyu.tasks.models import Assignment, CountMode, Kind, LearnKind, Occurrence, Repeat, ShareChannel, Task

FIELDS = (
    "title",
    "description",
    "kind",
    "content_id",
    "share_channel",
    "count_mode",
    "segment_id",
    "learn_kind",
    "learn_ref",
    "min_order_fen",
    "product_code",
    "whole_brand",
    "region_ids",
    "store_ids",
    "roles",
    "guide_ids",
    "target",
    "targets",
    "repeat",
    "starts_at",
    "deadline_at",
    "repeat_until",
    "auto_close",
    "coins",
)
MAX_COINS = 100_000
MAX_TARGET = 10_000
MAX_ORDER_FEN = 100_000_000  # a sales task's minimum order: up to 1,000,000 CNY

SCHEDULE_MESSAGES = {
    "repeat": gettext_lazy("Choose once, every day or every week."),
    "deadline_after_start": gettext_lazy("The deadline comes after the start."),
    "deadline_within_period": gettext_lazy("A repeating task's deadline falls within its day or week."),
    "until_after_start": gettext_lazy("Repeat until a day on or after the start."),
}


def require(scope: Scope, perm: str) -> None:
    if not scope.can(perm):
        raise PermissionDenied(perm)


def _ids(value: Any, field: str) -> list[int]:
    if value in (None, ""):
        return []
    if not isinstance(value, list | tuple | set):
        value = [value]
    out = []
    for v in value:
        try:
            out.append(int(v))
        except (TypeError, ValueError) as exc:
            raise ValidationError({field: _("Choose from the list.")}) from exc
    return sorted(set(out))


def _clean_sales(scope: Scope, d: dict[str, Any], errors: dict[str, str]) -> None:
    """A sales task's filters: a minimum order in fen (0: any) and a style code of the brand's
    catalog (empty: any product). Other kinds keep neither."""
    raw = d.get("min_order_fen")
    try:
        d["min_order_fen"] = int(raw) if raw not in (None, "") else 0
    except (TypeError, ValueError):
        d["min_order_fen"] = 0
        errors["min_order_fen"] = _("A whole number of fen.")
    code = str(d.get("product_code") or "").strip()
    d["product_code"] = code
    if d.get("kind") != Kind.SALES:
        d["min_order_fen"], d["product_code"] = 0, ""
        return
    if not 0 <= d["min_order_fen"] <= MAX_ORDER_FEN:
        errors["min_order_fen"] = _("A minimum order from 0 to %(n)s CNY.") % {"n": f"{MAX_ORDER_FEN // 100:,}"}
    if code:
        from siyu.catalog import services as catalog

        if len(code) > 32 or catalog.product_detail(scope.brand_id, code) is None:
            errors["product_code"] = _("No product of the brand has this style code.")


def _clean(scope: Scope, data: dict[str, Any]) -> dict[str, Any]:
    """Validate a task's fields against the brand; raises ``ValidationError`` naming each field."""
    errors: dict[str, str] = {}
    d = dict(data)
    d["title"] = str(d.get("title") or "").strip()
    if not d["title"]:
        errors["title"] = _("Give the task a title.")
    d["description"] = str(d.get("description") or "").strip()
    kind = d.get("kind")
    if kind not in Kind.values:
        errors["kind"] = _("Choose what kind of task it is.")
    d["content_id"] = str(d.get("content_id") or "").strip()[:64]
    d["share_channel"] = d.get("share_channel") or ShareChannel.ANY
    if d["share_channel"] not in ShareChannel.values:
        errors["share_channel"] = _("Choose where to share.")
    d["count_mode"] = d.get("count_mode") or CountMode.TIMES
    if d["count_mode"] not in CountMode.values:
        errors["count_mode"] = _("Count times shared or customers reached.")
    d["segment_id"] = int(d["segment_id"]) if d.get("segment_id") not in (None, "") else None
    d["learn_kind"] = d.get("learn_kind") or ""
    d["learn_ref"] = int(d["learn_ref"]) if d.get("learn_ref") not in (None, "") else None
    if kind == Kind.FOLLOW_UP:
        if d["segment_id"] is None:
            errors["segment_id"] = _("Choose the segment whose customers the guides follow up.")
        else:
            from siyu.segments import services as segments

            try:
                segments.segment_of(org.hq_scope(scope.brand_id), d["segment_id"])
            except Exception:
                errors["segment_id"] = _("Choose a segment of the brand.")
    if kind == Kind.LEARN:
        if d["learn_kind"] not in LearnKind.values:
            errors["learn_kind"] = _("Choose reading an article or passing a quiz.")
        if not d["learn_ref"]:
            errors["learn_ref"] = _("Choose the article or the quiz.")
    _clean_sales(scope, d, errors)
    # targeting
    d["whole_brand"] = bool(d.get("whole_brand"))
    d["region_ids"] = _ids(d.get("region_ids"), "region_ids")
    d["store_ids"] = _ids(d.get("store_ids"), "store_ids")
    d["guide_ids"] = _ids(d.get("guide_ids"), "guide_ids")
    d["roles"] = sorted({str(r) for r in (d.get("roles") or [])})
    if any(r not in rules.TARGET_ROLES for r in d["roles"]):
        errors["roles"] = _("Tasks go to guides and store managers.")
    if d["region_ids"] and not set(d["region_ids"]) <= set(org.region_ids(scope.brand_id).values()):
        errors["region_ids"] = _("Choose regions of the brand.")
    if d["store_ids"] and not set(d["store_ids"]) <= {s.id for s in org.stores(scope.brand_id)}:
        errors["store_ids"] = _("Choose stores of the brand.")
    if d["guide_ids"]:
        people = {p.id for p in org.posted_staff(scope.brand_id, roles=rules.TARGET_ROLES, ids=d["guide_ids"])}
        if not set(d["guide_ids"]) <= people:
            errors["guide_ids"] = _("Choose active guides or store managers of the brand.")
    if not (d["whole_brand"] or d["region_ids"] or d["store_ids"] or d["guide_ids"]):
        errors["whole_brand"] = _("Choose whom the task goes to: the whole brand, regions, stores or named guides.")
    # targets
    try:
        raw_target = d.get("target")
        d["target"] = int(raw_target) if raw_target not in (None, "") else 1
    except (TypeError, ValueError):
        errors["target"] = _("A whole number.")
        d["target"] = 1
    if kind == Kind.STORE_ACTION or kind == Kind.LEARN:
        d["target"] = 1
    floor = 0 if kind == Kind.FOLLOW_UP else 1  # 0: the guide's whole list
    if not floor <= d["target"] <= MAX_TARGET:
        errors["target"] = _("A target from %(low)d to %(high)d.") % {"low": floor, "high": MAX_TARGET}
    targets: dict[str, int] = {}
    for key, value in dict(d.get("targets") or {}).items():
        try:
            gid, n = int(key), int(value)
        except (TypeError, ValueError):
            errors["targets"] = _("Each guide's target is a whole number.")
            continue
        if gid not in d["guide_ids"]:
            errors["targets"] = _("Set own targets only for named guides.")
        elif not 1 <= n <= MAX_TARGET:
            errors["targets"] = _("A target from %(low)d to %(high)d.") % {"low": 1, "high": MAX_TARGET}
        targets[str(gid)] = n
    d["targets"] = targets
    # schedule
    d["repeat"] = d.get("repeat") or Repeat.ONCE
    starts, deadline = d.get("starts_at"), d.get("deadline_at")
    if not isinstance(starts, dt.datetime):
        errors["starts_at"] = _("When does it start?")
    if not isinstance(deadline, dt.datetime):
        errors["deadline_at"] = _("When is it due?")
    until = d.get("repeat_until") or None
    if until is not None and not isinstance(until, dt.date):
        errors["repeat_until"] = _("A date.")
        until = None
    d["repeat_until"] = until if d["repeat"] != Repeat.ONCE else None
    if isinstance(starts, dt.datetime) and isinstance(deadline, dt.datetime):
        for name, problem in rules.schedule_problems(
            d["repeat"], starts, deadline, d["repeat_until"], timezone.get_current_timezone()
        ).items():
            errors.setdefault(name, str(SCHEDULE_MESSAGES[problem]))
    d["auto_close"] = bool(d.get("auto_close", True))
    try:
        d["coins"] = int(d.get("coins") or 0)
    except (TypeError, ValueError):
        d["coins"] = 0
        errors["coins"] = _("A whole number.")
    if not 0 <= d["coins"] <= MAX_COINS:
        errors["coins"] = _("From 0 to %(n)d coins.") % {"n": MAX_COINS}
    if errors:
        raise ValidationError(errors)
    return {k: d[k] for k in FIELDS}


def _snapshot(task: Task) -> dict[str, Any]:
    return audit.snapshot(task, ("title", "kind", "status", "target", "repeat", "coins"))


@transaction.atomic
def create_task(scope: Scope, **data: Any) -> Task:
    """A draft task (nothing is sent until it is published)."""
    require(scope, Perm.TASKS_MANAGE)
    fields = _clean(scope, data)
    task = Task.objects.create(
        brand_id=scope.brand_id, created_by_label=scope.label[:120], created_at=clock.now(), **fields
    )
    audit.record_by(scope, "task.create", task, after=_snapshot(task))
    return task


@transaction.atomic
def update_task(scope: Scope, task_id: int, **data: Any) -> Task:
    """Edit a draft; a published task's targeting and schedule are fixed."""
    require(scope, Perm.TASKS_MANAGE)
    task = get_scoped(Task.objects.select_for_update(), scope, pk=task_id)
    if task.status != Task.Status.DRAFT:
        raise ValidationError(_("Only a draft can be edited; close this task and publish a new one."))
    before = _snapshot(task)
    current = {k: getattr(task, k) for k in FIELDS}
    fields = _clean(scope, {**current, **data})
    for k, v in fields.items():
        setattr(task, k, v)
    task.save()
    audit.record_by(scope, "task.update", task, before=before, after=_snapshot(task))
    return task


@dataclass(frozen=True)
class Preview:
    """Who would receive a task: how many, where, a sample of names, and what each must do."""

    total: int
    by_region: list[tuple[str, int]]
    by_store: list[tuple[str, int]]
    sample: list[tuple[str, str, int]]  # name, store, target
    without_list: int  # follow-up: recipients left out because none of their customers is in the segment
    target_total: int


def preview(scope: Scope, task_id: int) -> Preview:
    """Who receives the task if it is published now (the next round of a published one)."""
    require(scope, Perm.TASKS_VIEW)
    task = get_scoped(Task, scope, pk=task_id)
    plan = fanout.plan(task)
    stores = {s.id: s for s in org.stores(task.brand_id)}
    regions = {v: k for k, v in org.region_ids(task.brand_id).items()}
    by_region = Counter(regions.get(p.region_id or 0, "—") for p in plan.people)
    by_store = Counter(stores[p.store_id].name if p.store_id in stores else "—" for p in plan.people)
    infos = [org.staff_info(task.brand_id, p.id) for p in plan.people[:20]]
    names = {i.id: i.name for i in infos if i is not None}
    sample = [
        (names.get(p.id, str(p.id)), stores[p.store_id].name if p.store_id in stores else "—", plan.targets[p.id])
        for p in plan.people[:20]
    ]
    return Preview(
        total=len(plan.people),
        by_region=sorted(by_region.items(), key=lambda kv: (-kv[1], kv[0])),
        by_store=sorted(by_store.items(), key=lambda kv: (-kv[1], kv[0]))[:30],
        sample=sample,
        without_list=plan.without_list,
        target_total=sum(plan.targets.values()),
    )


@transaction.atomic
def publish(scope: Scope, task_id: int) -> Task:
    """Publish a draft: its first round goes out at once, one assignment per guide it reaches."""
    require(scope, Perm.TASKS_MANAGE)
    task = get_scoped(Task.objects.select_for_update(), scope, pk=task_id)
    if task.status != Task.Status.DRAFT:
        raise ValidationError(_("This task is already published."))
    now = clock.now()
    if task.deadline_at <= now and task.repeat == Repeat.ONCE:
        raise ValidationError({"deadline_at": _("The deadline has passed; set a later one before publishing.")})
    task.status = Task.Status.PUBLISHED
    task.published_at = now
    task.save(update_fields=["status", "published_at"])
    created = fanout.create_due_rounds(task, now=now)
    audit.record_by(
        scope, "task.publish", task, after={"status": task.status, "assignments": sum(n for _seq, n in created)}
    )
    return task


@transaction.atomic
def close(scope: Scope, task_id: int) -> Task:
    """Close a task: no more rounds; its open assignments are marked missed."""
    require(scope, Perm.TASKS_MANAGE)
    task = get_scoped(Task.objects.select_for_update(), scope, pk=task_id)
    if task.status == Task.Status.CLOSED:
        return task
    now = clock.now()
    before = task.status
    task.status = Task.Status.CLOSED
    task.closed_at = now
    task.save(update_fields=["status", "closed_at"])
    Assignment.objects.filter(task=task, status=Assignment.Status.OPEN).update(status=Assignment.Status.MISSED)
    Occurrence.objects.filter(task=task, closed_at=None).update(closed_at=now)
    audit.record_by(scope, "task.close", task, before={"status": before}, after={"status": task.status})
    return task


def tasks(scope: Scope, *, status: str | None = None) -> Any:
    from siyu.platform.tenancy import restrict

    require(scope, Perm.TASKS_VIEW)
    qs = restrict(Task, scope)
    if status in Task.Status.values:
        qs = qs.filter(status=status)
    return qs.order_by("-created_at", "-id")


def task_of(scope: Scope, task_id: int) -> Task:
    require(scope, Perm.TASKS_VIEW)
    return get_scoped(Task, scope, pk=task_id)
