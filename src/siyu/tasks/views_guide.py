"""The guide workbench's "Today" tab (mobile first): today's tasks with one-tap actions (share to
Moments or a group, share to a customer, mark an outreach, upload a photo, open the learning
item), links to the other guide pages of issue 6; for a store manager also her team's progress,
the photos waiting for her and the overdue list."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from siyu.org.services import Perm
from siyu.platform import clock
from siyu.platform.access import access, require_scope
from siyu.tasks import notify, progress, rules, work
from siyu.tasks.forms import OutreachForm, PhotoForm
from siyu.tasks.models import Assignment, FollowUp, Kind, ShareChannel, Task
from siyu.tasks.views_hq import decide_action, overdue_rows, pending_rows

GUIDE = "guide:login"
# The other guide pages of issue 6, linked from Today. Every name must resolve (a missing page is
# an error, never a silently dropped tile; tests/test_guide_links.py follows each link).
MORE: tuple[tuple[str, Any], ...] = (
    ("guide:incentives_coins", gettext_lazy("My coins")),
    ("guide:incentives_mall", gettext_lazy("Reward mall")),
    ("guide:incentives_rank", gettext_lazy("My rank")),
    ("guide:my_contests", gettext_lazy("My contests")),
    ("guide:incentives_wall", gettext_lazy("Benchmark wall")),
    ("guide:feed", gettext_lazy("Performance feed")),
    ("guide:learn_home", gettext_lazy("Learning")),
)
LEARN_PAGES = {"read": "guide:learn_article", "quiz": "guide:learn_quiz"}


def more_links() -> list[tuple[str, Any]]:
    return [(reverse(name), label) for name, label in MORE]


def learn_link(task: Task) -> str:
    name = LEARN_PAGES.get(task.learn_kind)
    if name and task.learn_ref:
        return reverse(name, args=[task.learn_ref])
    return reverse("guide:learn_home")


def mall_link(brand_id: int, store_id: int | None) -> str | None:
    """Her store's page in the mall, to share products from (``None`` when the store is not open)."""
    from siyu.org import services as org

    store = org.store_info(brand_id, store_id) if store_id is not None else None
    if store is None or store.status != "open":
        return None
    return reverse("mall_store", args=[store.code])


@access(Perm.GUIDE_WORKBENCH, login_url=GUIDE)
@require_GET
def today(request: HttpRequest) -> HttpResponse:
    scope = require_scope(request)
    now = clock.now()
    mine = progress.today(scope)
    context: dict[str, Any] = {
        "open": [a for a in mine if a.status == Assignment.Status.OPEN],
        "finished": [a for a in mine if a.status != Assignment.Status.OPEN],
        "now": now,
        "more": more_links(),
        "manager": scope.can(Perm.TASKS_APPROVE),
    }
    if context["manager"]:
        context.update(
            tasks=progress.completion(scope, "task", day=timezone.localdate(now)),
            team=progress.completion(scope, "guide", day=timezone.localdate(now)),
            pending=pending_rows(scope),
            overdue=overdue_rows(scope, progress.overdue(scope, limit=30)),
            notices=notify.escalations(scope, limit=5),
        )
    return render(request, "tasks/guide_today.html", context)


@access(Perm.GUIDE_WORKBENCH, login_url=GUIDE)
@require_GET
def assignment_detail(request: HttpRequest, pk: int) -> HttpResponse:
    scope = require_scope(request)
    a = work.my_assignment(scope, pk)
    context: dict[str, Any] = {"a": a, "task": a.task, "outreach_form": OutreachForm(), "photo_form": PhotoForm()}
    if a.kind == Kind.FOLLOW_UP:
        from siyu.members import services as members

        follow = progress.follow_ups_of(a)
        rows = {c.pk: c for c in members.visible_customers(scope).filter(pk__in=[f.customer_id for f in follow])}
        context["follow_ups"] = [
            (f, members.to_row(scope, rows[f.customer_id])) for f in follow if f.customer_id in rows
        ]
        context["outcomes"] = FollowUp.Outcome.choices
    if a.kind == Kind.STORE_ACTION:
        context["submissions"] = progress.submissions_of(a)
    if a.kind == Kind.FORWARD:
        from siyu.members import services as members

        mine = members.visible_customers(scope).filter(guide_id=scope.staff_id).order_by("-joined_at")[:30]
        context["customers"] = [members.to_row(scope, c) for c in mine]
        context["channels"] = [(ShareChannel.MOMENTS, _("Moments")), (ShareChannel.GROUP, _("Groups"))]
    if a.kind == Kind.LEARN:
        context["learn_url"] = learn_link(a.task)
    if a.kind == Kind.SALES:
        context["mall_url"] = mall_link(scope.brand_id, a.store_id)
    return render(request, "tasks/guide_assignment.html", context)


def _back(pk: int) -> HttpResponse:
    return redirect("guide:assignment_detail", pk)


def _errors(request: HttpRequest, exc: ValidationError) -> None:
    for message in exc.messages:
        messages.error(request, message)


@access(Perm.GUIDE_WORKBENCH, login_url=GUIDE)
@require_POST
def assignment_share(request: HttpRequest, pk: int) -> HttpResponse:
    """One tap: she shared the task's content to Moments, a group or one customer."""
    scope = require_scope(request)
    a = work.my_assignment(scope, pk)
    customer = request.POST.get("customer", "")
    try:
        work.record_share(
            scope,
            channel=request.POST.get("channel", ""),
            content_id=a.task.content_id,
            customer_id=int(customer) if customer.isdigit() else None,
        )
    except ValidationError as exc:
        _errors(request, exc)
    else:
        messages.success(request, _("Share recorded."))
    return _back(pk)


@access(Perm.GUIDE_WORKBENCH, login_url=GUIDE)
@require_POST
def follow_up_mark(request: HttpRequest, pk: int) -> HttpResponse:
    """One tap: the outcome of her outreach to one customer of her list."""
    scope = require_scope(request)
    form = OutreachForm(request.POST)
    follow = work.my_follow_up(scope, pk)
    if not form.is_valid():
        messages.error(request, _("Choose how it went."))
        return _back(follow.assignment_id)
    try:
        work.record_outreach(scope, pk, outcome=form.cleaned_data["outcome"], note=form.cleaned_data["note"])
    except ValidationError as exc:
        _errors(request, exc)
    else:
        messages.success(request, _("Outreach recorded."))
    return _back(follow.assignment_id)


@access(Perm.GUIDE_WORKBENCH, login_url=GUIDE)
@require_POST
def assignment_photo(request: HttpRequest, pk: int) -> HttpResponse:
    scope = require_scope(request)
    work.my_assignment(scope, pk)
    form = PhotoForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, _("Choose a photo to upload."))
        return _back(pk)
    upload = form.cleaned_data["photo"]
    data = upload.read(rules.MAX_PHOTO_BYTES + 1)
    try:
        work.submit_photo(scope, pk, data=data, note=form.cleaned_data["note"])
    except ValidationError as exc:
        _errors(request, exc)
    else:
        messages.success(request, _("Photo sent: your store manager approves it."))
    return _back(pk)


@access(Perm.TASKS_APPROVE, login_url=GUIDE)
@require_POST
def submission_decide(request: HttpRequest, pk: int) -> HttpResponse:
    """The store manager approves or rejects a photo from the workbench."""
    decide_action(request, pk)
    return redirect("guide:today")


guide_urlpatterns = [
    path("today/", today, name="today"),
    path("today/tasks/<int:pk>/", assignment_detail, name="assignment_detail"),
    path("today/tasks/<int:pk>/share/", assignment_share, name="assignment_share"),
    path("today/tasks/<int:pk>/photo/", assignment_photo, name="assignment_photo"),
    path("today/follow-ups/<int:pk>/", follow_up_mark, name="follow_up_mark"),
    path("today/photos/<int:pk>/", submission_decide, name="submission_decide"),
]
