"""The store mall (the mini-program stand-in, phone-sized, public): the landing that finds her store,
a page per store and a page per product. Views stay thin: what they show comes from
:mod:`siyu.catalog.storefront` (pages, listings, city stock) and :mod:`siyu.catalog.services`.

The visitor is known by three cookies of her browser: the store she used last (set whenever she
opens a store page), her location (set only when she asks for it with the "use my location"
button; it never leaves her browser except in that request) and the scan flow's customer cookie
(read through ``customer_of``, which the composition layer hands over from the customer domain).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, URLPattern, path, reverse
from django.utils.cache import get_conditional_response, patch_vary_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import check_for_language, get_language
from django.views.decorators.http import require_GET, require_http_methods

from siyu.catalog import services as catalog
from siyu.catalog import storefront
from siyu.org import services as org
from siyu.org.services import StoreInfo
from siyu.platform import clock
from siyu.platform.access import PUBLIC, access

CustomerOf = Callable[[HttpRequest], Any]  # the scan flow's customer of a request, or None

LAST_STORE_COOKIE = "siyu_mall_store"  # "<brand id>.<store id>" of the store she opened last
LOCATION_COOKIE = "siyu_mall_at"  # "<lat>,<lng>" when she shared her location
LAST_STORE_AGE = 400 * 24 * 3600  # browsers keep a cookie at most 400 days
LOCATION_AGE = 7 * 24 * 3600  # a location is a week old at most: she moves
KEEP = storefront.CACHE_SECONDS


# --- The visitor ---------------------------------------------------------------------------------
def _cookie_pair(request: HttpRequest, name: str, sep: str, kind: type) -> tuple[Any, Any] | None:
    raw = request.COOKIES.get(name, "")
    parts = raw.split(sep)
    if len(parts) != 2:
        return None
    try:
        return kind(parts[0]), kind(parts[1])
    except ValueError:
        return None


def location(request: HttpRequest) -> tuple[float, float] | None:
    """Her location (lat, lng), if she shared it and it is a place on Earth."""
    found = _cookie_pair(request, LOCATION_COOKIE, ",", float)
    if found is None or not (-90 <= found[0] <= 90 and -180 <= found[1] <= 180):
        return None
    return found


def last_store(request: HttpRequest) -> tuple[int, int] | None:
    """(brand id, store id) of the store she opened last."""
    return _cookie_pair(request, LAST_STORE_COOKIE, ".", int)


def _customer(request: HttpRequest, customer_of: CustomerOf | None) -> Any:
    return customer_of(request) if customer_of is not None else None


def _brand_hint(request: HttpRequest, customer_of: CustomerOf | None) -> int | None:
    """The brand she came with: her last store's, her customer record's, ``?brand=<code>``."""
    last = last_store(request)
    if last is not None:
        return int(last[0])
    customer = _customer(request, customer_of)
    if customer is not None:
        return int(customer.brand_id)
    code = request.GET.get("brand", "").strip()
    if code:
        return org.brand_by_code(code[:32])
    return None


def _remember_store(request: HttpRequest, response: HttpResponse, store: StoreInfo) -> None:
    value = f"{store.brand_id}.{store.id}"
    if request.COOKIES.get(LAST_STORE_COOKIE) != value:
        response.set_cookie(LAST_STORE_COOKIE, value, max_age=LAST_STORE_AGE, httponly=True, samesite="Lax")


def _language_switch(request: HttpRequest) -> HttpResponse | None:
    """``?lang=en`` or ``?lang=zh-hans`` on any mall page: remember the language, come back."""
    lang = request.GET.get("lang")
    if lang is None:
        return None
    params = request.GET.copy()
    params.pop("lang")
    response = HttpResponseRedirect(request.path + (f"?{params.urlencode()}" if params else ""))
    if check_for_language(lang) and lang in dict(settings.LANGUAGES):
        response.set_cookie(settings.LANGUAGE_COOKIE_NAME, lang, max_age=LAST_STORE_AGE, samesite="Lax")
    return response


def not_found(request: HttpRequest) -> HttpResponse:
    """A store that is closed, paused or unknown (or a product it does not sell): a 404 that offers
    the landing, where she finds an open store."""
    return render(
        request, "catalog/mall/not_found.html", {"landing": reverse("mall_landing") + "?choose=1"}, status=404
    )


def _open(request: HttpRequest, code: str, customer_of: CustomerOf | None) -> StoreInfo | HttpResponse:
    """The open store of a mall page, or the answer instead: the language switch's redirect, or a
    404 for a store that is not open."""
    switched = _language_switch(request)
    if switched is not None:
        return switched
    store = storefront.open_store(code, brand_hint=lambda: _brand_hint(request, customer_of))
    return store if store is not None else not_found(request)


def _route(name: str, store: StoreInfo) -> str:
    """The URL of a store's page that another part of the mall serves (cart, "me"): "" while that
    page does not exist (the cart comes with the orders pages)."""
    try:
        return reverse(name, args=[store.code])
    except NoReverseMatch:
        return ""


def _header(
    request: HttpRequest, store: StoreInfo, hours: storefront.Hours | None, near: tuple[float, float] | None
) -> dict[str, Any]:
    return {
        "store": store,
        "hours": hours,
        "distance_m": storefront.distance_to(store, near),
        "map_url": storefront.map_link(store.latitude, store.longitude, store.name),
        "cart_url": _route("mall_cart", store),
        "me_url": _route("mall_me", store),
        "locate_url": reverse("mall_locate") + "?" + urlencode({"next": request.path}),
    }


def _digest(*parts: object) -> str:
    return hashlib.sha1("|".join(str(p) for p in parts).encode(), usedforsecurity=False).hexdigest()


def _fresh(request: HttpRequest, etag: str) -> HttpResponse | None:
    """304 when her copy (``If-None-Match``) is current."""
    if "HTTP_IF_NONE_MATCH" not in request.META:
        return None
    answer = get_conditional_response(request, etag=etag)
    return answer if answer is not None and answer.status_code == 304 else None


def _cache_headers(response: HttpResponseBase, etag: str) -> None:
    # Her copy may be kept but is checked every time (cheap: a 304 when nothing changed); the page
    # differs by her cookies (distance, language, last store), so no shared cache keeps it.
    response["ETag"] = etag
    response["Cache-Control"] = "private, no-cache"
    patch_vary_headers(response, ("Cookie", "Accept-Language"))


def _page_number(request: HttpRequest) -> int:
    raw = request.GET.get("page", "1")
    return int(raw) if raw.isdigit() and 0 < int(raw) < 10_000 else 1


# --- Pages -----------------------------------------------------------------------------------------
@access(PUBLIC)
@require_GET
def mall_landing(request: HttpRequest, customer_of: CustomerOf | None = None) -> HttpResponse:
    """Her store: the one she used last, else the open store nearest to her location, else the store
    of the code or share link that brought her; ``?choose=1`` (or a city) shows the chooser."""
    switched = _language_switch(request)
    if switched is not None:
        return switched
    near = location(request)
    choosing = "choose" in request.GET or "city" in request.GET
    brand_id = _brand_hint(request, customer_of)
    if brand_id is None:  # an installation with one brand in the mall: that one
        brands = storefront.mall_brand_ids()
        brand_id = brands[0] if len(brands) == 1 else None
    if not choosing:
        found = _landing_store(request, brand_id, near, customer_of)
        if found is not None:
            return redirect("mall_store", store_code=found.code)
    city = request.GET.get("city", "").strip()[:40]
    context: dict[str, Any] = {
        "brand_known": brand_id is not None,
        "cities": storefront.cities(brand_id) if brand_id is not None else [],
        "city": city,
        "stores": storefront.open_stores(brand_id, city=city or None, near=near)[:30]
        if brand_id is not None and (city or near)
        else [],
        "near": near is not None,
        "locate_url": reverse("mall_locate"),
        "brand_code": request.GET.get("brand", ""),
    }
    return render(request, "catalog/mall/landing.html", context)


def _landing_store(
    request: HttpRequest, brand_id: int | None, near: tuple[float, float] | None, customer_of: CustomerOf | None
) -> StoreInfo | None:
    last = last_store(request)
    if last is not None:
        info = org.store_info(last[0], last[1])
        if info is not None and info.status == "open":
            return info
    if brand_id is not None and near is not None:
        ranked = storefront.open_stores(brand_id, near=near)
        if ranked:
            return ranked[0].store
    customer = _customer(request, customer_of)
    store_id = getattr(customer, "store_id", None)
    if customer is not None and store_id is not None:
        info = org.store_info(int(customer.brand_id), int(store_id))
        if info is not None and info.status == "open":
            return info
    return None


@access(PUBLIC)
@require_http_methods(["GET", "POST"])
def mall_locate(request: HttpRequest) -> HttpResponse:
    """Her location, from the browser (the "use my location" button posts ``lat`` and ``lng``): kept
    in her browser for a week, then on to ``next`` or to her nearest open store."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if not url_has_allowed_host_and_scheme(target, {request.get_host()}) or not target.startswith("/m/"):
        target = ""
    if request.method == "GET":
        return render(request, "catalog/mall/locate.html", {"next": target, "locate_url": reverse("mall_locate")})
    try:
        lat, lng = float(request.POST.get("lat", "")), float(request.POST.get("lng", ""))
        valid = -90 <= lat <= 90 and -180 <= lng <= 180
    except ValueError:
        valid = False
    if not valid:
        context = {"next": target, "locate_url": reverse("mall_locate"), "error": True}
        return render(request, "catalog/mall/locate.html", context, status=400)
    if not target:
        code = request.POST.get("brand", "")[:32]
        brand = org.brand_by_code(code) if code else _brand_hint(request, None)
        brands = [brand] if brand else storefront.mall_brand_ids()
        ranked = storefront.open_stores(brands[0], near=(lat, lng)) if len(brands) == 1 else []
        target = reverse("mall_store", args=[ranked[0].store.code]) if ranked else reverse("mall_landing") + "?choose=1"
    response = redirect(target)
    response.set_cookie(LOCATION_COOKIE, f"{lat:.5f},{lng:.5f}", max_age=LOCATION_AGE, httponly=True, samesite="Lax")
    return response


@access(PUBLIC)
@require_GET
def mall_store(request: HttpRequest, store_code: str, customer_of: CustomerOf | None = None) -> HttpResponse:
    """A store's page: its header (address, hours, distance, map, phone), its guides, its banners
    and featured products (its own first, then its template's) and its product list.

    Fast and cache-friendly: the page is put together from three kept pieces
    (:data:`storefront.CACHE_SECONDS`), each kept with the digest of its HTML — the frame (header
    and footer; per store, language and whether it is open now), the store's part (headline, guides,
    banners, featured; keyed by the page's version and what is shown now) and the product list
    (keyed by brand, store prices, language and query: shared by the stores that price alike). A
    visitor who shared her location gets her own frame (her distance). The ETag is the digest of the
    three digests: a 304 when her copy is current."""
    store = _open(request, store_code, customer_of)
    if isinstance(store, HttpResponse):
        return store
    q, category, page = request.GET.get("q", "").strip(), request.GET.get("category", "").strip(), _page_number(request)
    now = clock.now()
    hours = storefront.hours_at(store.opening_hours, now)
    near = location(request)
    lang = get_language()
    if near is None:
        frame_key = "mall:frame:" + _digest(store, lang, hours)
        frame = _kept(frame_key, lambda: _frame_html(request, store, hours, None))
    else:
        frame = _with_digest(_frame_html(request, store, hours, near))
    face_key = "mall:faceh:" + _digest(storefront.face_key(store, at=now), lang)
    face = _kept(face_key, lambda: _face_html(store, now))
    list_key = "mall:list:" + _digest(store.brand_id, storefront.price_group(store), lang, q, category, page)
    listing = _kept(list_key, lambda: _list_html(store, q=q, category=category, page=page))
    etag = '"' + _digest(frame[1], face[1], listing[1]) + '"'
    response = _fresh(request, etag)
    if response is None:
        top, bottom = frame[0].split(BODY, 1)
        response = HttpResponse(top + face[0] + listing[0] + bottom)
    _cache_headers(response, etag)
    _remember_store(request, response, store)
    return response


BODY = "<!--mall:body-->"  # where a store page's kept pieces go into its frame


def _with_digest(html: str) -> tuple[str, str]:
    return html, _digest(html)


def _kept(key: str, build: Callable[[], str]) -> tuple[str, str]:
    """A piece of HTML kept in the cache with its digest (built when missing)."""
    found = cache.get(key)
    if found is None:
        found = _with_digest(build())
        cache.set(key, found, KEEP)
    return found


def _frame_html(
    request: HttpRequest, store: StoreInfo, hours: storefront.Hours | None, near: tuple[float, float] | None
) -> str:
    # Rendered without the request: nothing on this page depends on who she is but her distance.
    context = {**_header(request, store, hours, near), "body": BODY}
    return render_to_string("catalog/mall/store.html", context)


def _face_html(store: StoreInfo, now: dt.datetime) -> str:
    return render_to_string("catalog/mall/_face.html", {"face": storefront.face(store, at=now), "store": store})


def _list_html(store: StoreInfo, *, q: str, category: str, page: int) -> str:
    listing = storefront.listing(store, q=q, category=category, page=page)
    context = {"listing": listing, "categories": storefront.categories(store.brand_id), "pages": _pager(listing)}
    return render_to_string("catalog/mall/_listing.html", context)


def _pager(listing: storefront.Listing) -> dict[str, str]:
    def link(page: int) -> str:
        params = {k: v for k, v in (("q", listing.q), ("category", listing.category)) if v}
        if page > 1:
            params["page"] = str(page)
        return "?" + urlencode(params) if params else "?"

    return {
        "prev": link(listing.page - 1) if listing.page > 1 else "",
        "next": link(listing.page + 1) if listing.page < listing.pages else "",
    }


def _chosen_sku(request: HttpRequest, detail: catalog.ProductDetail) -> tuple[str, str, catalog.SkuDetail | None]:
    color = request.GET.get("color", "")
    size = request.GET.get("size", "")
    raw = request.GET.get("sku", "")
    by_id = {s.id: s for s in detail.skus}
    if raw.isdigit() and int(raw) in by_id:
        sku = by_id[int(raw)]
        return sku.color, sku.size, sku
    if len(detail.colors) == 1:
        color = detail.colors[0]
    if len(detail.sizes) == 1:
        size = detail.sizes[0]
    color = color if color in detail.colors else ""
    size = size if size in detail.sizes else ""
    return color, size, detail.sku(color, size) if color and size else None


@access(PUBLIC)
@require_GET
def mall_product(
    request: HttpRequest, store_code: str, product_code: str, customer_of: CustomerOf | None = None
) -> HttpResponse:
    """A product at a store: pictures, description, colour and size, the price here, what the city's
    stores hold (this one, how many others, the nearest holding the chosen SKU), add to cart, share."""
    store = _open(request, store_code, customer_of)
    if isinstance(store, HttpResponse):
        return store
    detail = catalog.product_detail(store.brand_id, product_code, store_id=store.id)
    if detail is None or not detail.card.on_sale:
        return not_found(request)
    color, size, sku = _chosen_sku(request, detail)
    near = location(request)
    stock = storefront.availability(store, [s.id for s in detail.skus], chosen=sku.id if sku else None, near=near)

    def pick(c: str, s: str) -> str:
        return "?" + urlencode({k: v for k, v in (("color", c), ("size", s)) if v})

    colors = [{"name": c, "url": pick(c, size if detail.sku(c, size) else ""), "on": c == color} for c in detail.colors]
    sizes = [
        {
            "name": s,
            "url": pick(color, s),
            "on": s == size,
            "exists": not color or detail.sku(color, s) is not None,
            "units": stock.city_units.get(getattr(detail.sku(color, s), "id", 0), 0) if color else None,
        }
        for s in detail.sizes
    ]
    context = {
        **_header(request, store, storefront.hours_at(store.opening_hours, clock.now()), near),
        "detail": detail,
        "card": detail.card,
        "sku": sku,
        "color": color,
        "size": size,
        "colors": colors,
        "sizes": sizes,
        "stock": stock,
        "city_units": stock.city_units.get(sku.id, 0) if sku else sum(stock.city_units.values()),
        "here_units": stock.here.get(sku.id, 0) if sku else sum(stock.here.values()),
        "holders": stock.holders[:5],
        "holder_count": len(stock.holders),
        "add_url": _route("mall_cart_add", store),
        "share_url": settings.SIYU_PUBLIC_URL + request.path,
        "back_url": reverse("mall_store", args=[store.code]),
    }
    response = render(request, "catalog/mall/product.html", context)
    response["Cache-Control"] = "private, no-cache"
    _remember_store(request, response, store)
    return response


def urlpatterns_with(customer_of: CustomerOf | None) -> list[URLPattern]:
    """The mall's routes; ``customer_of`` is the scan flow's customer of a request (handed over by
    the composition layer, ``siyu/urls.py``: the catalog never imports the customer domain's
    views)."""
    who = {"customer_of": customer_of}
    return [
        path("m/", mall_landing, who, name="mall_landing"),
        path("m/locate/", mall_locate, name="mall_locate"),
        path("m/<slug:store_code>/", mall_store, who, name="mall_store"),
        path("m/<slug:store_code>/p/<str:product_code>/", mall_product, who, name="mall_product"),
    ]
