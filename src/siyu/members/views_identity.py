"""Merge and unmerge screens of the HQ console (``Perm.MEMBERS_MERGE``): pick two customers by
mobile number or id, preview them side by side, merge with a reason; the list of merges with undo."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from siyu.members import identity, services
from siyu.members.models import Customer
from siyu.org.services import Perm
from siyu.platform.access import access, require_scope
from siyu.platform.pagination import paginate
from siyu.platform.tenancy import Scope, restrict


def find_customer(scope: Scope, value: str) -> Customer | None:
    """A live customer in reach by mobile number (11 digits) or by id."""
    value = (value or "").strip()
    if not value:
        return None
    pool = identity.live(restrict(Customer, scope))
    if len(value.replace(" ", "")) >= 11:
        try:
            found = identity.customer_by_phone(scope.brand_id, value)
        except ValueError:
            return None
        return pool.filter(pk=found.pk).first() if found is not None else None
    return pool.filter(pk=int(value)).first() if value.isdigit() else None


@access(Perm.HQ_CONSOLE)
@access(Perm.MEMBERS_MERGE)
@require_GET
def merge_list(request: HttpRequest) -> HttpResponse:
    scope = require_scope(request)
    page = paginate(request, identity.merges(scope), 50)
    return render(request, "members/identity/merge_list.html", {"page": page, "rows": page.object_list, "qs": ""})


@access(Perm.HQ_CONSOLE)
@access(Perm.MEMBERS_MERGE)
@require_http_methods(["GET", "POST"])
def merge_create(request: HttpRequest) -> HttpResponse:
    scope = require_scope(request)
    data = request.POST if request.method == "POST" else request.GET
    a_raw, b_raw = data.get("survivor", ""), data.get("absorbed", "")
    a, b = find_customer(scope, a_raw), find_customer(scope, b_raw)
    errors: dict[str, str] = {}
    if a_raw and a is None:
        errors["survivor"] = _("No customer in your reach has this mobile number or id.")
    if b_raw and b is None:
        errors["absorbed"] = _("No customer in your reach has this mobile number or id.")
    if request.method == "POST" and not errors:
        try:
            if a is None or b is None:
                raise ValidationError({"survivor": _("Give both customers.")})
            merge = identity.merge_customers(scope, a.pk, b.pk, reason=data.get("reason", ""))
        except ValidationError as exc:
            errors.update({k: " ".join(v) for k, v in exc.message_dict.items()})
        else:
            messages.success(
                request, _("Customer #%(b)d merged into #%(a)d.") % {"a": merge.survivor_id, "b": merge.absorbed_id}
            )
            return redirect("hq:merge_list")
    preview = [
        {"role": role, "row": services.to_row(scope, c), "identities": identity.identities_of(c)}
        for role, c in ((_("Keeps"), a), (_("Merged into it"), b))
        if c is not None
    ]
    context = {
        "survivor": a_raw,
        "absorbed": b_raw,
        "reason": data.get("reason", ""),
        "errors": errors,
        "preview": preview,
        "ready": a is not None and b is not None,
    }
    return render(
        request, "members/identity/merge_form.html", context, status=400 if errors and request.method == "POST" else 200
    )


@access(Perm.HQ_CONSOLE)
@access(Perm.MEMBERS_MERGE)
@require_POST
def merge_undo(request: HttpRequest, pk: int) -> HttpResponse:
    scope = require_scope(request)
    try:
        merge = identity.unmerge(scope, pk)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request, _("Merge undone: customer #%(id)d has her identities back.") % {"id": merge.absorbed_id}
        )
    return redirect("hq:merge_list")


hq_urlpatterns = [
    path("merges/", merge_list, name="merge_list"),
    path("merges/new/", merge_create, name="merge_create"),
    path("merges/<int:pk>/undo/", merge_undo, name="merge_undo"),
]
