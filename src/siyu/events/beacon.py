"""The mall beacon's endpoint (``POST /m/<store>/beacon/``, public): views, shares and clicks that
``events/beacon.js`` sends from the store mall's pages, for the customer the mall already knows
(the scan flow's signed cookie, handed over by the composition layer: events never import the
customer domain's views). Nobody else's events are accepted: an unknown visitor's batch is answered
204 and dropped. At most 50 events a request and 120 a minute per customer (Django's cache)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import orjson
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import URLPattern, path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from siyu.events import services
from siyu.org import services as org
from siyu.platform import clock
from siyu.platform.access import PUBLIC, access

CustomerOf = Callable[[HttpRequest], Any]
TYPES = ("view", "share", "click")
MAX_EVENTS = 50
PER_MINUTE = 120
MAX_BODY = 64 * 1024


def _allowed(customer_id: int, n: int, now: dt.datetime) -> bool:
    """The customer's budget of events this minute (shared by the server's processes via the cache)."""
    key = f"siyu:beacon:{customer_id}:{int(now.timestamp()) // 60}"
    cache.add(key, 0, timeout=120)
    try:
        used = cache.incr(key, n)
    except ValueError:  # evicted between add and incr
        cache.set(key, n, timeout=120)
        used = n
    return used <= PER_MINUTE


def _event(raw: Any, customer_id: int, store_id: int, now: dt.datetime) -> dict[str, Any] | None:
    if not isinstance(raw, dict) or raw.get("type") not in TYPES:
        return None
    event_id = raw.get("event_id")
    if not isinstance(event_id, str) or not event_id.startswith("web-") or len(event_id) > 64:
        return None
    at = raw.get("at") if isinstance(raw.get("at"), str) else now.isoformat()
    event: dict[str, Any] = {"event_id": event_id, "type": raw["type"], "at": at, "customer_id": customer_id,
                             "store": store_id}  # fmt: skip
    page = raw.get("page")
    if isinstance(page, str) and page:
        event["properties"] = {"page": page[:200], "via": "beacon"}
    product = raw.get("product")
    if isinstance(product, str) and 0 < len(product) <= 64:
        event["product"] = product
    return event


@csrf_exempt  # sendBeacon cannot send a CSRF token; only the cookie's own customer is recorded
@access(PUBLIC)
@require_POST
def beacon(request: HttpRequest, store_code: str, customer_of: CustomerOf | None = None) -> HttpResponse:
    customer = customer_of(request) if customer_of else None
    if customer is None or len(request.body) > MAX_BODY:
        return HttpResponse(status=204)
    store = next((s for s in org.stores(customer.brand_id) if s.code == store_code), None)
    if store is None:
        return HttpResponse(status=204)
    try:
        body = orjson.loads(request.body)
    except orjson.JSONDecodeError:
        return JsonResponse({"accepted": 0}, status=400)
    raw = body.get("events") if isinstance(body, dict) else None
    if not isinstance(raw, list) or not raw:
        return JsonResponse({"accepted": 0}, status=400)
    raw = raw[:MAX_EVENTS]
    now = clock.now()
    if not _allowed(int(customer.pk), len(raw), now):
        refused = JsonResponse({"accepted": 0, "detail": "too many events; retry after the minute"}, status=429)
        refused["Retry-After"] = str(60 - int(now.timestamp()) % 60)  # seconds until the next minute's budget
        return refused
    events = [e for e in (_event(r, int(customer.pk), store.id, now) for r in raw) if e is not None]
    # A product the catalog does not know (a stale page) leaves the rest of the batch standing.
    result = services.ingest(customer.brand_id, events, now=now) if events else services.IngestResult()
    return JsonResponse({"accepted": result.accepted, "duplicates": result.duplicates})


def urlpatterns_with(customer_of: CustomerOf | None) -> list[URLPattern]:
    """The beacon's route; ``customer_of`` is the scan flow's customer of a request (handed over by
    the composition layer, ``siyu/urls.py``)."""
    return [path("m/<slug:store_code>/beacon/", beacon, {"customer_of": customer_of}, name="mall_beacon")]
