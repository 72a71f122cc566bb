"""HQ console and guide workbench pages of the organisation.

Views stay thin: every read goes through the viewer's scope (:func:`restrict` / :func:`get_scoped`),
every write through a verb of :mod:`siyu.org.services`, whose ``ValidationError`` lands on the form
field by field (nothing is written) and whose ``PermissionDenied`` becomes a 403.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

from django import forms as djforms
from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q, QuerySet
from django.forms.models import model_to_dict
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from siyu.members import services as members
from siyu.org import audit_display, services
from siyu.org.forms import (
    AuditFilterForm,
    FranchiseeForm,
    MoveForm,
    OwnPasswordForm,
    RegionForm,
    SetPasswordForm,
    StaffCreateForm,
    StaffEditForm,
    StaffFilterForm,
    StoreFilterForm,
    StoreForm,
    StoreStatusForm,
    TokenForm,
)
from siyu.org.models import ApiToken, Franchisee, Posting, Region, Staff, Store
from siyu.org.rules import PERM_LABELS, ROLE_LABELS, Perm, Role, can_manage_role
from siyu.platform.access import access, require_scope
from siyu.platform.exports import csv_response
from siyu.platform.forms import form_page, submit_valid
from siyu.platform.models import AuditEntry
from siyu.platform.pagination import paginate, querystring_without_page
from siyu.platform.privacy import mask_phone
from siyu.platform.tenancy import Level, Scope, get_scoped, restrict

GUIDE = "guide:login"


# --- Helpers ---------------------------------------------------------------------------------
def _me(request: HttpRequest) -> Staff:
    user = request.user
    if not isinstance(user, Staff):
        raise PermissionDenied("pages are for signed-in staff")
    return user


_submit = submit_valid
_form_page = partial(form_page, template="org/form.html")


def _filters(form: djforms.Form) -> dict[str, Any]:
    """The valid part of a GET filter form (an invalid value is reported and not applied)."""
    form.is_valid()
    return {k: v for k, v in getattr(form, "cleaned_data", {}).items() if v not in (None, "")}


def _list_context(request: HttpRequest, qs: QuerySet[Any], per_page: int = 50) -> dict[str, Any]:
    page = paginate(request, qs, per_page)
    return {"page": page, "rows": page.object_list, "qs": querystring_without_page(request)}


# --- Overview --------------------------------------------------------------------------------
@dataclass
class Bar:
    label: str
    stores: int
    customers: int
    store_pct: float
    customer_pct: float


def _bars(rows: list[tuple[str, int, int]]) -> list[Bar]:
    top_s = max([r[1] for r in rows] + [1])
    top_c = max([r[2] for r in rows] + [1])
    return [Bar(label, s, c, round(100 * s / top_s, 1), round(100 * c / top_c, 1)) for label, s, c in rows]


@access(Perm.HQ_CONSOLE)
@require_GET
def hq_home(request: HttpRequest) -> HttpResponse:
    scope = require_scope(request)
    stores = list(restrict(Store, scope).values("id", "city", "status", "region_id"))
    by_store = members.count_by_store(scope)
    regions = list(restrict(Region, scope).values("id", "code", "name"))
    staff_rows = (
        restrict(Staff, scope)
        .filter(employment=Staff.Employment.ACTIVE)
        .values("role", "region_id", "store__region_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    staff_by_role: Counter[str] = Counter()
    staff_by_region: Counter[int] = Counter()
    for row in staff_rows:
        staff_by_role[row["role"]] += row["n"]
        region_id = row["store__region_id"] or row["region_id"]
        if region_id:
            staff_by_region[region_id] += row["n"]

    per_region: dict[int, dict[str, int]] = defaultdict(lambda: {"stores": 0, "open": 0, "customers": 0})
    per_city: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for s in stores:
        r = per_region[s["region_id"]]
        r["stores"] += 1
        r["open"] += s["status"] == Store.State.OPEN
        r["customers"] += by_store.get(s["id"], 0)
        per_city[s["city"]][0] += 1
        per_city[s["city"]][1] += by_store.get(s["id"], 0)
    region_rows = [
        {**reg, **per_region[reg["id"]], "staff": staff_by_region.get(reg["id"], 0)}
        for reg in regions
        if reg["id"] in per_region or scope.level is Level.BRAND
    ]
    city_bars = _bars(sorted(((c, v[0], v[1]) for c, v in per_city.items()), key=lambda r: (-r[2], r[0])))
    status_counts = Counter(s["status"] for s in stores)
    context = {
        "store_total": len(stores),
        "store_status": [(label, status_counts.get(value, 0)) for value, label in Store.State.choices],
        "staff_total": sum(staff_by_role.values()),
        "staff_roles": [(ROLE_LABELS[r], staff_by_role.get(r.value, 0)) for r in Role],
        "customer_total": members.visible_customers(scope).count(),
        "region_rows": region_rows,
        "city_bars": city_bars,
    }
    return render(request, "org/hq_home.html", context)


# --- Regions ---------------------------------------------------------------------------------
@access(Perm.HQ_CONSOLE)
@require_GET
def region_list(request: HttpRequest) -> HttpResponse:
    scope = require_scope(request)
    rows = restrict(Region, scope).annotate(store_count=Count("stores", distinct=True)).order_by("code")
    return render(request, "org/region_list.html", {"rows": rows})


@access(Perm.ORG_STRUCTURE)
@require_http_methods(["GET", "POST"])
def region_create(request: HttpRequest) -> HttpResponse:
    scope = require_scope(request)
    form = RegionForm(request.POST or None)
    region = _submit(request, form, lambda: services.create_region(scope, **form.changes()))
    if region is not None:
        messages.success(request, _("Region %(name)s created.") % {"name": region.name})
        return redirect("hq:region_list")
    return _form_page(request, form, title=_("New region"), back=reverse("hq:region_list"), submit=_("Create"))


@access(Perm.ORG_STRUCTURE)
@require_http_methods(["GET", "POST"])
def region_edit(request: HttpRequest, pk: int) -> HttpResponse:
    scope = require_scope(request)
    region = get_scoped(Region, scope, pk=pk)
    form = RegionForm(request.POST or None, initial=model_to_dict(region, RegionForm.field_names))
    saved = _submit(request, form, lambda: services.update_region(scope, region.pk, **form.changes()))
    if saved is not None:
        messages.success(request, _("Region %(name)s saved.") % {"name": saved.name})
        return redirect("hq:region_list")
    title = _("Edit region %(name)s") % {"name": region.name}
    return _form_page(request, form, title=title, back=reverse("hq:region_list"), submit=_("Save"))


# --- Franchisees -----------------------------------------------------------------------------
def _franchisees(scope: Scope) -> QuerySet[Franchisee]:
    from django.db.models import Prefetch

    owned = Prefetch("stores", queryset=restrict(Store, scope).order_by("code"), to_attr="stores_in_reach")
    return restrict(Franchisee, scope).prefetch_related(owned).order_by("code")


@access(Perm.HQ_CONSOLE)
@require_GET
def franchisee_list(request: HttpRequest) -> HttpResponse:
    scope = require_scope(request)
    return render(request, "org/franchisee_list.html", {"rows": _franchisees(scope)})


@access(Perm.ORG_STRUCTURE)
@require_http_methods(["GET", "POST"])
def franchisee_create(request: HttpRequest) -> HttpResponse:
    scope = require_scope(request)
    form = FranchiseeForm(request.POST or None)
    created = _submit(request, form, lambda: services.create_franchisee(scope, **form.changes()))
    if created is not None:
        messages.success(request, _("%(name)s created.") % {"name": created.name})
        return redirect("hq:franchisee_list")
    back = reverse("hq:franchisee_list")
    return _form_page(request, form, title=_("New franchisee"), back=back, submit=_("Create"))


@access(Perm.ORG_STRUCTURE)
@require_http_methods(["GET", "POST"])
def franchisee_edit(request: HttpRequest, pk: int) -> HttpResponse:
    scope = require_scope(request)
    franchisee = get_scoped(_franchisees(scope), scope, pk=pk)
    form = FranchiseeForm(request.POST or None, initial=model_to_dict(franchisee, FranchiseeForm.field_names))
    saved = _submit(request, form, lambda: services.update_franchisee(scope, franchisee.pk, **form.changes()))
    if saved is not None:
        messages.success(request, _("%(name)s saved.") % {"name": saved.name})
        return redirect("hq:franchisee_list")
    title = _("Edit %(name)s") % {"name": franchisee.name}
    return _form_page(
        request,
        form,
        title=title,
        back=reverse("hq:franchisee_list"),
        submit=_("Save"),
        owned_stores=franchisee.stores_in_reach,  # type: ignore[attr-defined]
    )


# --- Stores ----------------------------------------------------------------------------------
def _filtered_stores(request: HttpRequest, scope: Scope) -> tuple[StoreFilterForm, QuerySet[Store]]:
    form = StoreFilterForm(scope, request.GET)
    f = _filters(form)
    qs = services.find_stores(scope, q=f.get("q"), city=f.get("city"), region=f.get("region"), status=f.get("status"))
    return form, qs


@access(Perm.HQ_CONSOLE)
@require_GET
def store_list(request: HttpRequest) -> HttpResponse:
    scope = require_scope(request)
    form, qs = _filtered_stores(request, scope)
    qs = (
        qs.select_related("region", "franchisee")
        .annotate(staff_count=Count("staff", filter=Q(staff__employment=Staff.Employment.ACTIVE)))
        .order_by("code")
    )
    context = _list_context(request, qs)
    by_store = members.count_by_store(scope)
    context.update(
        rows=[(store, by_store.get(store.pk, 0)) for store in context["rows"]],
        form=form,
        view="table",
        may_create=scope.can(Perm.ORG_STRUCTURE),
    )
    return render(request, "org/store_list.html", context)


@access(Perm.HQ_CONSOLE)
@require_GET
def store_cities(request: HttpRequest) -> HttpResponse:
    scope = require_scope(request)
    form, qs = _filtered_stores(request, scope)
    by_store = members.count_by_store(scope)
    cities: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for values in qs.order_by("city", "code").values("id", "code", "name", "city", "district", "status"):
        row: dict[str, Any] = dict(values)
        row["customers"] = by_store.get(row["id"], 0)
        row["status_label"] = Store.State(row["status"]).label
        cities[row["city"]].append(row)
    groups = [
        {"city": city, "stores": rows, "open": sum(r["status"] == Store.State.OPEN for r in rows)}
        for city, rows in sorted(cities.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    ]
    context = {"form": form, "groups": groups, "view": "cities", "qs": querystring_without_page(request)}
    return render(request, "org/store_cities.html", context)


@dataclass(frozen=True)
class MapBox:
    """A longitude/latitude window drawn as an equirectangular plot (x stretched by cos(lat))."""

    west: float
    east: float
    south: float
    north: float
    width: int = 800

    @property
    def height(self) -> int:
        mid = math.radians((self.south + self.north) / 2)
        return round(self.width * (self.north - self.south) / ((self.east - self.west) * math.cos(mid)))

    def xy(self, lng: float, lat: float) -> tuple[float, float]:
        x = (lng - self.west) / (self.east - self.west) * self.width
        y = (self.north - lat) / (self.north - self.south) * self.height
        return round(x, 1), round(y, 1)


CHINA = MapBox(west=73.0, east=136.0, south=17.0, north=54.0)


MAP_ASPECT = 0.62  # height / width of a zoomed map


def _fit(points: list[tuple[float, float]]) -> MapBox:
    """The smallest window around the stores (at least ~0.05°, with a margin) at the map's aspect
    ratio, inside China."""
    lngs, lats = [p[0] for p in points], [p[1] for p in points]
    cx, cy = (max(lngs) + min(lngs)) / 2, (max(lats) + min(lats)) / 2
    squeeze = math.cos(math.radians(cy)) * MAP_ASPECT
    half_lng = max((max(lngs) - min(lngs)) / 2 * 1.15, 0.05)
    half_lat = max((max(lats) - min(lats)) / 2 * 1.15, 0.05)
    half_lat = max(half_lat, half_lng * squeeze)
    half_lng = max(half_lng, half_lat / squeeze)
    return MapBox(
        west=max(CHINA.west, cx - half_lng),
        east=min(CHINA.east, cx + half_lng),
        south=max(CHINA.south, cy - half_lat),
        north=min(CHINA.north, cy + half_lat),
    )


def _grid_step(span: float) -> float:
    """A round step giving at most about eight grid lines across ``span`` degrees."""
    for step in (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20):
        if span / step <= 8:
            return float(step)
    return 20.0


def _gridlines(box: MapBox) -> Iterator[dict[str, Any]]:
    step = _grid_step(max(box.east - box.west, box.north - box.south))
    digits = max(0, -math.floor(math.log10(step)))
    first, last = math.ceil(box.west / step), math.floor(box.east / step)
    for i in range(first, last + 1):
        lng = i * step
        x, _y = box.xy(lng, box.north)
        label = f"{lng:.{digits}f}°E"
        yield {"x1": x, "y1": 0, "x2": x, "y2": box.height, "label": label, "lx": x + 2, "ly": box.height - 4}
    first, last = math.ceil(box.south / step), math.floor(box.north / step)
    for i in range(first, last + 1):
        lat = i * step
        _x, y = box.xy(box.west, lat)
        yield {"x1": 0, "y1": y, "x2": box.width, "y2": y, "label": f"{lat:.{digits}f}°N", "lx": 2, "ly": y - 2}


def _place_labels(items: list[tuple[str, float, float]], box: MapBox) -> list[dict[str, Any]]:
    """City labels beside their stores, each moved to the first spot (above, below, right, left)
    that does not cover a label already placed: cities close together stay readable."""
    placed: list[tuple[float, float, float, float]] = []
    labels = []
    for text, x, y in sorted(items, key=lambda it: (it[2], it[1])):
        width = sum(12.5 if ord(ch) > 0x2E80 else 7.0 for ch in text)
        spots = [(x, y - 9, "middle"), (x, y + 19, "middle"), (x + 9, y + 4, "start"), (x - 9, y + 4, "end")]
        chosen = spots[0]
        for lx, ly, anchor in spots:
            left = lx - width / 2 if anchor == "middle" else lx if anchor == "start" else lx - width
            rect = (left, ly - 12, left + width, ly + 2)
            inside = rect[0] >= 0 and rect[2] <= box.width and rect[1] >= 0 and rect[3] <= box.height
            clear = all(rect[2] < r[0] or rect[0] > r[2] or rect[3] < r[1] or rect[1] > r[3] for r in placed)
            if inside and clear:
                chosen = (lx, ly, anchor)
                placed.append(rect)
                break
        labels.append({"text": text, "x": round(chosen[0], 1), "y": round(chosen[1], 1), "anchor": chosen[2]})
    return labels


@access(Perm.HQ_CONSOLE)
@require_GET
def store_map(request: HttpRequest) -> HttpResponse:
    scope = require_scope(request)
    form, qs = _filtered_stores(request, scope)
    rows = list(qs.order_by("code").values("id", "code", "name", "city", "status", "latitude", "longitude"))
    pairs = [(float(r["longitude"]), float(r["latitude"])) for r in rows]
    zoom = request.GET.get("zoom", "")
    fitted = bool(pairs) and (zoom == "fit" or len({r["city"] for r in rows}) == 1)
    box = _fit(pairs) if fitted else CHINA
    points: list[dict[str, Any]] = []
    cities: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for row, (lng, lat) in zip(rows, pairs, strict=True):
        x, y = box.xy(lng, lat)
        points.append({**row, "x": x, "y": y})
        cities[row["city"]].append((x, y))
    if fitted and len(points) <= 60:  # close enough to tell the stores apart: label each one
        items = [(str(p["code"]), float(p["x"]), float(p["y"])) for p in points]
    else:
        items = [
            (f"{c} {len(ps)}", sum(p[0] for p in ps) / len(ps), sum(p[1] for p in ps) / len(ps))
            for c, ps in cities.items()
        ]
    labels = _place_labels(items, box)
    context = {
        "form": form,
        "view": "map",
        "box": box,
        "points": points,
        "labels": labels,
        "grid": list(_gridlines(box)),
        "fitted": fitted,
        "qs": querystring_without_page(request),
    }
    return render(request, "org/store_map.html", context)


@access(Perm.HQ_CONSOLE)
@require_GET
def store_export(request: HttpRequest) -> HttpResponseBase:
    scope = require_scope(request)
    _form, qs = _filtered_stores(request, scope)
    header = [
        _("Code"),
        _("Name"),
        _("Region"),
        _("Owner"),
        _("City"),
        _("District"),
        _("Address"),
        _("Latitude"),
        _("Longitude"),
        _("Opening hours"),
        _("Phone"),
        _("Status"),
        _("Opened on"),
    ]
    rows = (
        [
            s.code,
            s.name,
            s.region.name,
            s.franchisee.name,
            s.city,
            s.district,
            s.address,
            s.latitude,
            s.longitude,
            s.opening_hours,
            s.phone,
            s.get_status_display(),
            s.opened_on or "",
        ]
        for s in qs.select_related("region", "franchisee").order_by("code").iterator(chunk_size=2000)
    )
    return csv_response("stores.csv", header, rows)


def _store_detail(
    request: HttpRequest, scope: Scope, store: Store, *, error: str = "", status: int = 200
) -> HttpResponse:
    staff = restrict(Staff, scope).filter(store=store).order_by("role", "name")
    context = {
        "store": store,
        "staff": staff,
        "customer_count": members.visible_customers(scope, store_id=store.pk).count(),
        "status_choices": Store.State.choices,
        "error": error,
    }
    return render(request, "org/store_detail.html", context, status=status)


def _scoped_store(scope: Scope, pk: int) -> Store:
    return get_scoped(Store.objects.select_related("region", "franchisee"), scope, pk=pk)


@access(Perm.HQ_CONSOLE)
@require_GET
def store_detail(request: HttpRequest, pk: int) -> HttpResponse:
    scope = require_scope(request)
    return _store_detail(request, scope, _scoped_store(scope, pk))


@access(Perm.ORG_STRUCTURE)
@require_http_methods(["GET", "POST"])
def store_create(request: HttpRequest) -> HttpResponse:
    scope = require_scope(request)
    form = StoreForm(scope, request.POST or None, creating=True)
    store = _submit(request, form, lambda: services.create_store(scope, **form.changes()))
    if store is not None:
        messages.success(request, _("Store %(code)s created.") % {"code": store.code})
        return redirect("hq:store_detail", pk=store.pk)
    return _form_page(request, form, title=_("New store"), back=reverse("hq:store_list"), submit=_("Create"))


@access(Perm.ORG_STORE)
@require_http_methods(["GET", "POST"])
def store_edit(request: HttpRequest, pk: int) -> HttpResponse:
    scope = require_scope(request)
    store = _scoped_store(scope, pk)
    form = StoreForm(scope, request.POST or None, initial=model_to_dict(store, StoreForm.field_names))
    saved = _submit(request, form, lambda: services.update_store(scope, store.pk, **form.changes()))
    if saved is not None:
        messages.success(request, _("Store %(code)s saved.") % {"code": saved.code})
        return redirect("hq:store_detail", pk=saved.pk)
    title = _("Edit store %(code)s %(name)s") % {"code": store.code, "name": store.name}
    back = reverse("hq:store_detail", args=[store.pk])
    return _form_page(request, form, title=title, back=back, submit=_("Save"))


@access(Perm.ORG_STORE)
@require_POST
def store_status(request: HttpRequest, pk: int) -> HttpResponse:
    """Open, pause or close a store (closing deactivates it; its history stays)."""
    scope = require_scope(request)
    store = _scoped_store(scope, pk)
    form = StoreStatusForm(request.POST)
    saved = _submit(request, form, lambda: services.set_store_status(scope, store.pk, form.cleaned_data["status"]))
    if saved is None:
        error = " ".join(str(e) for errs in form.errors.values() for e in errs) or _("Choose open, paused or closed.")
        return _store_detail(request, scope, store, error=error, status=400)
    messages.success(
        request, _("Store %(code)s is now %(status)s.") % {"code": saved.code, "status": saved.get_status_display()}
    )
    return redirect("hq:store_detail", pk=saved.pk)


# --- Staff -----------------------------------------------------------------------------------
@access(Perm.HQ_CONSOLE)
@require_GET
def staff_list(request: HttpRequest) -> HttpResponse:
    scope = require_scope(request)
    form = StaffFilterForm(scope, request.GET)
    f = _filters(form)
    qs = services.find_staff(
        scope, q=f.get("q"), role=f.get("role"), store=f.get("store"), employment=f.get("employment")
    ).select_related("store", "region")
    context = _list_context(request, qs.order_by("name", "pk"))
    context["rows"] = [(member, mask_phone(member.phone or "")) for member in context["rows"]]
    context["form"] = form
    context["may_create"] = scope.can(Perm.ORG_STAFF)
    return render(request, "org/staff_list.html", context)


def _may_manage(request: HttpRequest, staff: Staff) -> bool:
    me = _me(request)
    return (
        require_scope(request).can(Perm.ORG_STAFF)
        and staff.pk != me.pk
        and can_manage_role(me.role_enum, staff.role_enum)
    )


def _managed(request: HttpRequest, pk: int) -> Staff:
    """A member of staff in reach (else 404) whom the viewer may manage (else 403)."""
    staff = get_scoped(Staff.objects.select_related("store", "region"), require_scope(request), pk=pk)
    if not _may_manage(request, staff):
        raise PermissionDenied(_("You may not manage this member of staff."))
    return staff


def _may_move(scope: Scope) -> bool:
    """Moving is between two places: only a viewer who reaches more than one store may move staff."""
    return scope.level in (Level.BRAND, Level.REGION)


def _staff_detail(request: HttpRequest, staff: Staff, *, error: str = "", status: int = 200) -> HttpResponse:
    scope = require_scope(request)
    postings = restrict(Posting, scope).filter(staff=staff).select_related("store", "region")
    audit: list[audit_display.Row] = []
    if scope.can(Perm.AUDIT_VIEW):
        entries = restrict(AuditEntry, scope).filter(
            Q(object_type="staff", object_id=str(staff.pk)) | Q(actor_id=staff.pk)
        )[:50]
        audit = audit_display.readable(scope.brand_id, entries)
    manage = _may_manage(request, staff) and staff.employment == Staff.Employment.ACTIVE
    context = {
        "member": staff,
        "masked_phone": mask_phone(staff.phone or ""),
        "postings": postings,
        "audit": audit,
        "may_manage": manage,
        "may_move": manage and _may_move(scope),
        "handover_choices": [g for g in services.visible_staff(scope, role=Role.GUIDE) if g.active and g.id != staff.pk]
        if manage and staff.role == Role.GUIDE
        else [],
        "error": error,
    }
    return render(request, "org/staff_detail.html", context, status=status)


@access(Perm.HQ_CONSOLE)
@require_GET
def staff_detail(request: HttpRequest, pk: int) -> HttpResponse:
    scope = require_scope(request)
    return _staff_detail(request, get_scoped(Staff.objects.select_related("store", "region"), scope, pk=pk))


@access(Perm.ORG_STAFF)
@require_http_methods(["GET", "POST"])
def staff_create(request: HttpRequest) -> HttpResponse:
    scope = require_scope(request)
    form = StaffCreateForm(scope, _me(request).role_enum, request.POST or None)
    staff = _submit(
        request,
        form,
        lambda: services.create_staff(scope, password=form.cleaned_data["password"], **form.changes()),
    )
    if staff is not None:
        messages.success(
            request, _("%(name)s can now sign in as %(username)s.") % {"name": staff.name, "username": staff.username}
        )
        return redirect("hq:staff_detail", pk=staff.pk)
    return _form_page(request, form, title=_("New member of staff"), back=reverse("hq:staff_list"), submit=_("Create"))


@access(Perm.ORG_STAFF)
@require_http_methods(["GET", "POST"])
def staff_edit(request: HttpRequest, pk: int) -> HttpResponse:
    scope = require_scope(request)
    staff = _managed(request, pk)
    form = StaffEditForm(request.POST or None, initial=model_to_dict(staff, StaffEditForm.field_names))
    saved = _submit(request, form, lambda: services.update_staff(scope, staff.pk, **form.changes()))
    if saved is not None:
        messages.success(request, _("%(name)s saved.") % {"name": saved.name})
        return redirect("hq:staff_detail", pk=saved.pk)
    title = _("Edit %(name)s") % {"name": staff.name}
    return _form_page(request, form, title=title, back=reverse("hq:staff_detail", args=[staff.pk]), submit=_("Save"))


@access(Perm.ORG_STAFF)
@require_http_methods(["GET", "POST"])
def staff_move(request: HttpRequest, pk: int) -> HttpResponse:
    scope = require_scope(request)
    staff = _managed(request, pk)
    if not _may_move(scope):
        raise PermissionDenied(_("Moving staff between stores is for region managers and HQ."))
    form = MoveForm(scope, staff, request.POST or None)
    moved = _submit(request, form, lambda: services.move_staff(scope, staff.pk, **form.cleaned_data))
    if moved is not None:
        where = moved.store or moved.region
        messages.success(request, _("%(name)s now works at %(place)s.") % {"name": moved.name, "place": where})
        return redirect("hq:staff_detail", pk=moved.pk)
    title = _("Move %(name)s") % {"name": staff.name}
    back = reverse("hq:staff_detail", args=[staff.pk])
    return _form_page(request, form, title=title, back=back, submit=_("Move"), member=staff)


@access(Perm.ORG_STAFF)
@require_POST
def staff_leave(request: HttpRequest, pk: int) -> HttpResponse:
    scope = require_scope(request)
    staff = _managed(request, pk)
    try:
        to_guides = [int(g) for g in request.POST.getlist("to_guides") if g.isdigit()] or None
        services.mark_staff_left(scope, staff.pk, to_guides=to_guides)
    except ValidationError as exc:
        return _staff_detail(request, staff, error=" ".join(exc.messages), status=400)
    messages.success(request, _("%(name)s is marked as left and can no longer sign in.") % {"name": staff.name})
    return redirect("hq:staff_detail", pk=staff.pk)


@access(Perm.ORG_STAFF)
@require_http_methods(["GET", "POST"])
def staff_password(request: HttpRequest, pk: int) -> HttpResponse:
    scope = require_scope(request)
    staff = _managed(request, pk)
    form = SetPasswordForm(request.POST or None)
    saved = _submit(request, form, lambda: services.set_staff_password(scope, staff.pk, form.cleaned_data["password"]))
    if saved is not None:
        messages.success(request, _("A new password is set for %(name)s.") % {"name": saved.name})
        return redirect("hq:staff_detail", pk=saved.pk)
    title = _("Reset the password of %(name)s") % {"name": staff.name}
    back = reverse("hq:staff_detail", args=[staff.pk])
    return _form_page(request, form, title=title, back=back, submit=_("Set password"))


# --- Audit log -------------------------------------------------------------------------------
@access(Perm.AUDIT_VIEW)
@require_GET
def audit_list(request: HttpRequest) -> HttpResponse:
    scope = require_scope(request)
    qs = restrict(AuditEntry, scope)
    types = list(qs.order_by("object_type").values_list("object_type", flat=True).distinct())
    form = AuditFilterForm(types, request.GET)
    f = _filters(form)
    if "object_type" in f:
        qs = qs.filter(object_type=f["object_type"])
    if actor := f.get("actor", "").strip():
        qs = qs.filter(actor_label__icontains=actor)
    context = _list_context(request, qs.order_by("-at", "-id"))
    context["form"] = form
    context["rows"] = audit_display.readable(scope.brand_id, context["rows"])  # names, masked personal data
    return render(request, "org/audit_list.html", context)


# --- API tokens ------------------------------------------------------------------------------
@access(Perm.TOKENS)
@require_GET
def token_list(request: HttpRequest) -> HttpResponse:
    scope = require_scope(request)
    rows = restrict(ApiToken, scope).select_related("store", "created_by").order_by("-created_at", "-id")
    for token in rows:
        token.perm_names = [PERM_LABELS.get(p, p) for p in token.perms]  # type: ignore[attr-defined]
    return render(request, "org/token_list.html", {"rows": rows})


@access(Perm.TOKENS)
@require_http_methods(["GET", "POST"])
def token_create(request: HttpRequest) -> HttpResponse:
    """Issue a token. The secret is in this one response only: it is neither stored nor shown again."""
    scope = require_scope(request)
    form = TokenForm(scope, request.POST or None)
    issued = _submit(request, form, lambda: services.issue_token(scope, **form.cleaned_data))
    if issued is not None:
        token, secret = issued
        response = render(request, "org/token_created.html", {"token": token, "secret": secret})
        response["Cache-Control"] = "no-store"
        return response
    return _form_page(request, form, title=_("New API token"), back=reverse("hq:token_list"), submit=_("Issue"))


@access(Perm.TOKENS)
@require_POST
def token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    scope = require_scope(request)
    token = services.revoke_token(scope, get_scoped(ApiToken, scope, pk=pk).pk)
    messages.success(request, _("Token %(name)s is revoked.") % {"name": token.name})
    return redirect("hq:token_list")


# --- Guide workbench -------------------------------------------------------------------------
def _my_store(scope: Scope) -> Store | None:
    if scope.store_id is None:
        return None
    return get_scoped(Store.objects.select_related("region"), scope, pk=scope.store_id)


@access(Perm.GUIDE_WORKBENCH, login_url=GUIDE)
@require_GET
def guide_home(request: HttpRequest) -> HttpResponse:
    scope = require_scope(request)
    context = {
        "store": _my_store(scope),
        "customer_count": members.visible_customers(scope).count(),
        "follow_ups_due": members.follow_ups_due(scope).count(),
    }
    return render(request, "org/guide_home.html", context)


@access(Perm.GUIDE_WORKBENCH, login_url=GUIDE)
@require_GET
def guide_store(request: HttpRequest) -> HttpResponse:
    scope = require_scope(request)
    store = _my_store(scope)
    colleagues: QuerySet[Staff] | list[Staff] = []
    if store is not None:
        # Names and roles of the people of her own store (a scoped row): nothing more about them.
        colleagues = (
            store.staff.filter(employment=Staff.Employment.ACTIVE)
            .exclude(pk__in=[scope.staff_id or 0])
            .order_by("role", "name")
        )
    return render(request, "org/guide_store.html", {"store": store, "colleagues": colleagues})


@access(Perm.GUIDE_WORKBENCH, login_url=GUIDE)
@require_GET
def guide_profile(request: HttpRequest) -> HttpResponse:
    me = _me(request)
    return render(request, "org/guide_profile.html", {"me": me, "masked_phone": mask_phone(me.phone or "")})


@access(Perm.GUIDE_WORKBENCH, login_url=GUIDE)
@require_http_methods(["GET", "POST"])
def guide_password(request: HttpRequest) -> HttpResponse:
    scope = require_scope(request)
    form = OwnPasswordForm(request.POST or None)
    saved = _submit(
        request,
        form,
        lambda: services.change_own_password(
            scope, old_password=form.cleaned_data["old_password"], new_password=form.cleaned_data["new_password"]
        ),
    )
    if saved is not None:
        update_session_auth_hash(request, saved)
        messages.success(request, _("Your password is changed."))
        return redirect("guide:profile")
    status = 400 if request.method == "POST" else 200
    return render(request, "org/guide_password.html", {"form": form}, status=status)


hq_urlpatterns = [
    path("", hq_home, name="home"),
    path("regions/", region_list, name="region_list"),
    path("regions/new/", region_create, name="region_create"),
    path("regions/<int:pk>/edit/", region_edit, name="region_edit"),
    path("franchisees/", franchisee_list, name="franchisee_list"),
    path("franchisees/new/", franchisee_create, name="franchisee_create"),
    path("franchisees/<int:pk>/edit/", franchisee_edit, name="franchisee_edit"),
    path("stores/", store_list, name="store_list"),
    path("stores/cities/", store_cities, name="store_cities"),
    path("stores/map/", store_map, name="store_map"),
    path("stores/export.csv", store_export, name="store_export"),
    path("stores/new/", store_create, name="store_create"),
    path("stores/<int:pk>/", store_detail, name="store_detail"),
    path("stores/<int:pk>/edit/", store_edit, name="store_edit"),
    path("stores/<int:pk>/status/", store_status, name="store_status"),
    path("staff/", staff_list, name="staff_list"),
    path("staff/new/", staff_create, name="staff_create"),
    path("staff/<int:pk>/", staff_detail, name="staff_detail"),
    path("staff/<int:pk>/edit/", staff_edit, name="staff_edit"),
    path("staff/<int:pk>/move/", staff_move, name="staff_move"),
    path("staff/<int:pk>/leave/", staff_leave, name="staff_leave"),
    path("staff/<int:pk>/password/", staff_password, name="staff_password"),
    path("audit/", audit_list, name="audit_list"),
    path("tokens/", token_list, name="token_list"),
    path("tokens/new/", token_create, name="token_create"),
    path("tokens/<int:pk>/revoke/", token_revoke, name="token_revoke"),
]
guide_urlpatterns = [
    path("", guide_home, name="home"),
    path("store/", guide_store, name="store"),
    path("me/", guide_profile, name="profile"),
    path("me/password/", guide_password, name="password"),
]
