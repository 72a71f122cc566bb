"""Customer pages of the HQ console: the scoped, masked customer list (filters, search by phone or
full name, bulk tagging of the filtered list, CSV export) and the customer 360 page with its
actions (tags, notes and follow-ups, consent, data export and erasure).

Every customer read goes through :func:`siyu.members.services.visible_customers` (the viewer's
scope) and :func:`~siyu.members.services.to_row` (masking: only her own guide sees a customer's
phone and name in full). Stores and guides are read through :mod:`siyu.org.services`. Writes go
through :mod:`siyu.members.profile` and :mod:`siyu.members.rights`.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext, pgettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from siyu.members import profile, rights, services
from siyu.members.models import Channel, Customer, Lifecycle, Note, Source, Tag, TierLevel, Touch
from siyu.org import services as org
from siyu.org.services import Perm, Role  # the permission names, re-exported by org's public surface
from siyu.platform.access import access, require_scope
from siyu.platform.exports import csv_response
from siyu.platform.forms import MobileField, apply_errors
from siyu.platform.money import format_cny
from siyu.platform.pagination import paginate, querystring_without_page
from siyu.platform.sheets import xlsx_response
from siyu.platform.tenancy import Scope, get_scoped

ANY = [("", gettext_lazy("All"))]
TIMELINE = 50  # touches shown on the 360 page


class CustomerFilterForm(forms.Form):
    q = forms.CharField(
        label=gettext_lazy("Mobile or full name"),
        required=False,
        max_length=40,
        help_text=gettext_lazy("The full number, e.g. 13812345678, or the exact full name."),
    )
    store = forms.TypedChoiceField(label=gettext_lazy("Store"), required=False, coerce=int, empty_value=None)
    guide = forms.TypedChoiceField(label=gettext_lazy("Guide"), required=False, coerce=int, empty_value=None)
    tier = forms.ChoiceField(label=gettext_lazy("Tier"), required=False)
    lifecycle = forms.ChoiceField(label=gettext_lazy("Lifecycle"), required=False, choices=ANY + Lifecycle.choices)
    tag = forms.TypedChoiceField(label=gettext_lazy("Tag"), required=False, coerce=int, empty_value=None)
    source = forms.ChoiceField(label=gettext_lazy("Source"), required=False, choices=ANY + Source.choices)
    joined_from = forms.DateField(
        label=gettext_lazy("Joined from"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    joined_to = forms.DateField(
        label=gettext_lazy("Joined until"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    phone = MobileField(required=False, widget=forms.HiddenInput)  # older links: ?phone=

    def __init__(
        self,
        stores: list[org.StoreInfo],
        guides: list[org.StaffInfo],
        tags: list[Tag],
        tiers: list[TierLevel],
        *args: Any,
        **kwargs: Any,
    ):
        super().__init__(*args, **kwargs)
        self.fields["store"].choices = ANY + [(s.id, f"{s.code} {s.name}") for s in stores]  # type: ignore[attr-defined]
        self.fields["guide"].choices = ANY + [(g.id, g.name) for g in guides]  # type: ignore[attr-defined]
        self.fields["tag"].choices = ANY + [(t.pk, f"{t.group.name} · {t.name}") for t in tags]  # type: ignore[attr-defined]
        tier_choices = [(t.code, t.name) for t in tiers] + [(profile.BASE_TIER, _("Base (no tier)"))]
        self.fields["tier"].choices = ANY + tier_choices  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("joined_from"), data.get("joined_to")
        if start and end and start > end:
            self.add_error("joined_to", _("The end comes before the start."))
        return data


@dataclass(frozen=True)
class Labels:
    """Names of the stores, guides, tags and tiers within the viewer's reach, for display."""

    stores: dict[int, org.StoreInfo]
    guides: dict[int, org.StaffInfo]
    tags: list[Tag] = field(default_factory=list)
    tiers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, scope: Scope, *, with_tags: bool = True) -> Labels:
        stores = {s.id: s for s in org.visible_stores(scope)}
        guides = {g.id: g for g in org.visible_staff(scope, role=Role.GUIDE)}
        tags = list(profile.usable_tags(scope)) if with_tags else []
        tiers = {t.code: t.name for t in profile.tier_levels(scope.brand_id)}
        return cls(stores, guides, tags, tiers)

    def store(self, store_id: int | None) -> str:
        s = self.stores.get(store_id or 0)
        return f"{s.code} {s.name}" if s else ""

    def guide(self, guide_id: int | None) -> str:
        g = self.guides.get(guide_id or 0)
        return g.name if g else ""

    def tier(self, code: str) -> str:
        return self.tiers.get(code, code)


@dataclass(frozen=True)
class Display:
    row: services.CustomerRow
    store: str
    guide: str
    lifecycle: str
    source: str
    spent: str
    tier: str = ""
    tags: tuple[Tag, ...] = ()


def choice_label(choices: type[Lifecycle] | type[Source], value: str) -> str:
    return str(choices(value).label) if value in choices.values else value


def display(scope: Scope, labels: Labels, customer: Customer, tags: dict[int, list[Tag]] | None = None) -> Display:
    row = services.to_row(scope, customer)
    return Display(
        row=row,
        store=labels.store(row.store_id),
        guide=labels.guide(row.guide_id),
        lifecycle=choice_label(Lifecycle, row.lifecycle),
        source=choice_label(Source, row.source),
        spent=format_cny(row.total_spent_fen),
        tier=labels.tier(row.tier),
        tags=tuple((tags or {}).get(row.id, ())),
    )


def _filtered(request: HttpRequest, scope: Scope, labels: Labels) -> tuple[CustomerFilterForm, QuerySet[Customer]]:
    guides = list(labels.guides.values())
    store_param = request.GET.get("store", "")
    if store_param.isdigit():
        guides = [g for g in guides if g.store_id == int(store_param)] or guides
    tiers = [TierLevel(code=c, name=n) for c, n in labels.tiers.items()]
    form = CustomerFilterForm(list(labels.stores.values()), guides, labels.tags, tiers, request.GET)
    base = services.visible_customers(scope)
    if not form.is_valid():  # a filter out of reach or malformed: nothing, with the error on its field
        return form, base.none()
    return form, profile.filter_customers(base, form.cleaned_data)


@access(Perm.HQ_CONSOLE)
@access(Perm.MEMBERS_VIEW)
@require_GET
def customer_list(request: HttpRequest) -> HttpResponse:
    scope = require_scope(request)
    labels = Labels.of(scope)
    form, qs = _filtered(request, scope, labels)
    page = paginate(request, qs.order_by("-joined_at", "-id"), 50)
    customers = list(page.object_list)
    tags = profile.tags_of(c.pk for c in customers) if labels.tags else {}  # no tags in the brand: no query
    context = {
        "form": form,
        "page": page,
        "rows": [display(scope, labels, c, tags) for c in customers],
        "qs": querystring_without_page(request),
        "tags": labels.tags,
        "can_edit": scope.can(Perm.MEMBERS_EDIT),
        "can_export": scope.can(Perm.MEMBERS_EXPORT),
    }
    return render(request, "members/customer_list.html", context)


@access(Perm.HQ_CONSOLE)
@access(Perm.MEMBERS_EDIT)
@require_POST
def customer_bulk_tag(request: HttpRequest) -> HttpResponse:
    """Add or remove a tag on every customer of the filtered list (the query string's filters)."""
    scope = require_scope(request)
    labels = Labels.of(scope)
    _form, qs = _filtered(request, scope, labels)
    back = f"{reverse('hq:customer_list')}?{request.GET.urlencode()}"
    remove = request.POST.get("action") == "remove"
    try:
        changed = profile.bulk_tag(scope, int(request.POST.get("tag") or 0), qs, remove=remove)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect(back)
    note = _("Tag removed from %(n)d customers.") if remove else _("Tag added to %(n)d customers.")
    messages.success(request, note % {"n": changed})
    return redirect(back)


def _export_rows(request: HttpRequest) -> tuple[list[str], Iterator[list[Any]]]:
    """The filtered list for an export: the page's scope, filters and masking, newest first."""
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
            d = display(scope, labels, customer)
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
                r.joined_at,
                r.last_purchase_at,
                r.orders_count,
                Decimal(r.total_spent_fen).scaleb(-2),  # yuan with two decimals, exact
            ]

    return header, rows()


@access(Perm.HQ_CONSOLE)
@access(Perm.MEMBERS_EXPORT)
@require_GET
def customer_export(request: HttpRequest) -> HttpResponseBase:
    """The filtered list as CSV: the same scope, the same masking as the page."""
    header, rows = _export_rows(request)
    return csv_response("customers.csv", header, rows)


@access(Perm.HQ_CONSOLE)
@access(Perm.MEMBERS_EXPORT)
@require_GET
def customer_export_xlsx(request: HttpRequest) -> HttpResponseBase:
    """The filtered list as an Excel workbook (.xlsx): the same scope, rows and masking as the CSV."""
    header, rows = _export_rows(request)
    return xlsx_response("customers.xlsx", header, rows, title=_("Customers"))


# --- The customer 360 ------------------------------------------------------------------------
class NoteForm(forms.Form):
    text = forms.CharField(
        label=gettext_lazy("Note"), max_length=profile.NOTE_MAX, widget=forms.Textarea(attrs={"rows": 2})
    )
    due_on = forms.DateField(
        label=gettext_lazy("Follow up on"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=gettext_lazy("Set a date to make it a follow-up."),
    )


class ConsentForm(forms.Form):
    channel = forms.ChoiceField(label=gettext_lazy("Channel"), choices=Channel.choices)
    granted = forms.TypedChoiceField(
        label=gettext_lazy("Consent"),
        choices=[("1", gettext_lazy("Granted")), ("0", gettext_lazy("Withdrawn"))],
        coerce=lambda v: v == "1",
    )
    source = forms.CharField(label=gettext_lazy("Where"), max_length=40, initial=gettext_lazy("in store"))


class EraseForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("Reason"),
        max_length=200,
        help_text=gettext_lazy("How and when she asked, e.g. by phone on 1 May. Do not write her name or number."),
    )
    confirm = forms.BooleanField(label=pgettext_lazy("erase", "I understand this cannot be undone"))


def _cluster(customer: Customer) -> list[int]:
    return services.cluster_ids(customer) if hasattr(services, "cluster_ids") else [customer.pk]


def customer_360(scope: Scope, customer: Customer, labels: Labels) -> dict[str, Any]:
    """Everything the 360 page (HQ) and the guide's customer page show about one customer."""
    ids = _cluster(customer)
    touches = list(Touch.objects.filter(customer_id__in=ids).select_related("code").order_by("-at", "-id")[:TIMELINE])
    identities = services.identities_of(customer) if hasattr(services, "identities_of") else []
    bindings = services.binding_history(customer) if hasattr(services, "binding_history") else []
    secondary = [
        labels.guide(g) or f"#{g}"
        for g in customer.secondary_guides.order_by("since").values_list("guide_id", flat=True)
    ]
    return {
        "c": display(scope, labels, customer, profile.tags_of(ids)),
        "customer": customer,
        "merged_ids": [i for i in ids if i != customer.pk],
        "identities": identities,
        "bindings": [(b, labels.guide(b.guide_id), labels.store(b.store_id)) for b in bindings],
        "secondary": secondary,
        "touches": [(t, labels.guide(t.guide_id), labels.store(t.store_id)) for t in touches],
        "tag_groups": profile.tag_groups(scope),
        "held_tags": {t.pk for t in profile.tags_of(ids).get(customer.pk, [])},
        "tier_changes": profile.tier_changes_of(ids),
        "consent": profile.consent_state(customer.pk),
        "consent_history": profile.consent_history(customer.pk),
        "notes": profile.notes_of(scope, ids),
        "note_form": NoteForm(),
        "consent_form": ConsentForm(),
        "can_edit": scope.can(Perm.MEMBERS_EDIT),
        "can_privacy": scope.can(Perm.MEMBERS_PRIVACY),
        "can_bind": scope.can(Perm.MEMBERS_BIND),
        "can_merge": scope.can(Perm.MEMBERS_MERGE),
    }


def _in_reach(scope: Scope, pk: int) -> Customer:
    return get_scoped(services.visible_customers(scope), scope, pk=pk)


def _hq_detail(request: HttpRequest, pk: int) -> str:
    return reverse("hq:customer_detail", args=[pk])


@access(Perm.HQ_CONSOLE)
@access(Perm.MEMBERS_VIEW)
@require_GET
def customer_detail(request: HttpRequest, pk: int) -> HttpResponse:
    scope = require_scope(request)
    customer = _in_reach(scope, pk)
    context = customer_360(scope, customer, Labels.of(scope, with_tags=False))
    return render(request, "members/customer_detail.html", context)


def tag_action(request: HttpRequest, scope: Scope, pk: int) -> None:
    """Add or remove one tag (POST ``tag``, ``action``); the result is a flash message."""
    try:
        tag_id = int(request.POST.get("tag") or 0)
        if request.POST.get("action") == "remove":
            changed = profile.remove_tag(scope, pk, tag_id)
            messages.success(request, _("Tag removed.") if changed else _("She did not hold that tag."))
        else:
            changed = profile.add_tag(scope, pk, tag_id)
            messages.success(request, _("Tag added.") if changed else _("She already holds that tag."))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))


def note_action(request: HttpRequest, scope: Scope, pk: int) -> NoteForm:
    form = NoteForm(request.POST)
    if form.is_valid():
        due = form.cleaned_data.get("due_on")
        kind = Note.Kind.FOLLOW_UP if due else Note.Kind.NOTE
        try:
            profile.add_note(scope, pk, text=form.cleaned_data["text"], kind=kind, due_on=due)
            messages.success(request, _("Follow-up added.") if due else _("Note added."))
        except ValidationError as exc:
            apply_errors(form, exc)
    if form.errors:
        messages.error(request, " ".join(str(e) for errs in form.errors.values() for e in errs))
    return form


def follow_up_action(request: HttpRequest, scope: Scope, note_id: int) -> None:
    try:
        profile.complete_follow_up(scope, note_id)
        messages.success(request, _("Follow-up done."))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))


@access(Perm.HQ_CONSOLE)
@access(Perm.MEMBERS_EDIT)
@require_POST
def customer_tag(request: HttpRequest, pk: int) -> HttpResponse:
    scope = require_scope(request)
    _in_reach(scope, pk)
    tag_action(request, scope, pk)
    return redirect(_hq_detail(request, pk))


@access(Perm.HQ_CONSOLE)
@access(Perm.MEMBERS_EDIT)
@require_POST
def customer_note(request: HttpRequest, pk: int) -> HttpResponse:
    scope = require_scope(request)
    _in_reach(scope, pk)
    note_action(request, scope, pk)
    return redirect(_hq_detail(request, pk))


@access(Perm.HQ_CONSOLE)
@access(Perm.MEMBERS_EDIT)
@require_POST
def customer_follow_up_done(request: HttpRequest, pk: int, note_id: int) -> HttpResponse:
    scope = require_scope(request)
    _in_reach(scope, pk)
    follow_up_action(request, scope, note_id)
    return redirect(_hq_detail(request, pk))


@access(Perm.HQ_CONSOLE)
@access(Perm.MEMBERS_EDIT)
@require_POST
def customer_consent(request: HttpRequest, pk: int) -> HttpResponse:
    scope = require_scope(request)
    _in_reach(scope, pk)
    form = ConsentForm(request.POST)
    if form.is_valid():
        try:
            d = form.cleaned_data
            profile.record_consent(scope, pk, d["channel"], d["granted"], d["source"])
            messages.success(request, _("Consent recorded."))
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
    else:
        messages.error(request, " ".join(str(e) for errs in form.errors.values() for e in errs))
    return redirect(_hq_detail(request, pk))


def json_download(data: dict[str, Any], filename: str) -> HttpResponse:
    response = HttpResponse(
        json.dumps(data, ensure_ascii=False, indent=2), content_type="application/json; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@access(Perm.HQ_CONSOLE)
@access(Perm.MEMBERS_PRIVACY)
@require_GET
def customer_data_export(request: HttpRequest, pk: int) -> HttpResponse:
    """Her data, decrypted, as a JSON download (PIPL access request)."""
    scope = require_scope(request)
    data = rights.export_customer_data(scope, pk)
    return json_download(data, f"customer-{pk}-{dt.date.today():%Y%m%d}.json")


@access(Perm.HQ_CONSOLE)
@access(Perm.MEMBERS_PRIVACY)
@require_http_methods(["GET", "POST"])
def customer_erase(request: HttpRequest, pk: int) -> HttpResponse:
    """Confirm, then erase her (and every record merged with her) for good."""
    scope = require_scope(request)
    customer = _in_reach(scope, pk)
    form = EraseForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            rights.erase_customer(scope, pk, form.cleaned_data["reason"])
        except ValidationError as exc:
            form.add_error("reason", exc.messages)
        else:
            messages.success(request, _("Customer #%(id)d was erased.") % {"id": pk})
            return redirect("hq:customer_list")
    labels = Labels.of(scope, with_tags=False)
    status = 400 if request.method == "POST" else 200
    return render(
        request, "members/customer_erase.html", {"form": form, "c": display(scope, labels, customer)}, status=status
    )


hq_urlpatterns = [
    path("customers/", customer_list, name="customer_list"),
    path("customers/export.csv", customer_export, name="customer_export"),
    path("customers/export.xlsx", customer_export_xlsx, name="customer_export_xlsx"),
    path("customers/bulk-tag/", customer_bulk_tag, name="customer_bulk_tag"),
    path("customers/<int:pk>/", customer_detail, name="customer_detail"),
    path("customers/<int:pk>/tags/", customer_tag, name="customer_tag"),
    path("customers/<int:pk>/notes/", customer_note, name="customer_note"),
    path("customers/<int:pk>/follow-ups/<int:note_id>/done/", customer_follow_up_done, name="customer_follow_up_done"),
    path("customers/<int:pk>/consent/", customer_consent, name="customer_consent"),
    path("customers/<int:pk>/data.json", customer_data_export, name="customer_data_export"),
    path("customers/<int:pk>/erase/", customer_erase, name="customer_erase"),
]
