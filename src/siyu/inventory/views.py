"""The HQ console's stock pages (``/hq/stock/``): a store's stock per SKU with search by SKU or
style code and the city-wide totals beside it; the movements ledger of a store or one SKU; forms
for a receipt, a stock-take adjustment and a transfer between stores (each carries an idempotency
key drawn when the form is shown, so a form sent twice moves stock once); the brand's allocation
policy (HQ); the ledger check. Region and store managers see and change the stores of their reach
only: :mod:`siyu.inventory.services` checks it."""

from __future__ import annotations

import secrets
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods

from siyu.catalog import services as catalog
from siyu.inventory import services
from siyu.inventory.models import SplitPolicy
from siyu.org import services as org
from siyu.org.services import Perm
from siyu.platform.access import access, require_scope
from siyu.platform.forms import apply_errors
from siyu.platform.tenancy import Level, Scope


def _store_choices(scope: Scope) -> list[tuple[int, str]]:
    return [(s.id, f"{s.code} {s.name}") for s in org.visible_stores(scope)]


def _chosen_store(request: HttpRequest, scope: Scope) -> org.StoreInfo | None:
    stores = org.visible_stores(scope)
    raw = request.GET.get("store", "")
    chosen = next((s for s in stores if str(s.id) == raw), None)
    if chosen is None and scope.store_id is not None:
        chosen = next((s for s in stores if s.id == scope.store_id), None)
    return chosen or (stores[0] if stores else None)


def parse_lines(brand_id: int, text: str) -> dict[int, int]:
    """``SKU code, quantity`` per line (a comma, a tab or spaces between) -> SKU id -> units."""
    pairs: list[tuple[int, str, str]] = []
    for n, raw in enumerate((text or "").splitlines(), start=1):
        cells = [c for c in raw.replace(",", " ").replace("\t", " ").split() if c]
        if not cells:
            continue
        if len(cells) != 2 or not cells[1].isdigit():
            raise ValidationError(
                {"lines": _("Line %(n)d: write a SKU code and a quantity, e.g. R100-40, 5.") % {"n": n}}
            )
        pairs.append((n, cells[0], cells[1]))
    ids = catalog.sku_ids_by_code(brand_id, [code for _n, code, _q in pairs])
    unknown = [code for _n, code, _q in pairs if code not in ids]
    if unknown:
        raise ValidationError({"lines": _("Unknown SKU code(s): %(codes)s.") % {"codes": ", ".join(unknown)}})
    out: dict[int, int] = {}
    for _n, code, qty in pairs:
        out[ids[code]] = out.get(ids[code], 0) + int(qty)
    if not out:
        raise ValidationError({"lines": _("Give at least one SKU and quantity.")})
    return out


class _KeyedForm(forms.Form):
    key = forms.CharField(widget=forms.HiddenInput, max_length=100)

    def __init__(self, scope: Scope, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.scope = scope
        if not self.is_bound:
            self.initial["key"] = f"web:{secrets.token_hex(8)}"
        for name in ("store", "to_store"):
            if name in self.fields:
                self.fields[name].choices = _store_choices(scope)  # type: ignore[attr-defined]


class ReceiveForm(_KeyedForm):
    store = forms.TypedChoiceField(label=gettext_lazy("Store"), coerce=int)
    lines = forms.CharField(
        label=gettext_lazy("SKU code, quantity (one per line)"),
        widget=forms.Textarea(attrs={"rows": 6}),
        max_length=20000,
    )
    reference = forms.CharField(label=gettext_lazy("Delivery note"), max_length=60, required=False)


class AdjustForm(_KeyedForm):
    store = forms.TypedChoiceField(label=gettext_lazy("Store"), coerce=int)
    sku = forms.CharField(label=gettext_lazy("SKU code"), max_length=40)
    counted = forms.IntegerField(label=gettext_lazy("Counted"), min_value=0, max_value=services.MAX_QUANTITY)
    reason = forms.CharField(label=gettext_lazy("Reason"), max_length=200)


class TransferForm(_KeyedForm):
    store = forms.TypedChoiceField(label=gettext_lazy("From store"), coerce=int)
    to_store = forms.TypedChoiceField(label=gettext_lazy("To store"), coerce=int)
    lines = forms.CharField(
        label=gettext_lazy("SKU code, quantity (one per line)"),
        widget=forms.Textarea(attrs={"rows": 6}),
        max_length=20000,
    )
    note = forms.CharField(label=gettext_lazy("Note"), max_length=200, required=False)

    def __init__(self, scope: Scope, *args: Any, **kwargs: Any) -> None:
        super().__init__(scope, *args, **kwargs)
        self.fields["to_store"].choices = [(s.id, f"{s.code} {s.name}") for s in org.stores(scope.brand_id)]  # type: ignore[attr-defined]


class PolicyForm(forms.Form):
    split = forms.ChoiceField(label=gettext_lazy("When no single store can fill an order"), choices=SplitPolicy.choices)
    hold_minutes = forms.IntegerField(
        label=gettext_lazy("Hold stock during checkout (minutes)"), min_value=5, max_value=120
    )
    beyond_city = forms.BooleanField(
        label=gettext_lazy("Ship from other cities when the customer's city cannot fill a line"), required=False
    )


def _apply(form: _KeyedForm) -> bool | None:
    """Run the form's stock verb; ``None`` when it failed (the errors are on the form)."""
    d = form.cleaned_data
    scope = form.scope
    try:
        if isinstance(form, ReceiveForm):
            return services.receive(
                scope, d["store"], parse_lines(scope.brand_id, d["lines"]), key=d["key"], reference=d["reference"]
            )
        if isinstance(form, TransferForm):
            return services.transfer(
                scope, d["store"], d["to_store"], parse_lines(scope.brand_id, d["lines"]), key=d["key"], note=d["note"]
            )
        assert isinstance(form, AdjustForm)
        sku = catalog.sku_ids_by_code(scope.brand_id, [d["sku"]]).get(d["sku"].strip())
        if sku is None:
            raise ValidationError({"sku": _("Unknown SKU code.")})
        return services.adjust(scope, d["store"], sku, counted=d["counted"], reason=d["reason"], key=d["key"])
    except services.StockError as exc:
        form.add_error(None, str(exc))
    except ValidationError as exc:
        apply_errors(form, exc)
    return None


def _stock_form(request: HttpRequest, form_class: type[_KeyedForm], title: str, done: str) -> HttpResponse:
    scope = require_scope(request)
    if request.method == "POST":
        form = form_class(scope, request.POST)
        if form.is_valid():
            moved = _apply(form)
            if moved is not None:
                messages.success(
                    request,
                    done if moved else _("Nothing changed: this form was sent before, or the count is the same."),
                )
                return redirect(reverse("hq:stock_list") + f"?store={form.cleaned_data['store']}")
    else:
        initial = {"store": request.GET.get("store")} if request.GET.get("store") else {}
        form = form_class(scope, initial=initial)
    return render(request, "inventory/stock_form.html", {"form": form, "title": title})


@access(Perm.HQ_CONSOLE)
@access(Perm.STOCK_VIEW)
@require_GET
def stock_list(request: HttpRequest) -> HttpResponse:
    """A store's stock per SKU (search by SKU or style code), with its city's totals."""
    scope = require_scope(request)
    store = _chosen_store(request, scope)
    q = request.GET.get("q", "").strip()[:40]
    rows: list[dict[str, Any]] = []
    if store is not None:
        sku_ids = catalog.sku_ids_matching(scope.brand_id, q) if q else None
        found = services.store_levels(scope, store.id, sku_ids)[:500]
        ids = [lv.sku_id for lv in found]
        skus = catalog.sku_prices(scope.brand_id, ids)
        city = services.city_stock(scope.brand_id, store.city, ids)
        rows = [{"level": lv, "sku": skus.get(lv.sku_id), "city": city.get(lv.sku_id, 0)} for lv in found]
    context = {
        "stores": org.visible_stores(scope),
        "store": store,
        "q": q,
        "rows": rows,
        "can_manage": scope.can(Perm.STOCK_MANAGE),
        "is_hq": scope.level is Level.BRAND,
    }
    return render(request, "inventory/stock_list.html", context)


@access(Perm.HQ_CONSOLE)
@access(Perm.STOCK_VIEW)
@require_GET
def stock_ledger(request: HttpRequest) -> HttpResponse:
    """The movements of a store (of one SKU when ``sku`` names a SKU code), newest first."""
    scope = require_scope(request)
    store = _chosen_store(request, scope)
    code = request.GET.get("sku", "").strip()[:40]
    sku_id = catalog.sku_ids_by_code(scope.brand_id, [code]).get(code) if code else None
    rows = []
    if store is not None and not (code and sku_id is None):
        rows = services.movements(scope, store.id, sku_id=sku_id)
    skus = catalog.sku_prices(scope.brand_id, {m.sku_id for m in rows})
    context = {
        "stores": org.visible_stores(scope),
        "store": store,
        "sku": code,
        "unknown_sku": bool(code and sku_id is None),
        "rows": [(m, skus.get(m.sku_id)) for m in rows],
    }
    return render(request, "inventory/stock_ledger.html", context)


@access(Perm.HQ_CONSOLE)
@access(Perm.STOCK_MANAGE)
@require_http_methods(["GET", "POST"])
def stock_receive(request: HttpRequest) -> HttpResponse:
    return _stock_form(request, ReceiveForm, _("Receive goods"), _("Received: the stock is up."))


@access(Perm.HQ_CONSOLE)
@access(Perm.STOCK_MANAGE)
@require_http_methods(["GET", "POST"])
def stock_adjust(request: HttpRequest) -> HttpResponse:
    return _stock_form(request, AdjustForm, _("Stock-take adjustment"), _("The count is corrected."))


@access(Perm.HQ_CONSOLE)
@access(Perm.STOCK_MANAGE)
@require_http_methods(["GET", "POST"])
def stock_transfer(request: HttpRequest) -> HttpResponse:
    return _stock_form(request, TransferForm, _("Transfer between stores"), _("Transferred."))


@access(Perm.HQ_CONSOLE)
@access(Perm.ORDERS_MANAGE)
@require_http_methods(["GET", "POST"])
def stock_policy(request: HttpRequest) -> HttpResponse:
    """The brand's allocation policy (HQ only: the service refuses others)."""
    scope = require_scope(request)
    if scope.level is not Level.BRAND:
        raise PermissionDenied(_("Only HQ may set the allocation policy."))
    current = services.allocation_policy(scope.brand_id)
    if request.method == "POST":
        form = PolicyForm(request.POST)
        if form.is_valid():
            try:
                services.set_allocation_policy(scope, **form.cleaned_data)
            except ValidationError as exc:
                apply_errors(form, exc)
            else:
                messages.success(request, _("The allocation policy is saved."))
                return redirect("hq:stock_policy")
    else:
        form = PolicyForm(
            initial={"split": current.split, "hold_minutes": current.hold_minutes, "beyond_city": current.beyond_city}
        )
    return render(request, "inventory/stock_form.html", {"form": form, "title": _("Allocation policy")})


@access(Perm.HQ_CONSOLE)
@access(Perm.STOCK_VIEW)
@require_GET
def stock_check(request: HttpRequest) -> HttpResponse:
    """Every (store, SKU) whose quantities differ from the sum of its movements: empty when the
    ledger balances. HQ only (it reads the whole brand)."""
    scope = require_scope(request)
    if scope.level is not Level.BRAND:
        raise PermissionDenied(_("Only HQ checks the whole ledger."))
    mismatches = services.check_ledger(scope.brand_id)
    names = {s.id: f"{s.code} {s.name}" for s in org.stores(scope.brand_id)}
    skus = catalog.sku_prices(scope.brand_id, {m.sku_id for m in mismatches})
    rows = [(m, names.get(m.store_id, m.store_id), skus.get(m.sku_id)) for m in mismatches]
    return render(request, "inventory/stock_check.html", {"rows": rows})


hq_urlpatterns = [
    path("stock/", stock_list, name="stock_list"),
    path("stock/ledger/", stock_ledger, name="stock_ledger"),
    path("stock/receive/", stock_receive, name="stock_receive"),
    path("stock/adjust/", stock_adjust, name="stock_adjust"),
    path("stock/transfer/", stock_transfer, name="stock_transfer"),
    path("stock/policy/", stock_policy, name="stock_policy"),
    path("stock/check/", stock_check, name="stock_check"),
]
