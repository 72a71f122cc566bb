"""The HQ console's task pages: the list, the designer with its preview, a task's progress, the
completion dashboard (charts by region, store and guide; overdue lists) and photo approvals."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from siyu.org import services as org
from siyu.org.services import Perm
from siyu.platform import clock
from siyu.platform.access import access, require_scope
from siyu.platform.forms import apply_errors
from siyu.platform.pagination import paginate
from siyu.platform.tenancy import Scope
from siyu.tasks import design, notify, progress, rules, work
from siyu.tasks.forms import RENAME, DecideForm, TaskForm
from siyu.tasks.models import Assignment, Submission, Task

CHART_ROWS = 25


def bars(lines: list[progress.Line], *, limit: int = CHART_ROWS) -> dict[str, Any]:
    """An inline SVG bar chart of completion rates (one bar per line)."""
    shown = lines[:limit]
    rows = []
    for i, line in enumerate(shown):
        rows.append(
            {
                "y": i * 24,
                "ty": i * 24 + 15,
                "label": line.label,
                "rate": line.rate,
                "width": round(line.rate * 3.6, 1),
                "done": line.done,
                "total": line.total,
                "overdue": line.overdue,
            }
        )
    return {"rows": rows, "height": max(24, len(shown) * 24), "more": max(0, len(lines) - len(shown))}


def overdue_rows(scope: Scope, items: list[Assignment]) -> list[tuple[Assignment, str, str]]:
    """Overdue assignments with their guide's and store's names."""
    names = dict(org.staff_names(scope.brand_id, {a.guide_id for a in items}))
    stores = {s.id: s.name for s in org.stores(scope.brand_id)}
    return [(a, names.get(a.guide_id, "—"), stores.get(a.store_id or 0, "—")) for a in items]


def pending_rows(scope: Scope) -> list[tuple[Submission, str]]:
    """Photos waiting for a decision, with the name of the guide who sent each."""
    pending = work.pending_submissions(scope)
    names = dict(org.staff_names(scope.brand_id, {s.assignment.guide_id for s in pending}))
    return [(s, names.get(s.assignment.guide_id, "—")) for s in pending]


def _day(request: HttpRequest) -> dt.date:
    raw = request.GET.get("day", "")
    try:
        return dt.date.fromisoformat(raw) if raw else timezone.localdate(clock.now())
    except ValueError:
        return timezone.localdate(clock.now())


@access(Perm.TASKS_VIEW)
@require_GET
def task_list(request: HttpRequest) -> HttpResponse:
    scope = require_scope(request)
    status = request.GET.get("status", "")
    page = paginate(request, design.tasks(scope, status=status or None), 30)
    items = list(page.object_list)
    counts = progress.task_counts(scope, [t.pk for t in items])
    rows = [(t, *counts.get(t.pk, (0, 0))) for t in items]
    context = {
        "page": page,
        "rows": [(t, total, done, rules.rate(done, total)) for t, total, done in rows],
        "status": status,
        "statuses": Task.Status.choices,
        "can_manage": scope.can(Perm.TASKS_MANAGE),
    }
    return render(request, "tasks/hq_task_list.html", context)


def _designer(request: HttpRequest, task: Task | None) -> HttpResponse:
    scope = require_scope(request)
    initial: dict[str, Any] = TaskForm.initial_of(task) if task else {}
    if not initial:
        now = timezone.localtime(clock.now()).replace(minute=0, second=0, microsecond=0)
        initial = {
            "starts_at": (now + dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
            "deadline_at": (now + dt.timedelta(hours=9)).strftime("%Y-%m-%dT%H:%M"),
            "auto_close": True,
            "whole_brand": True,
        }
    form = TaskForm(scope, request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            data = form.service_data()
            saved = design.update_task(scope, task.pk, **data) if task else design.create_task(scope, **data)
        except ValidationError as exc:
            apply_errors(form, exc, RENAME)
        else:
            messages.success(request, _("Saved. Check who receives it, then publish."))
            return redirect("hq:task_detail", saved.pk)
    title = _("Edit task") if task else _("New task")
    status = 400 if request.method == "POST" else 200
    return render(request, "tasks/hq_task_form.html", {"form": form, "title": title, "task": task}, status=status)


@access(Perm.TASKS_MANAGE)
@require_http_methods(["GET", "POST"])
def task_new(request: HttpRequest) -> HttpResponse:
    return _designer(request, None)


@access(Perm.TASKS_MANAGE)
@require_http_methods(["GET", "POST"])
def task_edit(request: HttpRequest, pk: int) -> HttpResponse:
    scope = require_scope(request)
    task = design.task_of(scope, pk)
    if task.status != Task.Status.DRAFT:
        messages.error(request, _("Only a draft can be edited; close this task and publish a new one."))
        return redirect("hq:task_detail", task.pk)
    return _designer(request, task)


@access(Perm.TASKS_VIEW)
@require_GET
def task_detail(request: HttpRequest, pk: int) -> HttpResponse:
    scope = require_scope(request)
    task = design.task_of(scope, pk)
    context: dict[str, Any] = {"task": task, "can_manage": scope.can(Perm.TASKS_MANAGE)}
    if task.status == Task.Status.DRAFT:
        context["preview"] = design.preview(scope, task.pk)
    else:
        lines = {by: progress.completion(scope, by, task_id=task.pk) for by in ("brand", "region", "store", "guide")}
        total = lines["brand"][0] if lines["brand"] else None
        context.update(
            total=total,
            by_region=bars(lines["region"]),
            by_store=bars(lines["store"]),
            by_guide=bars(sorted(lines["guide"], key=lambda line: (line.rate, line.label))),
            rounds=task.occurrences.order_by("-seq")[:10],
        )
    return render(request, "tasks/hq_task_detail.html", context)


def _act(request: HttpRequest, pk: int, action: Any, done: str) -> HttpResponse:
    scope = require_scope(request)
    try:
        action(scope, pk)
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    else:
        messages.success(request, done)
    return redirect("hq:task_detail", pk)


@access(Perm.TASKS_MANAGE)
@require_POST
def task_publish(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(request, pk, design.publish, _("Published: the guides see it in their workbench."))


@access(Perm.TASKS_MANAGE)
@require_POST
def task_close(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(request, pk, design.close, _("Closed."))


@access(Perm.TASKS_MANAGE)
@require_POST
def task_remind(request: HttpRequest, pk: int) -> HttpResponse:
    scope = require_scope(request)
    sent, refused = notify.remind_task(scope, pk)
    messages.success(
        request,
        _("Reminded %(sent)d guides; %(refused)d already had three reminders today.")
        % {"sent": sent, "refused": refused},
    )
    return redirect("hq:task_detail", pk)


@access(Perm.TASKS_VIEW)
@require_GET
def task_dashboard(request: HttpRequest) -> HttpResponse:
    """Completion of the rounds due on a day, within reach: by region, store and guide; overdue."""
    scope = require_scope(request)
    day = _day(request)
    brand = progress.completion(scope, "brand", day=day)
    guides = progress.completion(scope, "guide", day=day)
    context = {
        "day": day,
        "previous": day - dt.timedelta(days=1),
        "next": day + dt.timedelta(days=1),
        "total": brand[0] if brand else None,
        "by_region": bars(progress.completion(scope, "region", day=day)),
        "by_store": bars(progress.completion(scope, "store", day=day)),
        "by_guide": bars(sorted(guides, key=lambda line: (line.rate, line.label))),
        "overdue": overdue_rows(scope, progress.overdue(scope, limit=50)),
        "overdue_count": progress.overdue_count(scope),
    }
    return render(request, "tasks/hq_dashboard.html", context)


@access(Perm.TASKS_APPROVE)
@require_GET
def approvals(request: HttpRequest) -> HttpResponse:
    scope = require_scope(request)
    return render(request, "tasks/hq_approvals.html", {"pending": pending_rows(scope)})


def decide_action(request: HttpRequest, pk: int) -> bool:
    """Apply the manager's decision on a photo; messages say what happened."""
    scope = require_scope(request)
    form = DecideForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose approve or reject."))
        return False
    try:
        work.decide(scope, pk, approve=form.cleaned_data["decision"] == "approve", reason=form.cleaned_data["reason"])
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
        return False
    messages.success(request, _("Decided."))
    return True


@access(Perm.TASKS_APPROVE)
@require_POST
def approval_decide(request: HttpRequest, pk: int) -> HttpResponse:
    decide_action(request, pk)
    return redirect("hq:task_approvals")


hq_urlpatterns = [
    path("tasks/", task_list, name="task_list"),
    path("tasks/new/", task_new, name="task_new"),
    path("tasks/dashboard/", task_dashboard, name="task_dashboard"),
    path("tasks/approvals/", approvals, name="task_approvals"),
    path("tasks/approvals/<int:pk>/", approval_decide, name="task_approval_decide"),
    path("tasks/<int:pk>/", task_detail, name="task_detail"),
    path("tasks/<int:pk>/edit/", task_edit, name="task_edit"),
    path("tasks/<int:pk>/publish/", task_publish, name="task_publish"),
    path("tasks/<int:pk>/close/", task_close, name="task_close"),
    path("tasks/<int:pk>/remind/", task_remind, name="task_remind"),
]
