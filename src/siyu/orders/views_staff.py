"""The stores' order screens in the guide workbench (phone first): the store's queue of parcels by
state (to pick, packed, ready for pickup, shipped) with counts and unread notifications, a parcel's
page with its lines and recipient and one-tap actions (packed, ship with carrier and tracking
number, set out for pickup, hand over against the customer's pickup code, delivered), and for the
store manager the returns waiting for a decision and cancelling with a reason.

The recipient is shown in full to the fulfilling store's staff (they ship to her) and masked to
anyone else. Every action goes through :mod:`siyu.orders.services`, which checks the permission
and the reach (a parcel outside it is a 404)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from siyu.orders import services
from siyu.orders.models import Fulfilment, Status
from siyu.org import services as org
from siyu.org.services import Perm
from siyu.platform.access import access, require_scope
from siyu.platform.pagination import paginate
from siyu.platform.tenancy import Scope

GUIDE = "guide:login"
RETURNS = "returns"


def _store_id(scope: Scope) -> int:
    if scope.store_id is None:  # the workbench is for staff of a store
        raise Http404
    return scope.store_id


def error_text(exc: ValidationError) -> str:
    """A service's ``ValidationError`` as one line for a flash message."""
    if hasattr(exc, "message_dict"):
        return " ".join(m for msgs in exc.message_dict.values() for m in msgs)
    return " ".join(exc.messages)


def flash(request: HttpRequest, call: Callable[[], object], done: str) -> None:
    """Run a service verb and tell the viewer how it went: its error, or ``done``."""
    try:
        call()
    except ValidationError as exc:
        messages.error(request, error_text(exc))
    else:
        messages.success(request, done)


def decide_return_from(request: HttpRequest, scope: Scope, number: str) -> None:
    """Receive the returned goods (restock, refund) or refuse the return, as the form says."""
    accept = request.POST.get("decision") == "accept"
    flash(
        request,
        lambda: services.decide_return(scope, number, accept=accept, note=request.POST.get("note", "")),
        _("Return received: the goods are back in stock and the customer refunded.")
        if accept
        else _("Return refused: the customer is told why."),
    )


@access(Perm.GUIDE_WORKBENCH, login_url=GUIDE)
@access(Perm.ORDERS_FULFIL, login_url=GUIDE)
@require_GET
def store_orders(request: HttpRequest) -> HttpResponse:
    """The store's parcels in one working state (a tab per state, with counts), oldest first."""
    scope = require_scope(request)
    store_id = _store_id(scope)
    counts = services.queue_counts(scope, store_id)
    may_decide = scope.can(Perm.ORDERS_MANAGE)
    tab = request.GET.get("status", services.QUEUE[0])
    if tab not in counts and not (tab == RETURNS and may_decide):
        tab = services.QUEUE[0]
    labels = dict(Fulfilment.Status.choices)
    tabs: list[tuple[str, Any, int]] = [(s, labels[s], counts[s]) for s in services.QUEUE]
    returns = services.visible_orders(scope, status=Status.RETURN_REQUESTED, store_id=store_id) if may_decide else None
    if returns is not None:
        tabs.append((RETURNS, _("Returns"), returns.count()))
    if tab == RETURNS and returns is not None:
        page = paginate(request, returns, 30)
        rows: list[Any] = [("order", o) for o in page.object_list]
    else:
        page = paginate(request, services.store_queue(scope, store_id, [tab]), 30)
        rows = [("parcel", f) for f in page.object_list]
    context = {
        "tabs": tabs,
        "tab": tab,
        "rows": rows,
        "page": page,
        "qs": f"status={tab}",
        "unread": services.unread_for_store(scope, store_id),
    }
    return render(request, "orders/staff/queue.html", context)


@access(Perm.GUIDE_WORKBENCH, login_url=GUIDE)
@access(Perm.ORDERS_FULFIL, login_url=GUIDE)
@require_GET
def parcel_detail(request: HttpRequest, pk: int) -> HttpResponse:
    scope = require_scope(request)
    store_id = _store_id(scope)
    p = services.parcel(scope, pk)
    ours = p.fulfilment.store_id == store_id
    if ours:
        services.mark_read(scope, store_id, p.order.id)
    store = org.store_info(scope.brand_id, p.fulfilment.store_id)
    context = {
        "p": p,
        "ours": ours,
        "store": store,
        "recipient": services.recipient_of(p.order.id, masked=not ours),
        "may_manage": scope.can(Perm.ORDERS_MANAGE),
        "pending_return": p.order.status == Status.RETURN_REQUESTED,
        "history": [(e, Status(e.status).label if e.status in Status.values else e.status) for e in p.order.events],
    }
    return render(request, "orders/staff/parcel.html", context)


def _act(request: HttpRequest, scope: Scope, pk: int) -> Callable[[], object] | None:
    action = request.POST.get("action", "")
    post = request.POST
    verbs: dict[str, Callable[[], object]] = {
        "pack": lambda: services.pack(scope, pk),
        "ship": lambda: services.ship(
            scope, pk, carrier=post.get("carrier", ""), tracking_no=post.get("tracking_no", "")
        ),
        "pickup": lambda: services.set_out_for_pickup(scope, pk),
        "hand_over": lambda: services.hand_over(scope, pk, pickup_code=post.get("pickup_code", "")),
        "delivered": lambda: services.mark_delivered(scope, pk),
        "cancel": lambda: services.cancel_by_staff(
            scope, services.parcel(scope, pk).order.number, reason=post.get("reason", "")
        ),
    }
    return verbs.get(action)


DONE_MESSAGES = {
    "pack": gettext_lazy("Packed."),
    "ship": gettext_lazy("Shipped: the customer is told the tracking number."),
    "pickup": gettext_lazy("Ready for pickup: the customer is told."),
    "hand_over": gettext_lazy("Handed over."),
    "delivered": gettext_lazy("Marked delivered."),
    "cancel": gettext_lazy("The order is cancelled and the customer refunded."),
}


@access(Perm.GUIDE_WORKBENCH, login_url=GUIDE)
@access(Perm.ORDERS_FULFIL, login_url=GUIDE)
@require_POST
def parcel_action(request: HttpRequest, pk: int) -> HttpResponse:
    """One tap on a parcel: packed, ship, set out for pickup, hand over, delivered, or (store
    manager) cancel the order with a reason."""
    scope = require_scope(request)
    verb = _act(request, scope, pk)
    if verb is None:
        messages.error(request, _("Unknown action."))
    else:
        flash(request, verb, str(DONE_MESSAGES[request.POST["action"]]))
    return redirect(reverse("guide:parcel_detail", args=[pk]))


@access(Perm.GUIDE_WORKBENCH, login_url=GUIDE)
@access(Perm.ORDERS_MANAGE, login_url=GUIDE)
@require_POST
def return_decide(request: HttpRequest, number: str) -> HttpResponse:
    """The store manager receives the returned goods (restock and refund) or refuses the return."""
    scope = require_scope(request)
    decide_return_from(request, scope, number)
    back = services.parcel_of(scope, number, _store_id(scope))
    return redirect(
        reverse("guide:parcel_detail", args=[back]) if back else reverse("guide:store_orders") + f"?status={RETURNS}"
    )


guide_urlpatterns = [
    path("orders/", store_orders, name="store_orders"),
    path("orders/parcels/<int:pk>/", parcel_detail, name="parcel_detail"),
    path("orders/parcels/<int:pk>/act/", parcel_action, name="parcel_action"),
    path("orders/returns/<str:number>/", return_decide, name="return_decide"),
]
