"""Customer pages: the scoped, masked customer list of the HQ console (with a CSV export) and a
guide's own customers in the workbench.

Every customer read goes through :func:`siyu.members.services.visible_customers` (the viewer's
scope) and :func:`~siyu.members.services.to_row` (masking: only her own guide sees a customer's
phone and name in full). Stores and guides are read through :mod:`siyu.org.services`.

The customers issue grows these pages (identity, binding, transfer, tags, consent).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django import forms
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import render
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext
from django.views.decorators.http import require_GET

from siyu.members import services
from siyu.members.models import Customer, Lifecycle, Source
from siyu.org import services as org
from siyu.org.services import Perm, Role  # the permission names, re-exported by org's public surface
from siyu.platform import privacy
from siyu.platform.access import access, require_scope
from siyu.platform.exports import csv_response
from siyu.platform.money import fen_to_yuan, format_cny
from siyu.platform.pagination import paginate, querystring_without_page
from siyu.platform.tenancy import Scope, get_scoped

ANY = [("", gettext_lazy("All"))]


class CustomerFilterForm(forms.Form):
    store = forms.TypedChoiceField(label=gettext_lazy("Store"), required=False, coerce=int, empty_value=None)
    guide = forms.TypedChoiceField(label=gettext_lazy("Guide"), required=False, coerce=int, empty_value=None)
    lifecycle = forms.ChoiceField(label=gettext_lazy("Lifecycle"), required=False, choices=ANY + Lifecycle.choices)
    phone = forms.CharField(
        label=gettext_lazy("Mobile"),
        required=False,
        max_length=20,
        help_text=gettext_lazy("The full number, e.g. 13812345678."),
    )

    def __init__(self, stores: list[org.StoreInfo], guides: list[org.StaffInfo], *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["store"].choices = ANY + [(s.id, f"{s.code} {s.name}") for s in stores]  # type: ignore[attr-defined]
        self.fields["guide"].choices = ANY + [(g.id, g.name) for g in guides]  # type: ignore[attr-defined]

    def clean_phone(self) -> str:
        raw = (self.cleaned_data.get("phone") or "").strip()
        if not raw:
            return ""
        try:
            return privacy.normalize_phone(raw)
        except ValueError as exc:
            raise forms.ValidationError(_("A mobile number has 11 digits and starts with 13–19.")) from exc


@dataclass(frozen=True)
class Labels:
    """Names of the stores and guides within the viewer's reach, for display."""

    stores: dict[int, org.StoreInfo]
    guides: dict[int, org.StaffInfo]

    @classmethod
    def of(cls, scope: Scope) -> Labels:
        stores = {s.id: s for s in org.visible_stores(scope)}
        guides = {g.id: g for g in org.visible_staff(scope, role=Role.GUIDE)}
        return cls(stores, guides)

    def store(self, store_id: int | None) -> str:
        s = self.stores.get(store_id or 0)
        return f"{s.code} {s.name}" if s else ""

    def guide(self, guide_id: int | None) -> str:
        g = self.guides.get(guide_id or 0)
        return g.name if g else ""


@dataclass(frozen=True)
class Display:
    row: services.CustomerRow
    store: str
    guide: str
    lifecycle: str
    source: str
    spent: str


def _display(scope: Scope, labels: Labels, customer: Customer) -> Display:
    row = services.to_row(scope, customer)
    return Display(
        row=row,
        store=labels.store(row.store_id),
        guide=labels.guide(row.guide_id),
        lifecycle=str(Lifecycle(row.lifecycle).label) if row.lifecycle in Lifecycle.values else row.lifecycle,
        source=str(Source(row.source).label) if row.source in Source.values else row.source,
        spent=format_cny(row.total_spent_fen),
    )


def _filtered(request: HttpRequest, scope: Scope, labels: Labels) -> tuple[CustomerFilterForm, QuerySet[Customer]]:
    guides = list(labels.guides.values())
    store_param = request.GET.get("store", "")
    if store_param.isdigit():
        guides = [g for g in guides if g.store_id == int(store_param)] or guides
    form = CustomerFilterForm(list(labels.stores.values()), guides, request.GET)
    if not form.is_valid() and "phone" in form.errors:
        return form, services.visible_customers(scope).none()
    f = getattr(form, "cleaned_data", {})
    qs = services.visible_customers(
        scope,
        store_id=f.get("store"),
        guide_id=f.get("guide"),
        lifecycle=f.get("lifecycle") or None,
        phone=f.get("phone") or None,
    )
    return form, qs


@access(Perm.HQ_CONSOLE)
@access(Perm.MEMBERS_VIEW)
@require_GET
def customer_list(request: HttpRequest) -> HttpResponse:
    scope = require_scope(request)
    labels = Labels.of(scope)
    form, qs = _filtered(request, scope, labels)
    page = paginate(request, qs.order_by("-joined_at", "-id"), 50)
    context = {
        "form": form,
        "page": page,
        "rows": [_display(scope, labels, c) for c in page.object_list],
        "qs": querystring_without_page(request),
    }
    return render(request, "members/customer_list.html", context)


@access(Perm.HQ_CONSOLE)
@access(Perm.MEMBERS_VIEW)
@require_GET
def customer_export(request: HttpRequest) -> HttpResponseBase:
    """The filtered list as CSV: the same scope, the same masking as the page."""
    scope = require_scope(request)
    labels = Labels.of(scope)
    _form, qs = _filtered(request, scope, labels)
    header = [
        _("ID"),
        pgettext("person", "Name"),
        _("Mobile"),
        _("Store"),
        _("Guide"),
        _("Lifecycle"),
        _("Tier"),
        _("Source"),
        _("Joined at"),
        _("Last purchase"),
        _("Orders"),
        _("Total spent (yuan)"),
    ]

    def rows() -> Iterator[list[Any]]:
        for customer in qs.order_by("-joined_at", "-id").iterator(chunk_size=2000):
            d = _display(scope, labels, customer)
            r = d.row
            yield [
                r.id,
                r.name,
                r.phone,
                d.store,
                d.guide,
                d.lifecycle,
                r.tier,
                d.source,
                r.joined_at.isoformat(timespec="minutes"),
                r.last_purchase_at.isoformat(timespec="minutes") if r.last_purchase_at else "",
                r.orders_count,
                fen_to_yuan(r.total_spent_fen),
            ]

    return csv_response("customers.csv", header, rows())


# --- Guide workbench -------------------------------------------------------------------------
@access(Perm.GUIDE_WORKBENCH, login_url="guide:login")
@require_GET
def guide_customer_list(request: HttpRequest) -> HttpResponse:
    """Her own customers (a store manager: her store's, masked)."""
    scope = require_scope(request)
    labels = Labels.of(scope)
    lifecycle = request.GET.get("lifecycle", "")
    qs = services.visible_customers(scope, lifecycle=lifecycle if lifecycle in Lifecycle.values else None)
    page = paginate(request, qs.order_by("-joined_at", "-id"), 30)
    context = {
        "page": page,
        "rows": [_display(scope, labels, c) for c in page.object_list],
        "lifecycles": Lifecycle.choices,
        "lifecycle": lifecycle,
        "total": page.paginator.count,
        "qs": querystring_without_page(request),
    }
    return render(request, "members/guide_customer_list.html", context)


@access(Perm.GUIDE_WORKBENCH, login_url="guide:login")
@require_GET
def guide_customer_detail(request: HttpRequest, pk: int) -> HttpResponse:
    scope = require_scope(request)
    labels = Labels.of(scope)
    customer = get_scoped(services.visible_customers(scope), scope, pk=pk)
    return render(request, "members/guide_customer_detail.html", {"c": _display(scope, labels, customer)})


hq_urlpatterns = [
    path("customers/", customer_list, name="customer_list"),
    path("customers/export.csv", customer_export, name="customer_export"),
]
guide_urlpatterns = [
    path("customers/", guide_customer_list, name="customer_list"),
    path("customers/<int:pk>/", guide_customer_detail, name="customer_detail"),
]
