"""The store mall's "me" page (public, phone-sized): the customer's own profile, her consent per
channel, a copy of her data (JSON) and erasure of her data (with confirmation).

She is known through the scan flow (``current_customer(request)`` of the scan views, which keeps
her in the session after she scanned a code). Without it the page asks her to scan a store code."""

from __future__ import annotations

import importlib
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from siyu.members import profile, rights
from siyu.members.models import Channel, Customer, Lifecycle
from siyu.members.views import json_download
from siyu.org import services as org
from siyu.platform import privacy
from siyu.platform.access import PUBLIC, access


def current_customer(request: HttpRequest) -> Customer | None:
    """The customer this browser belongs to, from the scan flow (``views_scan.current_customer``)."""
    try:
        scan = importlib.import_module("siyu.members.views_scan")
    except ModuleNotFoundError:
        return None
    found: Any = getattr(scan, "current_customer", lambda r: None)(request)
    if found is None:
        return None
    pk = found if isinstance(found, int) else getattr(found, "pk", None)
    if not isinstance(pk, int):
        return None
    return Customer.objects.filter(pk=pk, erased_at__isnull=True).first()


def _store(customer: Customer | None, store_code: str) -> org.StoreInfo | None:
    if customer is None:
        return None
    return next((s for s in org.stores(customer.brand_id) if s.code == store_code), None)


def _me(request: HttpRequest, store_code: str) -> tuple[Customer | None, org.StoreInfo | None]:
    customer = current_customer(request)
    store = _store(customer, store_code)
    if customer is not None and store is None:
        raise Http404("not found")
    return customer, store


@access(PUBLIC)
@require_http_methods(["GET", "POST"])
def mall_me(request: HttpRequest, store_code: str) -> HttpResponse:
    customer, store = _me(request, store_code)
    if customer is None:
        return render(request, "members/mall_scan_first.html", {"store_code": store_code})
    if request.method == "POST":
        channel = request.POST.get("channel", "")
        if channel in Channel.values:
            profile.record_own_consent(customer.pk, channel, request.POST.get("granted") == "1")
        return redirect("mall_me", store_code=store_code)
    context = {
        "store": store,
        "store_code": store_code,
        "name": privacy.unseal(customer.name_sealed),
        "phone": privacy.mask_phone(privacy.unseal(customer.phone_sealed)),
        "tier": {t.code: t.name for t in profile.tier_levels(customer.brand_id)}.get(customer.tier, customer.tier),
        "lifecycle": Lifecycle(customer.lifecycle).label if customer.lifecycle in Lifecycle.values else "",
        "consent": profile.consent_state(customer.pk),
    }
    return render(request, "members/mall_me.html", context)


@access(PUBLIC)
@require_http_methods(["GET"])
def mall_my_data(request: HttpRequest, store_code: str) -> HttpResponse:
    customer, _store_info = _me(request, store_code)
    if customer is None:
        return redirect("mall_me", store_code=store_code)
    return json_download(rights.export_own_data(customer.pk), "my-data.json")


@access(PUBLIC)
@require_http_methods(["GET", "POST"])
def mall_erase(request: HttpRequest, store_code: str) -> HttpResponse:
    customer, _store_info = _me(request, store_code)
    if customer is None:
        return redirect("mall_me", store_code=store_code)
    error = ""
    if request.method == "POST":
        if request.POST.get("confirm") == "yes":
            rights.erase_own_data(customer.pk)
            return render(request, "members/mall_erased.html", {"store_code": store_code})
        error = _("Tick the box to confirm.")
    status = 400 if error else 200
    return render(request, "members/mall_erase.html", {"store_code": store_code, "error": error}, status=status)


public_urlpatterns = [
    path("m/<slug:store_code>/me/", mall_me, name="mall_me"),
    path("m/<slug:store_code>/me/data.json", mall_my_data, name="mall_my_data"),
    path("m/<slug:store_code>/me/erase/", mall_erase, name="mall_erase"),
]
