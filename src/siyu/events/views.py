"""The HQ event explorer (group "Insight"): a customer's or a store's recent events and how many events
of each type arrived per day, drawn as an inline SVG like the other HQ charts (no script)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django import forms
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from siyu.events import services
from siyu.members import services as members
from siyu.org import services as org
from siyu.org.services import Perm
from siyu.platform import money
from siyu.platform.access import access, require_scope
from siyu.platform.tenancy import Level

DAYS = (
    (7, gettext_lazy("7 days")),
    (14, gettext_lazy("14 days")),
    (30, gettext_lazy("30 days")),
    (90, gettext_lazy("90 days")),
)


class ExplorerForm(forms.Form):
    customer = forms.IntegerField(label=gettext_lazy("Customer id"), required=False, min_value=1)
    store = forms.TypedChoiceField(label=gettext_lazy("Store"), coerce=int, required=False, empty_value=None)
    days = forms.TypedChoiceField(label=gettext_lazy("Period"), coerce=int, choices=DAYS, initial=14, required=False)


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    height: float
    title: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    bar_width: float
    bars: list[Bar]
    top: int
    first: str
    last: str


def day_chart(
    counts: dict[str, dict[dt.date, int]], first: dt.date, days: int, width: int = 640, height: int = 180
) -> Chart:
    """One bar a day (every type together), its title naming the count of each type."""
    pad_x, pad_top, pad_bottom = 8.0, 12.0, 20.0
    totals = {first + dt.timedelta(days=i): 0 for i in range(days)}
    for per_day in counts.values():
        for day, n in per_day.items():
            if day in totals:
                totals[day] += n
    top = max(totals.values(), default=0) or 1
    inner_w, inner_h = width - 2 * pad_x, height - pad_top - pad_bottom
    step = inner_w / days
    bars = []
    for i, (day, total) in enumerate(sorted(totals.items())):
        h = inner_h * total / top
        parts = ", ".join(f"{kind} {per[day]}" for kind, per in sorted(counts.items()) if per.get(day))
        bars.append(
            Bar(
                round(pad_x + i * step, 1),
                round(pad_top + inner_h - h, 1),
                round(h, 1),
                f"{day:%m-%d} · {total}" + (f" ({parts})" if parts else ""),
            )
        )
    return Chart(
        width,
        height,
        round(max(step - 2, 1), 1),
        bars,
        top,
        f"{first:%m-%d}",
        f"{first + dt.timedelta(days=days - 1):%m-%d}",
    )


@access(Perm.HQ_CONSOLE)
@access(Perm.MEMBERS_VIEW)
@require_GET
def event_explorer(request: HttpRequest) -> HttpResponse:
    scope = require_scope(request)
    stores = org.visible_stores(scope)
    form = ExplorerForm(request.GET or None)
    choices = [("", "—"), *((s.id, f"{s.code} {s.name}") for s in stores)]
    form.fields["store"].choices = choices  # type: ignore[attr-defined]
    data: dict[str, Any] = form.cleaned_data if form.is_bound and form.is_valid() else {}
    days = int(data.get("days") or 14)
    customer_id = data.get("customer")
    store_id = data.get("store")
    customer = None
    customer_ids = None
    if customer_id:
        customer = members.customer_row(scope, int(customer_id))  # 404 out of reach
        customer_ids = members.cluster_ids(int(customer_id))
    if store_id is not None and all(s.id != store_id for s in stores):
        raise Http404
    if customer_ids is None and store_id is None and scope.level != Level.BRAND:
        # Below HQ a viewer sees her own reach only: her store, or the first of her region's.
        store_id = scope.store_id or (stores[0].id if stores else 0)
    now = timezone.now()
    counts = services.counts_by_type(scope.brand_id, days=days, customer_ids=customer_ids, store_id=store_id, now=now)
    first = (now - dt.timedelta(days=days - 1)).astimezone(dt.UTC).date()
    recent = services.recent_events(scope.brand_id, customer_ids=customer_ids, store_id=store_id, limit=50)
    names = {s.id: f"{s.code} {s.name}" for s in stores}
    rows = [
        (
            e,
            names.get(e.store_id or 0, e.store_id or ""),
            money.format_cny(e.amount_fen) if e.amount_fen is not None else "",
        )
        for e in recent
    ]
    totals = sorted(((kind, sum(per.values())) for kind, per in counts.items()), key=lambda t: (-t[1], t[0]))
    context = {
        "form": form,
        "customer": customer,
        "store_name": names.get(store_id or 0, ""),
        "days": days,
        "chart": day_chart(counts, first, days),
        "totals": totals,
        "rows": rows,
    }
    return render(request, "events/hq/explorer.html", context)


hq_urlpatterns = [path("events/", event_explorer, name="event_explorer")]
