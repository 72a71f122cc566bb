"""REST endpoints of orders for the mini-program backend and other systems: place an order for a
customer (allocation to the nearest stores and a hold on the stock), pay it in the sandbox, read an
order, list a customer's orders. Money is integer fen.

Placing needs ``orders.place``; the store the order is placed from must be within the caller's
reach (a store token places from its own store). The customer may be any customer of the brand (the
mall is brand-wide). Reading needs ``orders.view`` and the order or customer within reach.
Not enough stock answers 422 with one error per SKU (``lines``) and changes nothing."""

from typing import Literal

from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Router, Schema

from siyu.catalog import services as catalog
from siyu.members import services as members
from siyu.orders import services as orders
from siyu.org import services as org
from siyu.org.services import Perm
from siyu.platform.api import Created, Input, answers, created, current_scope, requires

router = Router()


class LineIn(Input):
    sku_id: int | None = Field(None, description="The SKU's id; or give `sku_code`.")
    sku_code: str | None = Field(None, max_length=40, description="The SKU's code; or give `sku_id`.")
    quantity: int = Field(ge=1, le=99)


class DeliveryIn(Input):
    recipient: str = Field(max_length=40)
    phone: str = Field(max_length=20, description="A mainland mobile number.")
    city: str = Field(max_length=40)
    district: str = Field("", max_length=40)
    address: str = Field(max_length=200, description="Street and number.")
    latitude: float | None = Field(None, ge=-90, le=90)
    longitude: float | None = Field(None, ge=-180, le=180)


class OrderIn(Input):
    customer_id: int
    store: str = Field(max_length=32, description="The code of the store whose page the order is placed from.")
    lines: list[LineIn] = Field(min_length=1, max_length=50)
    mode: Literal["delivery", "pickup"] = "delivery"
    delivery: DeliveryIn | None = Field(None, description="Required for delivery.")
    pickup_store: str | None = Field(None, max_length=32, description="The code of the pickup store (pickup).")
    client_key: str = Field(
        "", max_length=80, description="Your idempotency key: the same key again returns the same order."
    )
    note: str = Field("", max_length=200)


class PayIn(Input):
    key: str = Field(min_length=1, max_length=80, description="Your payment key: the same key is the same payment.")
    succeed: bool = Field(True, description="Sandbox: false makes the payment fail.")


class LineOut(Schema):
    sku_id: int
    sku_code: str
    product_code: str
    product_name: str
    color: str
    size: str
    quantity: int
    unit_price_fen: int
    amount_fen: int
    fulfilment_id: int | None


class FulfilmentOut(Schema):
    id: int
    store_id: int
    status: str
    distance_m: int | None = Field(description="From the delivery address (or the store) to this store.")
    carrier: str
    tracking_no: str
    pickup_code: str


class EventOut(Schema):
    status: str
    note: str
    at: str


class OrderOut(Schema):
    id: int
    number: str
    status: str
    mode: str
    channel: str
    customer_id: int
    store_id: int
    guide_id: int | None
    code_id: int | None
    pickup_store_id: int | None
    city: str
    items_fen: int
    shipping_fen: int
    total_fen: int
    created_at: str
    pay_by: str | None = Field(description="Unpaid by then, the order is cancelled and its stock freed.")
    paid_at: str | None
    lines: list[LineOut]
    fulfilments: list[FulfilmentOut]
    events: list[EventOut]


def _out(info: orders.OrderInfo) -> dict[str, object]:
    def iso(value: object) -> str | None:
        return value.isoformat() if value is not None else None  # type: ignore[attr-defined]

    return {
        **{k: getattr(info, k) for k in OrderOut.model_fields if k not in {"lines", "fulfilments", "events"}},
        "created_at": iso(info.created_at),
        "pay_by": iso(info.pay_by),
        "paid_at": iso(info.paid_at),
        "lines": [ln.__dict__ for ln in info.lines],
        "fulfilments": [f.__dict__ for f in info.fulfilments],
        "events": [{"status": e.status, "note": e.note, "at": iso(e.at)} for e in info.events],
    }


def _store_id(brand_id: int, code: str | None, field: str) -> int:
    found = next((s.id for s in org.stores_with_code(code or "") if s.brand_id == brand_id), None)
    if found is None:
        raise ValidationError({field: _("Unknown store code.")})
    return found


def _lines(brand_id: int, lines: list[LineIn]) -> list[orders.NewLine]:
    wanted = [ln.sku_code for ln in lines if ln.sku_code]
    codes = catalog.sku_ids_by_code(brand_id, wanted) if wanted else {}
    out = []
    for i, ln in enumerate(lines):
        sku = ln.sku_id if ln.sku_id is not None else codes.get(ln.sku_code or "")
        if sku is None:
            raise ValidationError({f"lines.{i}": _("Give a known sku_id or sku_code.")})
        out.append(orders.NewLine(sku, ln.quantity))
    return out


@router.post(
    "/orders",
    response=answers(OrderOut, 201),
    summary="Place an order for a customer",
    description=(
        "Prices the lines at the store, allocates each to the nearest store of the city that holds it "
        "(or the pickup store) and holds the stock until `pay_by`. Not enough stock: 422 with the units "
        "missing per SKU, nothing held."
    ),
    tags=["orders"],
)
@requires(Perm.ORDERS_PLACE)
def order_place(request: HttpRequest, payload: OrderIn) -> "Created[dict[str, object]]":
    scope = current_scope(request)
    store_id = _store_id(scope.brand_id, payload.store, "store")
    if scope.store_id is not None and scope.store_id != store_id:
        raise ValidationError({"store": _("This token places orders from its own store only.")})
    lines = _lines(scope.brand_id, payload.lines)
    delivery = orders.Delivery(**payload.delivery.dict()) if payload.delivery is not None else None
    pickup = _store_id(scope.brand_id, payload.pickup_store, "pickup_store") if payload.mode == "pickup" else None
    try:
        info = orders.place_order(
            scope.brand_id,
            payload.customer_id,
            store_id=store_id,
            lines=lines,
            mode=payload.mode,
            delivery=delivery,
            pickup_store_id=pickup,
            client_key=payload.client_key,
            note=payload.note,
            channel="api",
            actor=scope.label,
        )
    except orders.OutOfStock as exc:
        found = catalog.sku_prices(scope.brand_id, exc.short)
        raise ValidationError(
            {
                "lines": [
                    _("%(sku)s: %(n)d unit(s) short")
                    % {"sku": found[sku].sku_code if sku in found else sku, "n": missing}
                    for sku, missing in sorted(exc.short.items())
                ]
            }
        ) from exc
    return created(_out(info))


@router.post(
    "/orders/{number}/pay",
    response=answers(OrderOut),
    summary="Pay an order in the sandbox",
    description="A successful payment sells the held stock and hands the order to its stores.",
    tags=["orders"],
)
@requires(Perm.ORDERS_PLACE)
def order_pay(request: HttpRequest, number: str, payload: PayIn) -> dict[str, object]:
    scope = current_scope(request)
    if orders.order_info(scope.brand_id, number) is None:
        raise Http404("not found")
    return _out(orders.pay(scope.brand_id, number, key=payload.key, succeed=payload.succeed, actor=scope.label))


@router.get("/orders/{number}", response=answers(OrderOut), summary="Get an order", tags=["orders"])
@requires(Perm.ORDERS_VIEW)
def order_get(request: HttpRequest, number: str) -> dict[str, object]:
    return _out(orders.staff_order(current_scope(request), number))


@router.get(
    "/customers/{customer_id}/orders",
    response=answers(list[OrderOut]),
    summary="A customer's orders, newest first (at most 50)",
    tags=["orders"],
)
@requires(Perm.ORDERS_VIEW)
def customer_order_list(request: HttpRequest, customer_id: int) -> list[dict[str, object]]:
    scope = current_scope(request)
    members.customer_row(scope, customer_id)  # 404 outside the caller's reach
    return [_out(o) for o in orders.orders_of_customer(scope.brand_id, customer_id)]
