"""The customer's side of orders in the store mall (public, phone-sized): the cart, checkout
(delivery or pickup at a store of the city, nearest first), the sandbox payment step, her orders,
tracking (timeline, parcels with their store and distance, cancel, confirm receipt, return),
reorder, and sharing a product with her referral link.

She is known by the scan flow's signed cookie. The composition layer (``siyu/urls.py``) hands the
scan module over (:func:`urlpatterns_with`): orders never import the customer domain's views. A
visitor the mall does not know yet who puts something in her cart becomes a customer from her
visitor openid, exactly as a scan would make her, and is remembered the same way.

A share link (``?c=<token>`` on a mall page) is remembered in a signed cookie by
:class:`ReferralMiddleware`; an order placed afterwards records that code and its guide.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from siyu.members import services as members
from siyu.orders import rules
from siyu.orders import services as orders
from siyu.orders.models import Fulfilment, Mode, Status
from siyu.org import services as org
from siyu.org.services import StoreInfo
from siyu.platform import clock, geo
from siyu.platform.access import PUBLIC, access

Scan = Any  # the scan flow's module (siyu.members.views_scan), handed over by siyu/urls.py

REFERRAL_COOKIE = "siyu_ref"
REFERRAL_SALT = "siyu.orders.referral"
REFERRAL_AGE = 30 * 24 * 3600  # a share link brings the orders of the next 30 days
APP_ID = "h5-sandbox"  # the mini-program stand-in's app id (the scan flow's openids)


# --- The share link a visitor arrived with -------------------------------------------------------
class ReferralMiddleware:
    """Remember ``?c=<token>`` of a mall page (``/m/...``) in a signed cookie, so the order she
    places later records the share link (or code) and its guide."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        token = request.GET.get("c", "") if request.method == "GET" else ""
        if token and request.path.startswith("/m/") and 0 < len(token) <= 32 and token.isascii():
            response.set_signed_cookie(
                REFERRAL_COOKIE, token, salt=REFERRAL_SALT, max_age=REFERRAL_AGE, httponly=True, samesite="Lax"
            )
        return response


def referral(request: HttpRequest, brand_id: int, customer_id: int) -> tuple[int | None, int | None]:
    """(code id, guide id) of the live code of this brand she arrived through; her own share link
    brings nothing."""
    token = request.get_signed_cookie(REFERRAL_COOKIE, default=None, salt=REFERRAL_SALT)
    code = members.code_by_token(token) if isinstance(token, str) else None
    if code is None or code.brand_id != brand_id or not members.code_is_live(code):
        return None, None
    if code.shared_by_id is not None and code.shared_by_id in members.cluster_ids(customer_id):
        return None, None
    return code.pk, code.guide_id


# --- Who and where --------------------------------------------------------------------------------
def _store(request: HttpRequest, store_code: str, customer: Any) -> StoreInfo:
    """The open store of ``/m/<store>/`` (of her brand when she is known), else 404."""
    found = [s for s in org.stores_with_code(store_code) if s.status == "open"]
    if customer is not None:
        found = [s for s in found if s.brand_id == customer.brand_id]
    if len(found) != 1:
        raise Http404("not found")
    return found[0]


def _me(request: HttpRequest, store_code: str, scan: Scan) -> tuple[Any, StoreInfo]:
    customer = scan.current_customer(request)
    return customer, _store(request, store_code, customer)


def _remember(scan: Scan, response: HttpResponse, openid: str, customer_id: int) -> None:
    for name, value in ((scan.VISITOR_COOKIE, openid), (scan.CUSTOMER_COOKIE, str(customer_id))):
        response.set_signed_cookie(name, value, salt=scan.SALT, max_age=scan.MAX_AGE, httponly=True, samesite="Lax")


def _customer_for_cart(request: HttpRequest, scan: Scan, store: StoreInfo) -> tuple[Any, str | None]:
    """Her customer record; a visitor not known yet becomes one from her visitor openid (as a scan
    of the store's code would make her). Returns (customer, openid to remember or None)."""
    customer = scan.current_customer(request)
    if customer is not None:
        return customer, None
    openid = scan.visitor_openid(request) or "h5-" + secrets.token_urlsafe(18)
    customer, _created = members.resolve(
        store.brand_id,
        [members.IdentityIn("openid", openid, app_id=APP_ID)],
        source="mini_program",
        store_id=store.id,
    )
    return customer, openid


def _page(request: HttpRequest, template: str, context: dict[str, Any], status: int = 200) -> HttpResponse:
    store = context["store"]
    context.setdefault("back_url", reverse("mall_store", args=[store.code]))
    return render(request, f"orders/mall/{template}", context, status=status)


def _need_customer(request: HttpRequest, store: StoreInfo) -> HttpResponse:
    return _page(request, "sign_in_first.html", {"store": store}, status=200)


def _store_names(brand_id: int) -> dict[int, StoreInfo]:
    return {s.id: s for s in org.stores(brand_id)}


# --- Cart -------------------------------------------------------------------------------------------
@access(PUBLIC)
@require_POST
def cart_add(request: HttpRequest, store_code: str, scan: Scan = None) -> HttpResponse:
    customer = scan.current_customer(request)
    store = _store(request, store_code, customer)
    raw = request.POST.get("sku", "")
    if not raw.isdigit():
        raise Http404("not found")
    customer, openid = _customer_for_cart(request, scan, store)
    try:
        orders.add_to_cart(store.brand_id, customer.pk, int(raw), request.POST.get("quantity", "1"), store_id=store.id)
    except ValidationError as exc:
        context = {"store": store, "errors": exc.messages, "cart": _cart(store, customer)}
        response = _page(request, "cart.html", context, status=400)
    else:
        response = redirect("mall_cart", store_code=store.code)
    if openid is not None:
        _remember(scan, response, openid, customer.pk)
    return response


def _cart(store: StoreInfo, customer: Any) -> orders.CartInfo:
    return orders.cart_of(store.brand_id, customer.pk, store_id=store.id, city=store.city)


@access(PUBLIC)
@require_http_methods(["GET", "POST"])
def cart(request: HttpRequest, store_code: str, scan: Scan = None) -> HttpResponse:
    customer, store = _me(request, store_code, scan)
    if customer is None:
        return _page(request, "cart.html", {"store": store, "cart": None})
    errors: list[str] = []
    if request.method == "POST":
        raw = request.POST.get("sku", "")
        if not raw.isdigit():
            raise Http404("not found")
        try:
            if request.POST.get("remove"):
                orders.remove_from_cart(store.brand_id, customer.pk, int(raw))
            else:
                orders.set_cart_quantity(store.brand_id, customer.pk, int(raw), request.POST.get("quantity", ""))
        except ValidationError as exc:
            errors = exc.messages
        else:
            return redirect("mall_cart", store_code=store.code)
    context = {"store": store, "cart": _cart(store, customer), "errors": errors}
    return _page(request, "cart.html", context, status=400 if errors else 200)


# --- Checkout ---------------------------------------------------------------------------------------
def _pickup_choices(store: StoreInfo, city: str) -> list[tuple[StoreInfo, int]]:
    """The open stores of ``city``, nearest to the store she is shopping at first."""
    open_here = [s for s in org.stores(store.brand_id, open_only=True) if s.city == city]
    ranked = geo.by_distance(((s, s.latitude, s.longitude) for s in open_here), (store.latitude, store.longitude))
    return [(n.key, n.distance_m) for n in ranked]


def _coord(raw: str) -> float | None:
    try:
        return float(raw) if raw.strip() else None
    except ValueError:
        return None


def _out_of_stock_message(exc: orders.OutOfStock, current: orders.CartInfo) -> list[str]:
    by_sku = {ln.sku_id: ln for ln in current.lines}
    lines = []
    for sku, missing in sorted(exc.short.items()):
        ln = by_sku.get(sku)
        if ln is None:
            continue
        left = max(0, ln.quantity - missing)
        lines.append(
            _("%(name)s %(color)s %(size)s: you asked for %(wanted)d, %(left)d left")
            % {"name": ln.product_name, "color": ln.color, "size": ln.size, "wanted": ln.quantity, "left": left}
        )
    return [_("Some items ran out while you were choosing; nothing was ordered:"), *lines]


@access(PUBLIC)
@require_http_methods(["GET", "POST"])
def checkout(request: HttpRequest, store_code: str, scan: Scan = None) -> HttpResponse:
    customer, store = _me(request, store_code, scan)
    if customer is None:
        return _need_customer(request, store)
    current = _cart(store, customer)
    if not current.lines:
        return redirect("mall_cart", store_code=store.code)
    data = request.POST if request.method == "POST" else None
    city = ((data.get("city") if data is not None else "") or store.city).strip()[:40]
    errors: list[str] = []
    field_errors: dict[str, list[str]] = {}
    if data is not None:
        mode = data.get("mode", Mode.DELIVERY)
        pickup = data.get("pickup_store", "")
        code_id, guide_id = referral(request, store.brand_id, customer.pk)
        delivery = None
        if mode != Mode.PICKUP:
            delivery = orders.Delivery(
                recipient=data.get("recipient", ""),
                phone=data.get("phone", ""),
                city=city,
                address=data.get("address", ""),
                district=data.get("district", ""),
                latitude=_coord(data.get("latitude", "")),
                longitude=_coord(data.get("longitude", "")),
            )
        try:
            info = orders.checkout(
                store.brand_id,
                customer.pk,
                store_id=store.id,
                city=city,
                mode=mode,
                delivery=delivery,
                pickup_store_id=int(pickup) if pickup.isdigit() else None,
                origin=(store.latitude, store.longitude),
                guide_id=guide_id,
                code_id=code_id,
                client_key=data.get("client_key", "")[:80],
                note=data.get("note", ""),
                actor="customer",
            )
        except orders.OutOfStock as exc:
            errors = _out_of_stock_message(exc, current)
        except ValidationError as exc:
            field_errors = exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages}
            errors = [m for ms in field_errors.values() for m in ms]
        else:
            return redirect("mall_pay", store_code=store.code, number=info.number)
    context = {
        "store": store,
        "cart": current,
        "city": city,
        "form": data or {"mode": Mode.DELIVERY, "city": store.city},
        "pickups": _pickup_choices(store, city),
        "shipping_fen": rules.shipping_fen(Mode.DELIVERY, current.items_fen),
        "free_from_fen": rules.FREE_SHIPPING_FROM_FEN,
        "errors": errors,
        "field_errors": field_errors,
        "client_key": secrets.token_urlsafe(16),
    }
    return _page(request, "checkout.html", context, status=400 if errors else 200)


# --- Payment, orders, tracking ------------------------------------------------------------------------
def _own_order(store: StoreInfo, customer: Any, number: str) -> orders.OrderInfo:
    info = orders.customer_order(store.brand_id, customer.pk, number)
    if info is None:
        raise Http404("not found")
    return info


@access(PUBLIC)
@require_http_methods(["GET", "POST"])
def pay(request: HttpRequest, store_code: str, number: str, scan: Scan = None) -> HttpResponse:
    customer, store = _me(request, store_code, scan)
    if customer is None:
        return _need_customer(request, store)
    info = _own_order(store, customer, number)
    errors: list[str] = []
    if request.method == "POST":
        outcome = request.POST.get("outcome")
        key = request.POST.get("key", "")
        try:
            info = orders.pay(store.brand_id, number, key=key, succeed=outcome == "pay", actor="customer")
        except ValidationError as exc:
            errors = exc.messages
        else:
            if info.status != "created":
                return redirect("mall_order", store_code=store.code, number=number)
            errors = [_("The sandbox payment failed. Nothing was charged; try again.")]
    left = int((info.pay_by - clock.now()).total_seconds()) if info.pay_by else 0
    context = {
        "store": store,
        "order": info,
        "seconds_left": max(0, left),
        "minutes_left": max(0, left) // 60,
        "key": secrets.token_urlsafe(16),
        "errors": errors,
    }
    return _page(request, "pay.html", context, status=400 if errors else 200)


@access(PUBLIC)
@require_GET
def my_orders(request: HttpRequest, store_code: str, scan: Scan = None) -> HttpResponse:
    customer, store = _me(request, store_code, scan)
    if customer is None:
        return _need_customer(request, store)
    found = orders.orders_of_customer(store.brand_id, customer.pk)
    return _page(request, "orders.html", {"store": store, "orders": found})


def _parcels(info: orders.OrderInfo, stores: dict[int, StoreInfo]) -> list[dict[str, Any]]:
    return [
        {
            "f": f,
            "store": stores.get(f.store_id),
            "status_label": Fulfilment.Status(f.status).label,
            "lines": [ln for ln in info.lines if ln.fulfilment_id == f.id],
        }
        for f in info.fulfilments
    ]


@access(PUBLIC)
@require_http_methods(["GET", "POST"])
def order_detail(request: HttpRequest, store_code: str, number: str, scan: Scan = None) -> HttpResponse:
    customer, store = _me(request, store_code, scan)
    if customer is None:
        return _need_customer(request, store)
    info = _own_order(store, customer, number)
    errors: list[str] = []
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "cancel":
                orders.cancel_own(store.brand_id, customer.pk, number, reason=request.POST.get("reason", ""))
            elif action == "confirm":
                orders.confirm_receipt(store.brand_id, customer.pk, number)
            elif action == "return":
                orders.request_return(store.brand_id, customer.pk, number, reason=request.POST.get("reason", ""))
            else:
                raise ValidationError(_("Choose what to do with the order."))
        except ValidationError as exc:
            errors = exc.messages
            info = _own_order(store, customer, number)
        else:
            return redirect("mall_order", store_code=store.code, number=number)
    stores = _store_names(store.brand_id)
    now = clock.now()
    context = {
        "store": store,
        "order": info,
        "parcels": _parcels(info, stores),
        "pickup_store": stores.get(info.pickup_store_id) if info.pickup_store_id else None,
        "events": [(e, Status(e.status).label if e.status in Status.values else e.status) for e in info.events],
        "may_cancel": rules.customer_may_cancel(info.status, [f.status for f in info.fulfilments]),
        "may_confirm": any(f.status == rules.F_SHIPPED for f in info.fulfilments),
        "may_return": rules.may_request_return(info.status, info.completed_at, now),
        "errors": errors,
    }
    return _page(request, "order.html", context, status=400 if errors else 200)


@access(PUBLIC)
@require_POST
def reorder(request: HttpRequest, store_code: str, number: str, scan: Scan = None) -> HttpResponse:
    customer, store = _me(request, store_code, scan)
    if customer is None:
        return _need_customer(request, store)
    info = _own_order(store, customer, number)
    orders.fill_cart(store.brand_id, customer.pk, [(ln.sku_id, ln.quantity) for ln in info.lines], store_id=store.id)
    return redirect("mall_cart", store_code=store.code)


@access(PUBLIC)
@require_GET
def share(request: HttpRequest, store_code: str, product_code: str, scan: Scan = None) -> HttpResponse:
    """Her referral link to a product page: whoever opens it and orders is attributed to her
    link (and its guide)."""
    customer, store = _me(request, store_code, scan)
    if customer is None:
        return _need_customer(request, store)
    code = members.share_link(customer)
    product = reverse("mall_product", args=[store.code, product_code])
    link = settings.SIYU_PUBLIC_URL + product + "?" + urlencode({"c": code.token})
    return _page(request, "share.html", {"store": store, "link": link, "product_url": product})


def urlpatterns_with(scan: Scan) -> list[URLPattern]:
    """The routes, with the scan flow's module (``siyu.members.views_scan``) handed over."""
    who = {"scan": scan}
    return [
        path("m/<slug:store_code>/cart/", cart, who, name="mall_cart"),
        path("m/<slug:store_code>/cart/add/", cart_add, who, name="mall_cart_add"),
        path("m/<slug:store_code>/checkout/", checkout, who, name="mall_checkout"),
        path("m/<slug:store_code>/orders/", my_orders, who, name="mall_orders"),
        path("m/<slug:store_code>/orders/<str:number>/", order_detail, who, name="mall_order"),
        path("m/<slug:store_code>/orders/<str:number>/pay", pay, who, name="mall_pay"),
        path("m/<slug:store_code>/orders/<str:number>/reorder", reorder, who, name="mall_reorder"),
        path("m/<slug:store_code>/p/<str:product_code>/share/", share, who, name="mall_share"),
    ]
