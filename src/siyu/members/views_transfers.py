"""Transfer screens of the HQ console: start an in-service transfer (pick customers of a guide and
the receiving guide), the list of transfers with status and batch filters (a store manager sees her
store's), and the sandbox's "the customer refused" button."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from siyu.members import services, transfers
from siyu.members.models import TransferKind, TransferStatus
from siyu.org import services as org
from siyu.org.services import Perm, Role
from siyu.platform.access import access, require_scope
from siyu.platform.pagination import paginate, querystring_without_page
from siyu.platform.tenancy import Scope

ANY = [("", gettext_lazy("All"))]


class TransferFilterForm(forms.Form):
    status = forms.ChoiceField(label=gettext_lazy("Status"), required=False, choices=ANY + TransferStatus.choices)
    kind = forms.ChoiceField(label=gettext_lazy("Kind"), required=False, choices=ANY + TransferKind.choices)
    batch = forms.CharField(label=gettext_lazy("Batch"), required=False, max_length=32)


def _guides(scope: Scope) -> dict[int, org.StaffInfo]:
    return {g.id: g for g in org.visible_staff(scope) if g.role in (Role.GUIDE, Role.STORE_MANAGER)}


@access(Perm.HQ_CONSOLE)
@access(Perm.MEMBERS_BIND)
@require_GET
def transfer_list(request: HttpRequest) -> HttpResponse:
    scope = require_scope(request)
    form = TransferFilterForm(request.GET)
    form.is_valid()
    f = getattr(form, "cleaned_data", {})
    qs = transfers.visible_transfers(
        scope, status=f.get("status") or None, batch=f.get("batch") or None, kind=f.get("kind") or None
    )
    page = paginate(request, qs, 50)
    guides = {g.id: g.name for g in org.visible_staff(scope)}
    context = {
        "form": form,
        "page": page,
        "rows": [
            {
                "t": t,
                "from": guides.get(t.from_guide_id, f"#{t.from_guide_id}"),
                "to": guides.get(t.to_guide_id, f"#{t.to_guide_id}"),
            }
            for t in page.object_list
        ],
        "qs": querystring_without_page(request),
    }
    return render(request, "members/transfers/transfer_list.html", context)


@access(Perm.HQ_CONSOLE)
@access(Perm.MEMBERS_BIND)
@require_http_methods(["GET", "POST"])
def transfer_create(request: HttpRequest) -> HttpResponse:
    """Step 1: choose the guide whose customers move (``?from_guide=``); step 2: tick customers
    and choose the receiver."""
    scope = require_scope(request)
    guides = _guides(scope)
    source = request.POST.get("from_guide") or request.GET.get("from_guide") or ""
    from_guide = guides.get(int(source)) if source.isdigit() else None
    errors: list[str] = []
    if request.method == "POST" and from_guide is not None:
        picked = [int(v) for v in request.POST.getlist("customers") if v.isdigit()]
        to = request.POST.get("to_guide", "")
        try:
            if not to.isdigit():
                raise ValidationError({"to_guide": _("Choose the guide who takes them over.")})
            result = transfers.start_transfer(scope, picked, int(to))
        except ValidationError as exc:
            errors = [str(m) for ms in exc.message_dict.values() for m in ms]
        else:
            n = len(result.transfers)
            messages.success(
                request,
                ngettext(
                    "%(n)d customer asked to move in %(b)d request; the receiver takes over in 24 hours.",
                    "%(n)d customers asked to move in %(b)d requests; the receiver takes over in 24 hours.",
                    n,
                )
                % {"n": n, "b": len(result.batches)},
            )
            for refusal in result.refused:
                messages.warning(
                    request, _("Customer #%(id)d: %(reason)s") % {"id": refusal.customer_id, "reason": refusal.reason}
                )
            return redirect("hq:transfer_list")
    customers = []
    if from_guide is not None:
        qs = services.visible_customers(scope, guide_id=from_guide.id).order_by("-joined_at", "-id")[:500]
        customers = [services.to_row(scope, c) for c in qs]
    context: dict[str, Any] = {
        "guides": sorted(guides.values(), key=lambda g: g.name),
        "from_guide": from_guide,
        "customers": customers,
        "receivers": [g for g in sorted(guides.values(), key=lambda g: g.name) if g.active and g != from_guide],
        "errors": errors,
        "max_per_call": transfers.MAX_PER_CALL,
    }
    status = 400 if errors else 200
    return render(request, "members/transfers/transfer_form.html", context, status=status)


@access(Perm.HQ_CONSOLE)
@access(Perm.MEMBERS_BIND)
@require_POST
def transfer_refuse(request: HttpRequest, pk: int) -> HttpResponse:
    """Sandbox: play the customer who refuses the transfer in WeCom."""
    scope = require_scope(request)
    try:
        transfers.refuse_transfer(scope, pk)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("The customer refused: she stays with her guide."))
    return redirect("hq:transfer_list")


hq_urlpatterns = [
    path("transfers/", transfer_list, name="transfer_list"),
    path("transfers/new/", transfer_create, name="transfer_create"),
    path("transfers/<int:pk>/refuse/", transfer_refuse, name="transfer_refuse"),
]
