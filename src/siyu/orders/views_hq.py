"""The HQ console's order pages (``/hq/orders/``): the list with filters (status, store, channel,
dates, number) and its CSV export, and an order's page (lines, parcels with their store and the
distance they were chosen at, the events timeline, payments and refunds, the return) with cancel
and the return decision where the viewer may. Region and store managers see the orders of their
reach (``services.visible_orders``); the recipient is masked here (HQ does not ship)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from siyu.orders import pos_import as pos_importer
from siyu.orders import services
from siyu.orders.models import Channel, Order, Status
from siyu.orders.views_staff import decide_return_from, flash
from siyu.org import services as org
from siyu.org.services import Perm
from siyu.platform import exports, money, sheets
from siyu.platform.access import access, require_scope
from siyu.platform.pagination import paginate, querystring_without_page
from siyu.platform.tenancy import Scope


class OrderFilter(forms.Form):
    number = forms.CharField(label=gettext_lazy("Order number"), max_length=24, required=False)
    status = forms.ChoiceField(label=gettext_lazy("Status"), required=False)
    store = forms.TypedChoiceField(label=gettext_lazy("Store"), required=False, coerce=int, empty_value=None)
    channel = forms.ChoiceField(label=gettext_lazy("Channel"), required=False)
    since = forms.DateField(label=gettext_lazy("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(label=gettext_lazy("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, scope: Scope, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        every = [("", _("All"))]
        self.fields["status"].choices = every + list(Status.choices)  # type: ignore[attr-defined]
        self.fields["channel"].choices = every + list(Channel.choices)  # type: ignore[attr-defined]
        self.fields["store"].choices = every + [(s.id, f"{s.code} {s.name}") for s in org.visible_stores(scope)]  # type: ignore[attr-defined]


def _day(d: dt.date | None, *, end: bool = False) -> dt.datetime | None:
    if d is None:
        return None
    return timezone.make_aware(dt.datetime.combine(d + dt.timedelta(days=1 if end else 0), dt.time()))


def _filtered(request: HttpRequest, scope: Scope) -> tuple[OrderFilter, QuerySet[Order]]:
    form = OrderFilter(scope, request.GET or None)
    d: dict[str, Any] = form.cleaned_data if form.is_valid() else {}
    qs = services.visible_orders(
        scope,
        status=d.get("status") or None,
        store_id=d.get("store"),
        channel=d.get("channel") or None,
        q=d.get("number") or None,
        since=_day(d.get("since")),
        until=_day(d.get("until"), end=True),
    )
    return form, qs


@access(Perm.HQ_CONSOLE)
@access(Perm.ORDERS_VIEW)
@require_GET
def order_list(request: HttpRequest) -> HttpResponse:
    scope = require_scope(request)
    form, qs = _filtered(request, scope)
    page = paginate(request, qs.select_related("store"), 50)
    rows = [(o, money.format_cny(o.total_fen)) for o in page.object_list]
    context = {"form": form, "page": page, "rows": rows, "qs": querystring_without_page(request)}
    return render(request, "orders/hq/order_list.html", context)


EXPORT_HEADER = [
    "number",
    "placed_at",
    "status",
    "channel",
    "mode",
    "store",
    "city",
    "items_yuan",
    "shipping_yuan",
    "total_yuan",
    "paid_at",
    "completed_at",
    "cancelled_at",
]


@access(Perm.HQ_CONSOLE)
@access(Perm.ORDERS_VIEW)
@require_GET
def order_export(request: HttpRequest) -> StreamingHttpResponse:
    """The filtered list as CSV (streamed; money in yuan, no personal data)."""
    scope = require_scope(request)
    _form, qs = _filtered(request, scope)

    def when(at: dt.datetime | None) -> str:
        return timezone.localtime(at).strftime("%Y-%m-%d %H:%M") if at else ""

    rows = (
        [
            o.number,
            when(o.created_at),
            o.status,
            o.channel,
            o.mode,
            o.store.code,
            o.city,
            money.fen_to_yuan(o.items_fen),
            money.fen_to_yuan(o.shipping_fen),
            money.fen_to_yuan(o.total_fen),
            when(o.paid_at),
            when(o.completed_at),
            when(o.cancelled_at),
        ]
        for o in qs.select_related("store").iterator(chunk_size=2000)
    )
    return exports.csv_response("orders.csv", EXPORT_HEADER, rows)


@access(Perm.HQ_CONSOLE)
@access(Perm.ORDERS_VIEW)
@require_GET
def order_detail(request: HttpRequest, number: str) -> HttpResponse:
    scope = require_scope(request)
    info = services.staff_order(scope, number)
    payments, ret = services.order_money(scope, number)
    stores = {s.id: s for s in org.stores(scope.brand_id)}
    parcels = [
        (f, stores.get(f.store_id), [ln for ln in info.lines if ln.fulfilment_id == f.id]) for f in info.fulfilments
    ]
    context = {
        "o": info,
        "store": stores.get(info.store_id),
        "guide": org.staff_info(scope.brand_id, info.guide_id) if info.guide_id else None,
        "parcels": parcels,
        "payments": [(p, money.format_cny(p.amount_fen)) for p in payments],
        "ret": ret,
        "recipient": services.recipient_of(info.id, masked=True) if info.mode == "delivery" else None,
        "totals": {k: money.format_cny(getattr(info, k)) for k in ("items_fen", "shipping_fen", "total_fen")},
        "lines": [(ln, money.format_cny(ln.unit_price_fen), money.format_cny(ln.amount_fen)) for ln in info.lines],
        "may_cancel": scope.can(Perm.ORDERS_MANAGE) and info.status in (Status.CREATED, Status.PAID, Status.ALLOCATED),
        "may_decide": scope.can(Perm.ORDERS_MANAGE) and info.status == Status.RETURN_REQUESTED,
    }
    return render(request, "orders/hq/order_detail.html", context)


@access(Perm.HQ_CONSOLE)
@access(Perm.ORDERS_MANAGE)
@require_POST
def order_cancel(request: HttpRequest, number: str) -> HttpResponse:
    scope = require_scope(request)
    flash(
        request,
        lambda: services.cancel_by_staff(scope, number, reason=request.POST.get("reason", "")),
        _("The order is cancelled; the stock is freed and any payment refunded."),
    )
    return redirect(reverse("hq:order_detail", args=[number]))


@access(Perm.HQ_CONSOLE)
@access(Perm.ORDERS_MANAGE)
@require_POST
def order_return(request: HttpRequest, number: str) -> HttpResponse:
    decide_return_from(request, require_scope(request), number)
    return redirect(reverse("hq:order_detail", args=[number]))


@access(Perm.HQ_CONSOLE)
@access(Perm.ORDERS_IMPORT)
@require_http_methods(["GET", "POST"])
def pos_import(request: HttpRequest) -> HttpResponse:
    """Import offline POS orders from a CSV or Excel file: an upload is checked (a dry run that
    reports every bad row and changes nothing); the checked file (kept by its sha256) is then
    imported with one more click. Running a file again records nothing twice."""
    scope = require_scope(request)
    report: pos_importer.Report | None = None
    error = ""
    kept: dict[str, str] = {}
    if request.method == "POST":
        try:
            upload = request.FILES.get("file")
            if upload is not None:
                path, sha = pos_importer.store_upload(scope, upload.chunks(), upload.name or "upload.csv")
                kept = {"sha": sha, "file_name": upload.name or "upload.csv"}
                report = pos_importer.import_file(scope, path, kept["file_name"], dry_run=True)
            elif request.POST.get("sha"):
                kept = {"sha": request.POST["sha"], "file_name": request.POST.get("file_name", "upload.csv")}
                path = pos_importer.stored(scope, kept["sha"], kept["file_name"])
                report = pos_importer.import_file(scope, path, kept["file_name"], dry_run=False)
            else:
                error = _("Choose a CSV or Excel file.")
        except (sheets.SheetError, ValueError) as exc:
            error = str(exc)
    context = {"report": report, "error": error, "kept": kept, "columns": list(pos_importer.COLUMNS)}
    return render(request, "orders/hq/pos_import.html", context)


hq_urlpatterns = [
    path("orders/pos-import/", pos_import, name="pos_import"),
    path("orders/", order_list, name="order_list"),
    path("orders/export.csv", order_export, name="order_export"),
    path("orders/<str:number>/", order_detail, name="order_detail"),
    path("orders/<str:number>/cancel/", order_cancel, name="order_cancel"),
    path("orders/<str:number>/return/", order_return, name="order_return"),
]
