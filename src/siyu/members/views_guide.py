"""The guide workbench's customer pages (mobile first): my customers (search by phone or full name,
filter by tag or lifecycle, add a tag or a note inline), each customer's page (in full for her own:
phone with a tap-to-call link, tags, notes, follow-ups), and the follow-ups due today.

A store manager opens the same pages for her store's customers, masked (``services.to_row``)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from siyu.members import profile, services
from siyu.members.models import Lifecycle
from siyu.members.views import (
    Labels,
    NoteForm,
    customer_360,
    display,
    follow_up_action,
    note_action,
    tag_action,
)
from siyu.org.services import Perm
from siyu.platform.access import access, require_scope
from siyu.platform.pagination import paginate, querystring_without_page
from siyu.platform.tenancy import get_scoped

GUIDE = "guide:login"


def _back(request: HttpRequest, default: str) -> str:
    target = request.POST.get("next") or ""
    return target if url_has_allowed_host_and_scheme(target, {request.get_host()}) else default


@access(Perm.GUIDE_WORKBENCH, login_url=GUIDE)
@require_GET
def guide_customer_list(request: HttpRequest) -> HttpResponse:
    """Her own customers (a store manager: her store's, masked)."""
    scope = require_scope(request)
    labels = Labels.of(scope)
    lifecycle = request.GET.get("lifecycle", "")
    q = request.GET.get("q", "").strip()[:40]
    tag_param = request.GET.get("tag", "")
    tag_id = int(tag_param) if tag_param.isdigit() and any(t.pk == int(tag_param) for t in labels.tags) else None
    qs = services.visible_customers(scope, lifecycle=lifecycle if lifecycle in Lifecycle.values else None)
    qs = profile.search(qs, q)
    if tag_id:
        qs = qs.filter(tag_links__tag_id=tag_id)
    page = paginate(request, qs.order_by("-joined_at", "-id"), 30)
    customers = list(page.object_list)
    tags = profile.tags_of(c.pk for c in customers) if labels.tags else {}
    context = {
        "page": page,
        "rows": [display(scope, labels, c, tags) for c in customers],
        "lifecycles": Lifecycle.choices,
        "lifecycle": lifecycle,
        "q": q,
        "tag": tag_id,
        "tags": labels.tags,
        "total": page.paginator.count,
        "qs": querystring_without_page(request),
        "filtered": bool(lifecycle or q or tag_id),
        "here": request.get_full_path(),
    }
    return render(request, "members/guide_customer_list.html", context)


@access(Perm.GUIDE_WORKBENCH, login_url=GUIDE)
@require_GET
def guide_customer_detail(request: HttpRequest, pk: int) -> HttpResponse:
    scope = require_scope(request)
    customer = get_scoped(services.visible_customers(scope), scope, pk=pk)
    context: dict[str, Any] = customer_360(scope, customer, Labels.of(scope, with_tags=False))
    return render(request, "members/guide_customer_detail.html", context)


@access(Perm.GUIDE_WORKBENCH, login_url=GUIDE)
@require_POST
def guide_customer_tag(request: HttpRequest, pk: int) -> HttpResponse:
    scope = require_scope(request)
    get_scoped(services.visible_customers(scope), scope, pk=pk)
    tag_action(request, scope, pk)
    return redirect(_back(request, reverse("guide:customer_detail", args=[pk])))


@access(Perm.GUIDE_WORKBENCH, login_url=GUIDE)
@require_POST
def guide_customer_note(request: HttpRequest, pk: int) -> HttpResponse:
    scope = require_scope(request)
    get_scoped(services.visible_customers(scope), scope, pk=pk)
    note_action(request, scope, pk)
    return redirect(_back(request, reverse("guide:customer_detail", args=[pk])))


@access(Perm.GUIDE_WORKBENCH, login_url=GUIDE)
@require_GET
def guide_follow_ups(request: HttpRequest) -> HttpResponse:
    """Follow-ups due today or overdue on her customers."""
    scope = require_scope(request)
    notes = profile.follow_ups_due_rows(scope)
    labels = Labels.of(scope, with_tags=False)
    customers = {c.pk: c for c in services.visible_customers(scope).filter(pk__in={n.customer_id for n in notes})}
    rows = [(n, display(scope, labels, customers[n.customer_id])) for n in notes if n.customer_id in customers]
    return render(request, "members/guide_follow_ups.html", {"rows": rows, "note_form": NoteForm()})


@access(Perm.GUIDE_WORKBENCH, login_url=GUIDE)
@require_POST
def guide_follow_up_done(request: HttpRequest, note_id: int) -> HttpResponse:
    scope = require_scope(request)
    follow_up_action(request, scope, note_id)
    return redirect(_back(request, reverse("guide:follow_ups")))


guide_urlpatterns = [
    path("customers/", guide_customer_list, name="customer_list"),
    path("customers/<int:pk>/", guide_customer_detail, name="customer_detail"),
    path("customers/<int:pk>/tags/", guide_customer_tag, name="customer_tag"),
    path("customers/<int:pk>/notes/", guide_customer_note, name="customer_note"),
    path("follow-ups/", guide_follow_ups, name="follow_ups"),
    path("follow-ups/<int:note_id>/done/", guide_follow_up_done, name="follow_up_done"),
]
